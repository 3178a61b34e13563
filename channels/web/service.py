"""A valid form becomes a contact: recorded through the single door, then acknowledged."""

import asyncio
import hashlib
import json
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import structlog
from sqlalchemy import select

from channels.web.forms import FormKind, Submission
from channels.web.notify import build_acknowledgement, queue_acknowledgement
from interactions.contacts import Attachment, InboundContact, RecordedContact, record_contact
from interactions.models import Channel, LegalEntity
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

#: Subjects agents read in their queue, in the office language.
SUBJECTS = {
    FormKind.COMPLAINT: "Reklamacija (spletni obrazec)",
    FormKind.METER_READING: "Stanje števca (spletni obrazec)",
    FormKind.QUESTION: "Vprašanje (spletni obrazec)",
    FormKind.CHANGE: "Sprememba podatkov (spletni obrazec)",
    FormKind.CALLBACK: "Prošnja za povratni klic (spletni obrazec)",
}
CHANGE_WORDS = {
    "address": "naslov",
    "payer": "plačnik",
    "bank_account": "bančni račun",
    "e_invoice": "e-račun",
}
CALLBACK_WORDS = {"morning": "dopoldne", "afternoon": "popoldne", "any": "kadarkoli"}
DEFAULT_SENDER = "noreply@stik.invalid"


class MailOut(Protocol):
    """Where a whole mail goes: the email channel's sender (see channels.email.outbound)."""

    async def send(
        self, message: EmailMessage, *, ticket_id: int | None = None, automatic: bool = False
    ) -> None: ...


@dataclass(frozen=True)
class Sender:
    """Who acknowledgements come from: the legal entity's address and brand."""

    address: str
    brand: str


def submission_key(origin: str, submission: Submission) -> str:
    """An external id that makes a resubmitted form (a double click, a reload) one contact."""
    body = json.dumps(
        {
            "origin": origin,
            "name": submission.name,
            "email": submission.email,
            "message": submission.message,
            **submission.as_json(),
        },
        sort_keys=True,
    )
    return "web:" + hashlib.sha256(body.encode()).hexdigest()[:40]


def contact_from(submission: Submission, external_id: str, language: str) -> InboundContact:
    """Return the neutral contact for a valid form."""
    subject = SUBJECTS[submission.kind]
    if submission.metering_point:
        subject += f" – MM {submission.metering_point}"
    return InboundContact(
        channel=Channel.WEB,
        external_id=external_id,
        occurred_at=utcnow(),
        sender_address=submission.email,
        sender_name=submission.name,
        subject=subject,
        text=describe(submission),
        attachments=tuple(Attachment(f.filename, f.content_type, f.data) for f in submission.files),
        ticket_kind=submission.ticket_kind,
        meta={"form": submission.as_json(), "form_language": language},
    )


def describe(submission: Submission) -> str:
    """The form as text an agent (and triage) reads: the facts first, then the message."""
    lines = []
    if submission.metering_point:
        lines.append(f"Merilno mesto: {submission.metering_point}")
    if submission.customer_number:
        lines.append(f"Številka odjemalca: {submission.customer_number}")
    if submission.phone:
        lines.append(f"Telefon: {submission.phone}")
    if submission.reading_date:
        lines.append(f"Datum odčitka: {submission.reading_date:%d. %m. %Y}")
    for register, value in submission.readings.items():
        lines.append(f"Stanje {register.upper()}: {str(value).replace('.', ',')} kWh")
    if submission.change_type:
        lines.append(f"Sprememba: {CHANGE_WORDS[submission.change_type]}")
    if submission.iban:
        lines.append(f"Nov TRR: {submission.iban}")
    if submission.callback_time:
        lines.append(f"Povratni klic: {CALLBACK_WORDS[submission.callback_time]}")
    if submission.message:
        lines.extend(["", submission.message])
    return "\n".join(lines).strip()


async def sender_of(store: Store, legal_entity: str | None = None) -> Sender:
    """Return the acknowledgement sender of the legal entity (the store's default one)."""
    code = legal_entity or store.default_legal_entity
    async with store.sessions() as session:
        row = (
            await session.execute(
                select(LegalEntity.sender_address, LegalEntity.brand).where(
                    LegalEntity.code == code
                )
            )
        ).first()
    if row is None:
        return Sender(DEFAULT_SENDER, "Stik")
    address = row.sender_address or DEFAULT_SENDER
    return Sender(str(Address(display_name=row.brand, addr_spec=address)), row.brand)


async def submit(
    store: Store,
    submission: Submission,
    *,
    external_id: str,
    language: str,
    outbox: Path,
    sender: Sender,
    mail: MailOut | None = None,
) -> RecordedContact:
    """Record the form and, the first time only, queue the acknowledgement with its ticket.

    With `mail` (the email channel's sender) the acknowledgement is sent over SMTP and
    kept on the ticket; without it, it is written into the outbox folder.
    """
    contact = contact_from(submission, external_id, language)
    recorded = await record_contact(store, contact)
    if recorded.created and recorded.ticket_number:
        message = build_acknowledgement(
            submission.email, recorded.ticket_number, language, sender.address, sender.brand
        )
        if mail is not None:
            await mail.send(message, ticket_id=recorded.ticket_id, automatic=True)
        else:
            await asyncio.to_thread(queue_acknowledgement, outbox, message)
    log.info(
        "web_form_recorded",
        kind=submission.kind.value,
        activity_id=recorded.activity_id,
        ticket=recorded.ticket_number,
        created=recorded.created,
    )
    return recorded
