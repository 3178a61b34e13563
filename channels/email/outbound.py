"""Mail Stik sends: agents' replies and acknowledgements, over SMTP or into the outbox.

Every mail is first kept (its bytes and an `email_outgoing` row), recorded as an
outbound activity on its ticket, and then handed to the transport. A failed send is
retried with growing pauses and its state shows on the activity; after the last
attempt it is marked failed, never dropped silently.
"""

import asyncio
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import format_datetime, formataddr, getaddresses, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib
import structlog
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from channels.email.models import AutoReplyLog, OutgoingMail
from channels.email.reply import tag_subject
from channels.email.settings import EmailSettings, SmtpSettings, tls_context
from interactions.contacts import (
    Attachment,
    InboundContact,
    insert_ignoring_conflicts,
    keep_blob,
    record_contact,
)
from interactions.db import retrying
from interactions.models import Activity, Blob, Channel, Direction, LegalEntity, Ticket
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

LANGUAGES = ("sl", "en")
_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029\x85]+")
_templates = Environment(
    loader=PackageLoader("channels.email", "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def clean_header(value: str, limit: int = 300) -> str:
    """Return `value` on one line: CR, LF and other controls can inject no header."""
    return _CONTROL.sub(" ", value).strip()[:limit]


@dataclass(frozen=True)
class Draft:
    """What goes into one outgoing mail, before it has headers and bytes."""

    sender: str
    recipient: str
    subject: str
    template: str  # "reply" or "acknowledgement"
    language: str
    values: dict[str, object]
    ticket_id: int | None = None
    in_reply_to: str | None = None
    references: tuple[str, ...] = ()
    automatic: bool = False
    attachments: tuple[Attachment, ...] = ()
    sender_name: str | None = None


def compose(draft: Draft) -> EmailMessage:
    """Build the MIME message: text and HTML from the templates, threading headers."""
    language = draft.language if draft.language in LANGUAGES else "sl"
    text = _templates.get_template(f"{draft.template}.{language}.txt").render(**draft.values)
    html = _templates.get_template(f"{draft.template}.{language}.html").render(**draft.values)

    message = EmailMessage(policy=policy.SMTP)
    message["From"] = formataddr((clean_header(draft.sender_name or ""), draft.sender))
    message["To"] = clean_header(draft.recipient, 320)
    message["Subject"] = clean_header(draft.subject, 900)
    message["Date"] = format_datetime(utcnow())
    message["Message-ID"] = make_msgid(domain=draft.sender.rpartition("@")[2] or "stik.invalid")
    if draft.in_reply_to:
        message["In-Reply-To"] = draft.in_reply_to
    if draft.references:
        message["References"] = " ".join(draft.references[-20:])
    if draft.automatic:
        message["Auto-Submitted"] = "auto-generated"
        message["X-Auto-Response-Suppress"] = "All"
        message["Precedence"] = "auto_reply"
    if ticket := draft.values.get("ticket_number"):
        message["X-Stik-Ticket"] = str(ticket)

    message.set_content(text)
    message.add_alternative(html, subtype="html")
    for attachment in draft.attachments:
        maintype, _, subtype = attachment.content_type.partition("/")
        message.add_attachment(
            attachment.data,
            maintype=maintype or "application",
            subtype=subtype or "octet-stream",
            filename=clean_header(attachment.filename or "attachment", 200),
        )
    return message


class Transport(Protocol):
    async def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None: ...


class OutboxTransport:
    """The embedded default: each mail becomes an .eml file in the outbox folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        await asyncio.to_thread(self._write, raw)

    def _write(self, raw: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        stamp = utcnow().strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{hashlib.sha256(raw).hexdigest()[:12]}.eml"
        partial = self.folder / f".{name}.tmp"
        partial.write_bytes(raw)
        partial.replace(self.folder / name)


class SmtpTransport:
    """Hands mail to an SMTP server with aiosmtplib, over TLS or STARTTLS."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    async def send(self, raw: bytes, sender: str, recipients: Sequence[str]) -> None:
        s = self.settings
        await aiosmtplib.send(
            raw,
            sender=sender,
            recipients=list(recipients),
            hostname=s.host,
            port=s.port,
            use_tls=s.security == "tls",
            start_tls=s.security == "starttls",
            tls_context=tls_context(s.ca_file) if s.security != "plain" else None,
            username=s.user or None,
            password=s.password or None,
            timeout=s.timeout_seconds,
        )


def transport_for(settings: EmailSettings) -> Transport:
    if settings.smtp is not None:
        return SmtpTransport(settings.smtp)
    return OutboxTransport(settings.outbox)


async def queue_mail(store: Store, draft: Draft) -> OutgoingMail:
    """Keep the composed mail and record it as an outbound activity on its ticket."""
    return await queue_message(
        store, compose(draft), ticket_id=draft.ticket_id, automatic=draft.automatic
    )


async def queue_message(
    store: Store, message: EmailMessage, *, ticket_id: int | None, automatic: bool
) -> OutgoingMail:
    """Keep a mail built elsewhere and record it as an outbound activity on its ticket."""
    raw = message.as_bytes(policy=policy.SMTP)
    message_id = str(message["Message-ID"])
    sender = parseaddr(str(message["From"] or ""))[1]
    recipients = [address for _, address in getaddresses(message.get_all("To", []))]

    async def keep() -> OutgoingMail:
        async with store.sessions() as session, session.begin():
            digest = await keep_blob(session, raw)
            row = OutgoingMail(
                message_id=message_id,
                ticket_id=ticket_id,
                sender=sender,
                recipients=recipients,
                raw_sha256=digest,
                automatic=automatic,
            )
            session.add(row)
            await session.flush()
            return row

    row = await retrying(keep)
    await _record(store, row, str(message["Subject"] or ""), raw)
    return row


class ChannelSender:
    """Mail other packages build whole (an agent's reply, a form's acknowledgement).

    Each mail is kept and recorded as an outbound email activity on its ticket, then
    handed to the transport at once; when the server refuses it, the sender loop of
    `EmailService` retries it with back-off, and the activity shows the state.
    """

    def __init__(self, store: Store, settings: EmailSettings, transport: Transport) -> None:
        self.store = store
        self.settings = settings
        self.transport = transport

    async def send(
        self, message: EmailMessage, *, ticket_id: int | None = None, automatic: bool = False
    ) -> None:
        row = await queue_message(self.store, message, ticket_id=ticket_id, automatic=automatic)
        await deliver_one(self.store, self.transport, self.settings, row.id)


async def _record(store: Store, row: OutgoingMail, subject: str, raw: bytes) -> None:
    """Record the outbound activity of `row` (idempotent) and link it to the row."""
    recorded = await record_contact(
        store,
        InboundContact(
            channel=Channel.EMAIL,
            direction=Direction.OUTBOUND,
            external_id=row.message_id,
            occurred_at=row.created_at,
            sender_address=row.sender,
            recipient=", ".join(row.recipients),
            subject=subject,
            text=_plain_text(raw),
            raw=raw,
            ticket_id=row.ticket_id,
            automatic=row.automatic,
            meta={
                "message_id": row.message_id,
                "delivery": {"status": "queued"},
                "automatic": row.automatic,
            },
        ),
    )
    row.activity_id = recorded.activity_id
    async with store.sessions() as session, session.begin():
        await session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == row.id)
            .values(activity_id=recorded.activity_id)
        )


def _plain_text(raw: bytes) -> str:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    body = message.get_body(preferencelist=("plain",))
    return body.get_content() if body is not None else ""  # type: ignore[attr-defined]


def backoff(attempts: int) -> timedelta:
    """Pause before the next attempt: 30 s doubling, at most an hour."""
    return timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 3600))


async def deliver_due(
    store: Store, transport: Transport, settings: EmailSettings, now: datetime | None = None
) -> int:
    """Send every queued mail whose time has come; return how many went out."""
    now = now or utcnow()
    async with store.sessions() as session:
        ids = (
            await session.scalars(
                select(OutgoingMail.id)
                .where(OutgoingMail.status == "queued", OutgoingMail.next_attempt_at <= now)
                .order_by(OutgoingMail.id)
                .limit(100)
            )
        ).all()
    sent = 0
    for mail_id in ids:
        sent += await deliver_one(store, transport, settings, mail_id)
    return sent


async def deliver_one(
    store: Store, transport: Transport, settings: EmailSettings, mail_id: int
) -> bool:
    """Try to send one queued mail; record the outcome on its row and its activity."""
    async with store.sessions() as session, session.begin():
        claimed = (
            await session.execute(
                update(OutgoingMail)
                .where(OutgoingMail.id == mail_id, OutgoingMail.status == "queued")
                .values(status="sending")
                .returning(OutgoingMail.id)
            )
        ).scalar_one_or_none()
    if claimed is None:
        return False  # another task or node has it
    # TODO(#4): a node that dies while sending leaves its row in "sending"; a sweeper
    # should put rows older than the SMTP timeout back to "queued".

    async with store.sessions() as session:
        row = await session.get_one(OutgoingMail, mail_id)
        raw = (await session.get_one(Blob, row.raw_sha256)).data
    if row.activity_id is None:
        await _record(store, row, _subject_of(raw), raw)

    try:
        await transport.send(raw, row.sender, row.recipients)
    except Exception as exc:
        await _failed_attempt(store, row, settings, exc)
        return False
    async with store.sessions() as session, session.begin():
        await session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == mail_id)
            .values(status="sent", sent_at=utcnow(), attempts=row.attempts + 1, last_error=None)
        )
        await _show_delivery(session, row.activity_id, {"status": "sent"})
    log.info("email_sent", mail_id=mail_id, automatic=row.automatic)
    return True


async def _failed_attempt(
    store: Store, row: OutgoingMail, settings: EmailSettings, exc: Exception
) -> None:
    attempts = row.attempts + 1
    final = attempts >= settings.max_send_attempts
    error = f"{type(exc).__name__}: {exc}"[:1000]
    status = "failed" if final else "queued"
    async with store.sessions() as session, session.begin():
        await session.execute(
            update(OutgoingMail)
            .where(OutgoingMail.id == row.id)
            .values(
                status=status,
                attempts=attempts,
                last_error=error,
                next_attempt_at=utcnow() + backoff(attempts),
            )
        )
        shown = {"status": "failed" if final else "retrying", "attempts": attempts, "error": error}
        await _show_delivery(session, row.activity_id, shown)
    log.warning(
        "email_send_failed",
        mail_id=row.id,
        attempts=attempts,
        final=final,
        error=type(exc).__name__,
    )


async def _show_delivery(session: AsyncSession, activity_id: int | None, state: dict) -> None:
    if activity_id is None:
        return
    activity = await session.get(Activity, activity_id, with_for_update=True)
    if activity is not None:
        activity.meta = {**activity.meta, "delivery": state}


def _subject_of(raw: bytes) -> str:
    return str(BytesHeaderParser(policy=policy.default).parsebytes(raw).get("subject", ""))


async def claim_acknowledgement(
    store: Store, address: str, interval: timedelta, now: datetime | None = None
) -> bool:
    """Take the right to send `address` one automatic mail; False within the interval."""
    now = now or utcnow()
    address = address.lower()

    async def claim() -> bool:
        async with store.sessions() as session, session.begin():
            inserted = await session.execute(
                insert_ignoring_conflicts(session, AutoReplyLog)
                .values(address=address, last_sent_at=now, sent_count=1)
                .returning(AutoReplyLog.address)
            )
            if inserted.scalar_one_or_none() is not None:
                return True
            updated = await session.execute(
                update(AutoReplyLog)
                .where(AutoReplyLog.address == address, AutoReplyLog.last_sent_at <= now - interval)
                .values(last_sent_at=now, sent_count=AutoReplyLog.sent_count + 1)
                .returning(AutoReplyLog.address)
            )
            return updated.scalar_one_or_none() is not None

    return await retrying(claim)


async def brand_of(store: Store, legal_entity: str | None) -> tuple[str, str | None]:
    """Return the brand name and sender address of a legal entity."""
    async with store.sessions() as session:
        entity = await session.get(LegalEntity, legal_entity or store.default_legal_entity)
    if entity is None:
        return "Stik", None
    return entity.brand, entity.sender_address


async def send_reply(
    store: Store,
    settings: EmailSettings,
    ticket_id: int,
    body: str,
    *,
    language: str | None = None,
    attachments: tuple[Attachment, ...] = (),
    transport: Transport | None = None,
) -> OutgoingMail:
    """Queue an agent's answer on a ticket to its customer, in the ticket's thread."""
    async with store.sessions() as session:
        ticket = await session.get_one(Ticket, ticket_id)
        thread = (
            (
                await session.execute(
                    select(Activity)
                    .where(Activity.ticket_id == ticket_id, Activity.channel == Channel.EMAIL)
                    .order_by(Activity.occurred_at, Activity.id)
                )
            )
            .scalars()
            .all()
        )
    inbound = [a for a in thread if a.direction == Direction.INBOUND and a.sender_address]
    if not inbound:
        raise ValueError(f"ticket {ticket.number} has no email from the customer to answer")
    last = inbound[-1]
    references = tuple(a.external_id for a in thread if a.external_id.startswith("<"))

    brand, entity_sender = await brand_of(store, ticket.legal_entity)
    sender = _answering_address(last, settings) or entity_sender or settings.sender
    draft = Draft(
        sender=sender,
        sender_name=brand,
        recipient=last.sender_address or "",
        subject=tag_subject(ticket.subject or last.subject or "", ticket.number),
        template="reply",
        language=language or last.language or settings.language,
        values={
            "body": body,
            "paragraphs": [p.splitlines() for p in re.split(r"\n\s*\n", body.strip())],
            "brand": brand,
            "ticket_number": ticket.number,
        },
        ticket_id=ticket_id,
        in_reply_to=last.external_id if last.external_id.startswith("<") else None,
        references=references,
        attachments=attachments,
    )
    row = await queue_mail(store, draft)
    if transport is not None:
        await deliver_one(store, transport, settings, row.id)
    return row


def _answering_address(activity: Activity, settings: EmailSettings) -> str | None:
    """The mailbox address the customer wrote to, so that the answer comes from it."""
    mailbox = settings.mailbox(str(activity.meta.get("mailbox") or ""))
    if mailbox is not None:
        return mailbox.address
    recipient = (activity.recipient or "").lower()
    return recipient if recipient in settings.watched_addresses else None
