"""A scanned letter (or a fax) becomes an activity: read, its sender's keys found, recorded.

A letter that cannot be read is recorded all the same, with the scan, and marked for
a person to read (`meta.needs_person`), so nothing that arrived is lost.
"""

import asyncio
import hashlib
from dataclasses import dataclass
from datetime import datetime

import structlog
from sqlalchemy import select

from channels.post.letters import Sender, read_sender
from channels.post.ocr import SCAN_TYPES, ScanText, read_scan
from channels.web.uploads import sniff
from interactions.contacts import Attachment, InboundContact, record_contact
from interactions.models import Activity, Channel, Partner, Ticket
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

#: Tesseract uses a core per page; two scans at a time is what a small node can carry.
OCR_SLOTS = asyncio.Semaphore(2)
UNREADABLE_SUBJECT = "Nečitljiv dokument – prosimo, preberite ga"


class NotAScan(ValueError):
    """The file is not a PDF, TIFF, PNG or JPEG by its content."""

    def __init__(self, content_type: str | None) -> None:
        super().__init__(f"not a PDF, TIFF, PNG or JPEG (content is {content_type or 'unknown'})")
        self.content_type = content_type


@dataclass(frozen=True)
class ScanResult:
    """What became of one scan: its activity, ticket, partner and category."""

    filename: str
    activity_id: int
    created: bool
    ticket_number: str | None
    partner_id: int | None
    partner_name: str | None
    category: str | None
    confidence: float
    readable: bool
    match_outcome: str | None


def scan_content_type(data: bytes) -> str:
    """Return the scan's type by content, or raise `NotAScan`."""
    content_type = sniff(data)
    if content_type not in SCAN_TYPES:
        raise NotAScan(content_type)
    return content_type


async def read_in_thread(data: bytes) -> ScanText:
    async with OCR_SLOTS:
        return await asyncio.to_thread(read_scan, data)


def scan_contact(
    data: bytes,
    filename: str,
    content_type: str,
    reading: ScanText,
    *,
    channel: Channel = Channel.POST,
    external_id: str | None = None,
    sender_number: str | None = None,
    occurred_at: datetime | None = None,
    meta: dict[str, object] | None = None,
) -> InboundContact:
    """Return the contact for a read scan; the sender's keys go where the matcher looks."""
    sender = read_sender(reading.text) if reading.text else Sender()
    address = sender_number or sender.email or sender.phone
    readable = reading.readable
    subject = sender.subject if readable and sender.subject else None
    if not readable:
        subject = UNREADABLE_SUBJECT
    digest = hashlib.sha256(data).hexdigest()
    return InboundContact(
        channel=channel,
        external_id=external_id or f"{channel.value}:{digest}",
        occurred_at=occurred_at or utcnow(),
        sender_address=address,
        sender_name=sender.name,
        subject=subject or ("Pismo" if channel is Channel.POST else "Faks"),
        text=reading.text or None,
        attachments=(
            Attachment(
                filename,
                content_type,
                data,
                kind=channel.value,
                extracted_text=reading.text or None,
            ),
        ),
        raw=data,
        meta={
            "scan": {"filename": filename, "sha256": digest, **reading.as_json()},
            "quoted": sender.as_json(),
            "needs_person": not readable,
            **(meta or {}),
        },
    )


async def import_scan(
    store: Store,
    data: bytes,
    filename: str,
    *,
    channel: Channel = Channel.POST,
    external_id: str | None = None,
    sender_number: str | None = None,
    meta: dict[str, object] | None = None,
    require_scan: bool = True,
) -> ScanResult:
    """Read and record one scan; raise `NotAScan` for a file that is no scan at all.

    With `require_scan` false, such a file is recorded all the same, unread, for a person.
    """
    try:
        content_type = scan_content_type(data)
    except NotAScan as exc:
        if require_scan:
            raise
        content_type = exc.content_type or "application/octet-stream"
        reading = ScanText("", "none", 0.0, 0, problem="no fax or letter document found")
    else:
        reading = await read_in_thread(data)
    contact = scan_contact(
        data,
        filename,
        content_type,
        reading,
        channel=channel,
        external_id=external_id,
        sender_number=sender_number,
        meta=meta,
    )
    recorded = await record_contact(store, contact)
    result = await _describe(store, recorded.activity_id, filename, recorded.created)
    log.info(
        "scan_recorded",
        channel=channel.value,
        activity_id=result.activity_id,
        ticket=result.ticket_number,
        method=reading.method,
        confidence=round(reading.confidence, 3),
        readable=result.readable,
        match=result.match_outcome,
    )
    return result


async def _describe(store: Store, activity_id: int, filename: str, created: bool) -> ScanResult:
    async with store.sessions() as session:
        activity = await session.get_one(Activity, activity_id)
        partner = (
            await session.scalar(select(Partner).where(Partner.id == activity.partner_id))
            if activity.partner_id
            else None
        )
        ticket_number = None
        if activity.ticket_id is not None:
            ticket_number = await session.scalar(
                select(Ticket.number).where(Ticket.id == activity.ticket_id)
            )
    scan = activity.meta.get("scan", {})
    return ScanResult(
        filename=filename,
        activity_id=activity_id,
        created=created,
        ticket_number=ticket_number,
        partner_id=activity.partner_id,
        partner_name=partner.display_name if partner else None,
        category=activity.category,
        confidence=float(scan.get("confidence", 0.0)),
        readable=bool(scan.get("readable", False)),
        match_outcome=activity.match_outcome,
    )
