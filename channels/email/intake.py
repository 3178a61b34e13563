"""One inbound mail through the door: parse, recognise robots, thread, record, answer.

Every path that brings mail in (IMAP, the drop folder, `stik email import`) calls
`ingest` with the raw bytes; re-ingesting the same message is harmless because the
Message-ID (or a hash of the bytes) is the contact's external id.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import structlog
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.email.models import FailingAddress, OutgoingMail
from channels.email.outbound import (
    Draft,
    Transport,
    brand_of,
    claim_acknowledgement,
    deliver_one,
    queue_mail,
)
from channels.email.parse import ParsedMail, parse_mail
from channels.email.reply import split_reply, ticket_numbers
from channels.email.robots import Robot, classify, delivery_report, is_noreply
from channels.email.settings import EmailSettings, MailboxSettings
from interactions.contacts import (
    InboundContact,
    RecordedContact,
    insert_ignoring_conflicts,
    record_contact,
)
from interactions.models import Activity, Channel, Partner, Ticket, TicketStatus
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

MAX_HTML = 512 * 1024
#: A Date header older than this before arrival is not believed for the ticket and SLA.
STALE_DATE = timedelta(days=7)
_CLOSED = (TicketStatus.RESOLVED, TicketStatus.CLOSED)


@dataclass(frozen=True)
class Ingested:
    """What became of one mail."""

    activity_id: int
    created: bool
    ticket_number: str | None
    robot: Robot | None = None
    acknowledged: bool = False
    refused: str | None = None


@dataclass(frozen=True)
class Thread:
    ticket_id: int | None
    number: str
    how: str  # "references", "subject" or "follows" (a new ticket after a closed one)


async def ingest(
    store: Store,
    raw: bytes,
    settings: EmailSettings,
    mailbox: MailboxSettings | None = None,
    *,
    size: int | None = None,
    received_at: datetime | None = None,
    transport: Transport | None = None,
    parsed: ParsedMail | None = None,
) -> Ingested:
    """Record one raw mail as an activity, on the right ticket; never raises on content.

    `size` is the mail's full size where only its header was fetched (IMAP, over the
    limit); a mail over `max_message_bytes` is recorded with its header only. `parsed`
    is the mail already parsed by the caller from the same `raw`.
    """
    received_at = received_at or utcnow()
    size = len(raw) if size is None else size
    if settings.fax_gateways and size <= settings.max_message_bytes:
        faxed = await _as_fax(store, raw, settings)
        if faxed is not None:
            return faxed
    refused = None
    if size > settings.max_message_bytes:
        refused = (
            f"message of {size / 2**20:.1f} MB exceeds the limit of "
            f"{settings.max_message_bytes / 2**20:.0f} MB; headers kept, body refused"
        )
        log.warning("email_refused", size=size, limit=settings.max_message_bytes)
        # TODO(#4): no notice goes to the sender yet; the activity carries the reason.
        kept = _header_block(raw)
        mail = parse_mail(kept, received_at)
        mail.text, mail.html, mail.attachments = refused, None, []
    else:
        mail = parsed or parse_mail(raw, received_at)
        kept = raw

    robot = classify(mail, settings)
    fetched_from, mailbox = mailbox, route(mail, settings, mailbox)
    thread = await find_thread(store, mail, robot, settings, received_at)
    contact = _contact(mail, kept, robot, mailbox, thread, refused)
    if contact.occurred_at < received_at - STALE_DATE:
        # A sender's clock years behind (or an old export) must not date the ticket and
        # its SLA back: the mail counts from when it arrived, its header is kept.
        contact = replace(
            contact,
            occurred_at=received_at,
            meta={**contact.meta, "date_header": contact.occurred_at.isoformat()},
        )
    if fetched_from is not None:
        contact.meta["seen_in"] = [fetched_from.name]
    recorded = await record_contact(store, contact)

    if not recorded.created:
        await _note_mailbox(store, recorded.activity_id, fetched_from)
        return Ingested(recorded.activity_id, False, recorded.ticket_number, robot)
    if robot is Robot.BOUNCE:
        await _record_bounce(store, mail, recorded.activity_id, received_at)
    acknowledged = False
    if _wants_acknowledgement(mail, robot, thread, recorded, settings, refused):
        acknowledged = await acknowledge(store, settings, mail, recorded, mailbox, transport)
    return Ingested(
        recorded.activity_id, True, recorded.ticket_number, robot, acknowledged, refused
    )


async def _as_fax(store: Store, raw: bytes, settings: EmailSettings) -> Ingested | None:
    """Record a fax gateway's mail as the faxes it carries; None for any other mail.

    The gateway is a machine: its mail is never acknowledged nor threaded as email.
    """
    from channels.fax.gateway import record_gateway_mail

    faxes = await record_gateway_mail(store, raw, settings.fax_gateways)
    if faxes is None:
        return None
    log.info("email_fax_gateway", faxes=len(faxes), created=sum(f.created for f in faxes))
    first = faxes[0]
    return Ingested(first.activity_id, first.created, first.ticket_number)


def _header_block(raw: bytes) -> bytes:
    head = raw[: 256 * 1024]
    for separator in (b"\r\n\r\n", b"\n\n"):
        end = head.find(separator)
        if end >= 0:
            return head[: end + len(separator)]
    return head


def route(
    mail: ParsedMail, settings: EmailSettings, fetched_from: MailboxSettings | None
) -> MailboxSettings | None:
    """Choose the mailbox whose rules apply: the first configured one the mail names.

    A mail addressed to two watched mailboxes is routed the same way whichever of
    them is read first, so both copies agree on one activity and one queue.
    """
    named = {a.lower() for a in (*mail.to, *mail.cc)}
    for mailbox in settings.mailboxes:
        if mailbox.address.lower() in named:
            return mailbox
    return fetched_from


async def find_thread(
    store: Store,
    mail: ParsedMail,
    robot: Robot | None,
    settings: EmailSettings,
    now: datetime,
) -> Thread | None:
    """Find the ticket a mail answers: by Message-IDs first, then by a quoted number."""
    ids = mail.thread_ids
    if robot is Robot.BOUNCE and (original := delivery_report(mail).original_message_id):
        ids = [original, *ids]
    async with store.sessions() as session:
        ticket = await _by_message_ids(session, ids)
        how = "references"
        if ticket is None and robot is None:
            ticket = await _by_subject_number(session, mail)
            how = "subject"
    if ticket is None:
        return None
    if robot is None and ticket.status in _CLOSED:
        closed_at = ticket.closed_at or ticket.resolved_at or ticket.updated_at
        if closed_at < now - timedelta(days=settings.reopen_days):
            return Thread(None, ticket.number, "follows")
    return Thread(ticket.id, ticket.number, how)


async def _by_message_ids(session: AsyncSession, ids: list[str]) -> Ticket | None:
    if not ids:
        return None
    rows = (
        await session.execute(
            select(Activity.external_id, Activity.ticket_id).where(
                Activity.channel == Channel.EMAIL,
                Activity.external_id.in_(ids[:100]),
                Activity.ticket_id.is_not(None),
            )
        )
    ).all()
    found = {external_id: ticket_id for external_id, ticket_id in rows}
    for message_id in ids:
        if message_id in found:
            return await session.get(Ticket, found[message_id])
    return None


async def _by_subject_number(session: AsyncSession, mail: ParsedMail) -> Ticket | None:
    """A ticket number in the subject counts only from someone already on that ticket."""
    sender = (mail.sender_address or "").lower()
    if not sender:
        return None
    for number in ticket_numbers(mail.subject)[:5]:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        if ticket is None:
            continue
        known = await session.scalar(
            select(func.count())
            .select_from(Activity)
            .where(
                Activity.ticket_id == ticket.id,
                or_(
                    func.lower(Activity.sender_address) == sender,
                    func.lower(Activity.recipient) == sender,
                ),
            )
        )
        if known:
            return ticket
    return None


def _contact(
    mail: ParsedMail,
    raw: bytes,
    robot: Robot | None,
    mailbox: MailboxSettings | None,
    thread: Thread | None,
    refused: str | None,
) -> InboundContact:
    parts = split_reply(mail.text)
    meta: dict[str, object] = {
        "message_id": mail.message_id,
        "in_reply_to": list(mail.in_reply_to),
        "references": list(mail.references[-50:]),
        "to": list(mail.to[:50]),
        "cc": list(mail.cc[:50]),
        "new_text": parts.new_text,
        "signature": parts.signature,
        "notes": list(mail.notes),
    }
    if mail.html is not None:
        meta["html"] = mail.html[:MAX_HTML]
    if mailbox is not None:
        # TODO(#4): the mailbox's queue is a hint in meta; setting Ticket.queue_id is
        # routing's job, which does not exist on this branch yet.
        meta.update(mailbox=mailbox.name, queue=mailbox.queue)
    if robot is not None:
        meta["robot"] = robot.value
        if robot is not Robot.INTERNAL:
            # Triage reads this and files the message as automatic, not as a request.
            meta["auto_submitted"] = robot.value
    if robot is Robot.INTERNAL:
        meta["internal_note"] = True
    if thread is not None:
        # TODO(#4): a new ticket after a long-closed one is linked through this meta
        # entry only; the data model has no ticket-to-ticket link yet.
        meta["thread"] = {"ticket": thread.number, "how": thread.how}
    if refused is not None:
        meta["refused"] = refused
    return InboundContact(
        channel=Channel.EMAIL,
        external_id=mail.message_id,
        occurred_at=mail.date,
        sender_address=mail.sender_address,
        sender_name=mail.sender_name,
        recipient=mailbox.address if mailbox else (mail.to[0] if mail.to else None),
        subject=mail.subject,
        text=mail.text,
        attachments=tuple(mail.attachments),
        raw=raw,
        legal_entity=mailbox.legal_entity if mailbox else None,
        meta=meta,
        ticket_id=thread.ticket_id if thread else None,
        automatic=robot is not None or refused is not None,
    )


async def _note_mailbox(store: Store, activity_id: int, mailbox: MailboxSettings | None) -> None:
    """Record on the activity that one more watched mailbox received the same mail."""
    if mailbox is None:
        return
    async with store.sessions() as session, session.begin():
        activity = await session.get(Activity, activity_id, with_for_update=True)
        if activity is None:
            return
        seen = list(activity.meta.get("seen_in") or [])
        if mailbox.name not in seen:
            activity.meta = {**activity.meta, "seen_in": [*seen, mailbox.name]}


async def _record_bounce(
    store: Store, mail: ParsedMail, bounce_activity_id: int, now: datetime
) -> None:
    """Mark the bounced mail's activity "delivery failed" and flag the failing addresses."""
    report = delivery_report(mail)
    async with store.sessions() as session, session.begin():
        original = None
        if report.original_message_id:
            original = await session.scalar(
                select(Activity)
                .where(
                    Activity.channel == Channel.EMAIL,
                    Activity.external_id == report.original_message_id,
                )
                .with_for_update()
            )
        if original is not None:
            failure = {
                "status": "failed",
                "bounce_activity_id": bounce_activity_id,
                "recipients": [address for address, _ in report.failed],
            }
            original.meta = {**original.meta, "delivery": failure}
            await session.execute(
                OutgoingMail.__table__.update()
                .where(OutgoingMail.message_id == report.original_message_id)
                .values(status="bounced")
            )
        for address, status in report.failed:
            await _flag_address(session, address, status, bounce_activity_id, now)
    log.info(
        "email_bounce_recorded",
        activity_id=bounce_activity_id,
        original_found=original is not None,
        failed=len(report.failed),
    )


# TODO(#4): failing addresses live in email_failing_address, keyed by the normalised
# address; ContactPoint has no status column to carry the flag itself.
async def _flag_address(
    session: AsyncSession, address: str, status: str, activity_id: int, now: datetime
) -> None:
    inserted = await session.execute(
        insert_ignoring_conflicts(session, FailingAddress)
        .values(
            address=address,
            status=status or None,
            failed_at=now,
            bounce_count=1,
            activity_id=activity_id,
            details={},
        )
        .returning(FailingAddress.address)
    )
    if inserted.scalar_one_or_none() is None:
        await session.execute(
            FailingAddress.__table__.update()
            .where(FailingAddress.address == address)
            .values(
                status=status or None,
                failed_at=now,
                activity_id=activity_id,
                bounce_count=FailingAddress.bounce_count + 1,
            )
        )


def _wants_acknowledgement(
    mail: ParsedMail,
    robot: Robot | None,
    thread: Thread | None,
    recorded: RecordedContact,
    settings: EmailSettings,
    refused: str | None,
) -> bool:
    """Acknowledge a person's mail that opened a new ticket; nothing else, ever."""
    if not settings.acknowledge or robot is not None or refused is not None:
        return False
    if thread is not None and thread.ticket_id is not None:
        return False
    sender = (mail.sender_address or "").lower()
    if not sender or is_noreply(sender) or sender in settings.watched_addresses:
        return False
    return recorded.ticket_number is not None


async def acknowledge(
    store: Store,
    settings: EmailSettings,
    mail: ParsedMail,
    recorded: RecordedContact,
    mailbox: MailboxSettings | None,
    transport: Transport | None,
) -> bool:
    """Send "we received your message" with the ticket number, at most once a day."""
    sender = (mail.sender_address or "").lower()
    interval = timedelta(hours=settings.acknowledge_interval_hours)
    if not await claim_acknowledgement(store, sender, interval):
        log.info("email_acknowledgement_skipped", reason="rate_limited")
        return False

    legal_entity = mailbox.legal_entity if mailbox else None
    brand, entity_sender = await brand_of(store, legal_entity)
    number = recorded.ticket_number or ""
    draft = Draft(
        sender=mailbox.address if mailbox else (entity_sender or settings.sender),
        sender_name=brand,
        recipient=sender,
        subject=f"[#{number}] {mail.base_subject or number}",
        template="acknowledgement",
        language=await _language(store, recorded.activity_id)
        or (mailbox.language if mailbox else settings.language),
        values={"subject": mail.base_subject, "ticket_number": number, "brand": brand},
        ticket_id=recorded.ticket_id,
        in_reply_to=mail.message_id,
        references=(*mail.references[-10:], mail.message_id),
        automatic=True,
    )
    row = await queue_mail(store, draft)
    if transport is not None:
        await deliver_one(store, transport, settings, row.id)
    return True


async def _language(store: Store, activity_id: int) -> str | None:
    """The language of the partner an activity was matched to, if it was."""
    async with store.sessions() as session:
        return await session.scalar(
            select(Partner.language)
            .join(Activity, Activity.partner_id == Partner.id)
            .where(Activity.id == activity_id)
        )
