"""Replying to a customer by email from a ticket: templates, the message, its record.

The message is handed to the configured `MailSender` and, once accepted, recorded as an
outbound email activity of the ticket with its raw bytes, so the timeline shows it and
the customer's answer threads back (Message-ID, References, `[#ticket]` in the subject).
The email channel's sender records that activity itself (with its delivery state);
the workspace then adds who wrote it and the attachments.
"""

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

import structlog
from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.models import ReplyTemplate, TicketEvent
from agent_ui.outbound import MailSender
from agent_ui.security import audit
from agent_ui.tickets import Refused, get_ticket
from agent_ui.users import User
from interactions.contacts import keep_blob
from interactions.identifiers import InvalidIdentifier, split_email
from interactions.models import (
    Activity,
    ActivityState,
    Channel,
    ContactKind,
    ContactPoint,
    Direction,
    Document,
    LegalEntity,
    MeteringPoint,
    Partner,
    Ticket,
    TicketStatus,
)
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

PLACEHOLDER = re.compile(r"\{(customer_name|ticket_number|metering_point|agent_name|subject)\}")
_REPLY_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|wg|sv|vs|odg|posr\.?)(\[\d+\])?\s*:\s*)+", re.I)
MAX_ATTACHMENTS_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class OutgoingAttachment:
    filename: str
    content_type: str
    data: bytes


def fill(text: str, values: dict[str, str]) -> str:
    """Replace the known {placeholders}; anything else in braces stays as written."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1), ""), text)


def base_subject(subject: str | None) -> str:
    without_tag = re.sub(r"\s*\[#\d{4}-\d{6}\]\s*", " ", subject or "")
    return _REPLY_PREFIX.sub("", without_tag).strip()


async def templates_for(db: AsyncSession, user: User) -> list[ReplyTemplate]:
    rows = await db.scalars(
        select(ReplyTemplate)
        .where(
            or_(
                ReplyTemplate.legal_entity.is_(None),
                ReplyTemplate.legal_entity == user.legal_entity,
            )
        )
        .order_by(ReplyTemplate.code, ReplyTemplate.language)
    )
    return list(rows)


async def template_values(db: AsyncSession, user: User, ticket: Ticket) -> dict[str, str]:
    partner = await db.get(Partner, ticket.partner_id) if ticket.partner_id else None
    point = (
        await db.get(MeteringPoint, ticket.metering_point_id) if ticket.metering_point_id else None
    )
    return {
        "customer_name": partner.display_name if partner else "",
        "ticket_number": ticket.number,
        "metering_point": point.eimm if point else "",
        "agent_name": user.full_name,
        "subject": base_subject(ticket.subject),
    }


async def default_recipient(db: AsyncSession, ticket: Ticket) -> str:
    """The address of the customer's last email on the ticket, else their primary email."""
    last = await db.scalar(
        select(Activity.sender_address)
        .where(
            Activity.ticket_id == ticket.id,
            Activity.channel == Channel.EMAIL,
            Activity.direction == Direction.INBOUND,
        )
        .order_by(Activity.occurred_at.desc())
        .limit(1)
    )
    if last:
        return last
    if ticket.partner_id is None:
        return ""
    found = await db.scalar(
        select(ContactPoint.value)
        .where(ContactPoint.partner_id == ticket.partner_id, ContactPoint.kind == ContactKind.EMAIL)
        .order_by(ContactPoint.is_primary.desc(), ContactPoint.id)
        .limit(1)
    )
    return found or ""


async def send_reply(
    store: Store,
    sender: MailSender,
    user: User,
    ticket_id: int,
    *,
    to: str,
    subject: str,
    body: str,
    attachments: list[OutgoingAttachment] | tuple[()] = (),
) -> int:
    """Send an email answer on the ticket and record it; return the new activity's id."""
    try:
        _name, address = split_email(to)
    except InvalidIdentifier:
        raise Refused(400, "the recipient is not an email address") from None
    if not body.strip():
        raise Refused(400, "the answer is empty")
    if sum(len(a.data) for a in attachments) > MAX_ATTACHMENTS_BYTES:
        raise Refused(400, "the attachments are too large")

    async with store.sessions() as db:
        ticket = await get_ticket(db, user, ticket_id)
        entity = await db.get_one(LegalEntity, ticket.legal_entity)
        thread = await _thread_ids(db, ticket)
    message = _message(entity, ticket, address, subject, body, thread, attachments)

    await sender.send(message, ticket_id=ticket_id)
    log.info("reply_sent", ticket_id=ticket_id, attachments=len(attachments))
    return await _record(store, user, ticket_id, message, address, body, attachments)


async def _thread_ids(db: AsyncSession, ticket: Ticket) -> list[str]:
    rows = await db.scalars(
        select(Activity.external_id)
        .where(Activity.ticket_id == ticket.id, Activity.channel == Channel.EMAIL)
        .order_by(Activity.occurred_at)
    )
    return [r if r.startswith("<") else f"<{r}>" for r in rows if "@" in r][-10:]


def _message(
    entity: LegalEntity,
    ticket: Ticket,
    address: str,
    subject: str,
    body: str,
    thread: list[str],
    attachments: list[OutgoingAttachment] | tuple[()],
) -> EmailMessage:
    sender = entity.sender_address or f"{entity.code}@localhost"
    subject = " ".join(subject.split()) or base_subject(ticket.subject)
    if f"[#{ticket.number}]" not in subject:
        subject = f"{subject} [#{ticket.number}]"

    message = EmailMessage()
    message["From"] = formataddr((entity.brand, sender))
    message["To"] = address
    message["Subject"] = subject
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid("reply", domain=sender.rpartition("@")[2] or None)
    if thread:
        message["In-Reply-To"] = thread[-1]
        message["References"] = " ".join(thread)
    message.set_content(body)
    for item in attachments:
        maintype, _, subtype = item.content_type.partition("/")
        message.add_attachment(
            item.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=item.filename,
        )
    return message


async def _record(
    store: Store,
    user: User,
    ticket_id: int,
    message: EmailMessage,
    address: str,
    body: str,
    attachments: list[OutgoingAttachment] | tuple[()],
) -> int:
    now = utcnow()
    message_id = str(message["Message-ID"])
    async with store.sessions() as db, db.begin():
        ticket = await get_ticket(db, user, ticket_id)
        activity = await db.scalar(
            select(Activity)
            .where(Activity.channel == Channel.EMAIL, Activity.external_id == message_id)
            .with_for_update()
        )
        if activity is None:
            activity = Activity(
                channel=Channel.EMAIL,
                direction=Direction.OUTBOUND,
                external_id=message_id,
                occurred_at=now,
                legal_entity=ticket.legal_entity,
                sender_address=str(message["From"])[:400],
                recipient=address,
                subject=str(message["Subject"])[:1000],
                raw_sha256=await keep_blob(db, bytes(message)),
                state=ActivityState.PROCESSED,
                match_reasons=[],
                match_candidates=[],
                meta={},
            )
            db.add(activity)
        activity.text = body
        activity.ticket_id = ticket.id
        activity.partner_id = ticket.partner_id
        activity.metering_point_id = ticket.metering_point_id
        activity.employee_id = user.id
        await db.flush()
        for item in attachments:
            digest = await keep_blob(db, item.data)
            db.add(
                Document(
                    sha256=digest,
                    filename=item.filename[:400],
                    content_type=item.content_type[:200],
                    size=len(item.data),
                    activity_id=activity.id,
                )
            )
        ticket.first_responded_at = ticket.first_responded_at or now
        if ticket.status == TicketStatus.NEW:
            ticket.status = TicketStatus.OPEN
        db.add(
            TicketEvent(ticket_id=ticket.id, employee_id=user.id, kind="reply", new_value=address)
        )
        audit(
            db,
            user,
            "create",
            "activity",
            activity.id,
            partner_id=ticket.partner_id,
            details={"ticket": ticket.number, "channel": "email"},
        )
        return activity.id
