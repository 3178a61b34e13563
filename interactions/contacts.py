"""The single door: every inbound contact, from any channel, is recorded here.

`record_contact` keeps the raw payload first (its own transaction, before anything
can fail), then resolves, classifies and stores the Activity and, for written
contacts, opens a Ticket. It is idempotent on (channel, external id): a refetched
email or a retried webhook yields the same activity, also when two tasks race.
A contact whose processing fails is kept as an activity in state `failed`.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.db import retrying
from interactions.models import (
    WRITTEN_CHANNELS,
    Activity,
    ActivityState,
    Blob,
    Channel,
    Direction,
    Document,
    Ticket,
    TicketKind,
    TicketStatus,
)
from interactions.resolution import Resolution
from interactions.store import Store
from interactions.tickets import allocate_ticket_number
from interactions.types import utcnow

log = structlog.get_logger(__name__)

MAX_REASON = 2000


MAX_EXTERNAL_ID = 400


def storable(value: Any) -> Any:
    """Return `value` with every string made storable: NUL and lone surrogates replaced."""
    if isinstance(value, str):
        if value.isascii() and "\x00" not in value:
            return value
        return value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def storable_key(value: str) -> str:
    """Return an external id that fits its column, keeping long ones distinct by hash."""
    value = storable(value)
    if len(value) <= MAX_EXTERNAL_ID:
        return value
    digest = hashlib.sha256(value.encode()).hexdigest()
    return f"{value[: MAX_EXTERNAL_ID - 65]}#{digest}"


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    data: bytes
    kind: str = "attachment"  # attachment | letter | fax
    extracted_text: str | None = None


@dataclass(frozen=True)
class InboundContact:
    """A contact as a channel adapter saw it, before Stik knows who or what it is."""

    channel: Channel
    external_id: str
    occurred_at: datetime
    direction: Direction = Direction.INBOUND
    sender_address: str | None = None
    sender_name: str | None = None
    recipient: str | None = None
    subject: str | None = None
    text: str | None = None
    attachments: tuple[Attachment, ...] = ()
    raw: bytes | None = None
    legal_entity: str | None = None
    ticket_kind: TicketKind | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    #: The ticket a channel's threading found: the contact joins it instead of a new one.
    ticket_id: int | None = None
    #: Sent by a machine (auto-reply, bounce): recorded, never opens or reopens a ticket.
    automatic: bool = False

    def __post_init__(self) -> None:
        # Adapters may hand plain strings; the door speaks in enums and aware times,
        # and in text both databases can store (no NUL, no lone surrogates).
        object.__setattr__(self, "channel", Channel(self.channel))
        object.__setattr__(self, "direction", Direction(self.direction))
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone")
        if not self.external_id:
            raise ValueError("external_id must not be empty")
        for name in ("sender_address", "sender_name", "recipient", "subject", "text"):
            object.__setattr__(self, name, storable(getattr(self, name)))
        object.__setattr__(self, "external_id", storable_key(self.external_id))
        object.__setattr__(self, "meta", storable(self.meta))

    def raw_bytes(self) -> bytes:
        """Return the payload to keep: the raw bytes, or the contact itself as JSON."""
        if self.raw is not None:
            return self.raw
        fields = asdict(self)
        fields["attachments"] = [
            {"filename": a.filename, "content_type": a.content_type, "size": len(a.data)}
            for a in self.attachments
        ]
        return json.dumps(fields, default=str, sort_keys=True).encode()


@dataclass(frozen=True)
class RecordedContact:
    activity_id: int
    state: ActivityState
    created: bool
    ticket_number: str | None = None
    failure_reason: str | None = None
    ticket_id: int | None = None


def insert_ignoring_conflicts(session: AsyncSession, model: Any) -> Any:
    """An INSERT of `model` that skips rows whose unique key exists, on either database."""
    dialect = postgresql if session.bind.dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing()


async def keep_blob(session: AsyncSession, data: bytes) -> str:
    """Store `data` once by its SHA-256 and return the hash."""
    digest = hashlib.sha256(data).hexdigest()
    stmt = insert_ignoring_conflicts(session, Blob).values(
        sha256=digest, size=len(data), data=data, created_at=utcnow()
    )
    await session.execute(stmt)
    return digest


async def record_contact(store: Store, contact: InboundContact) -> RecordedContact:
    """Record `contact` once; return its activity, whether it was new, and its ticket.

    Raises only when the database cannot be reached (OperationalError, InterfaceError,
    OSError): nothing was recorded then, and the channel must retry or answer 503.
    """
    raw = contact.raw_bytes()

    async def keep_raw() -> str:
        async with store.sessions() as session, session.begin():
            return await keep_blob(session, raw)

    raw_sha256 = await retrying(keep_raw)

    existing = await _find(store, contact)
    if existing is not None:
        return existing

    try:
        return await retrying(lambda: _process(store, contact, raw_sha256))
    except (OperationalError, InterfaceError, OSError):
        raise  # the database is away: the caller retries later (503, poller backoff)
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"[:MAX_REASON]
        log.exception("contact_failed", channel=contact.channel, reason=type(exc).__name__)
        return await retrying(lambda: _park(store, contact, raw_sha256, reason))


async def _find(store: Store, contact: InboundContact) -> RecordedContact | None:
    async with store.sessions() as session:
        row = (
            await session.execute(
                select(
                    Activity.id,
                    Activity.state,
                    Activity.failure_reason,
                    Activity.ticket_id,
                    Ticket.number,
                )
                .outerjoin(Ticket, Ticket.id == Activity.ticket_id)
                .where(
                    Activity.channel == contact.channel,
                    Activity.external_id == contact.external_id,
                )
            )
        ).first()
    if row is None:
        return None
    return RecordedContact(
        activity_id=row.id,
        state=ActivityState(row.state),
        created=False,
        ticket_number=row.number,
        failure_reason=row.failure_reason,
        ticket_id=row.ticket_id,
    )


async def _process(store: Store, contact: InboundContact, raw_sha256: str) -> RecordedContact:
    classification = store.classifier(contact) if store.classifier else {}
    async with store.sessions() as session, session.begin():
        resolution = await _resolve(store, session, contact)
        if store.refiner is not None:
            classification = await store.refiner(session, contact, resolution, classification)
        values = _activity_values(store, contact, raw_sha256)
        values.update(_resolution_values(resolution))
        values["category"] = classification.get("category")
        values["language"] = classification.get("language")
        values["state"] = ActivityState.PROCESSED
        if classification:
            values["meta"] = {**values["meta"], "triage": classification}

        activity_id = await _insert_activity(session, values)
        if activity_id is None:
            await session.rollback()
            found = await _find(store, contact)
            assert found is not None, "activity vanished after a conflict"
            return found

        ticket, reopened = None, False
        if contact.ticket_id is not None:
            ticket, reopened = await _join_ticket(session, contact)
        elif _opens_ticket(contact) and classification.get("open_ticket", True):
            ticket = await _open_ticket(session, contact, values, classification)
        if ticket is not None:
            activity = await session.get_one(Activity, activity_id)
            activity.ticket_id = ticket.id
        await _keep_attachments(session, contact, activity_id)

    result = RecordedContact(
        activity_id=activity_id,
        state=ActivityState.PROCESSED,
        created=True,
        ticket_number=ticket.number if ticket else None,
        ticket_id=ticket.id if ticket else None,
    )
    log.info(
        "contact_recorded",
        channel=contact.channel,
        activity_id=activity_id,
        ticket=result.ticket_number,
        match=values["match_outcome"],
    )
    await store.bus.publish(
        "activity.recorded",
        {
            "activity_id": activity_id,
            # Enough for a listener to know whether it need read the activity at all.
            "channel": contact.channel.value,
            "direction": contact.direction.value,
            "ticket_id": result.ticket_id,
            "refers_to_ticket": bool(contact.meta.get("ticket_number")),
            "live": bool(contact.meta.get("live")),
        },
    )
    if ticket is not None and (contact.ticket_id is None or reopened):
        event = "ticket.reopened" if reopened else "ticket.opened"
        await store.bus.publish(event, {"ticket_id": ticket.id, "number": ticket.number})
    return result


async def _park(
    store: Store, contact: InboundContact, raw_sha256: str, reason: str
) -> RecordedContact:
    async with store.sessions() as session, session.begin():
        values = _activity_values(store, contact, raw_sha256)
        values.update(state=ActivityState.FAILED, failure_reason=reason)
        activity_id = await _insert_activity(session, values)
    if activity_id is None:
        found = await _find(store, contact)
        assert found is not None
        return found
    await store.bus.publish("activity.failed", {"activity_id": activity_id})
    return RecordedContact(activity_id, ActivityState.FAILED, True, failure_reason=reason)


def _activity_values(store: Store, contact: InboundContact, raw_sha256: str) -> dict[str, Any]:
    return {
        "channel": contact.channel,
        "direction": contact.direction,
        "external_id": contact.external_id,
        "occurred_at": contact.occurred_at,
        "received_at": utcnow(),
        "legal_entity": contact.legal_entity or store.default_legal_entity,
        "sender_address": _clip(contact.sender_address, 400),
        "sender_name": _clip(contact.sender_name, 300),
        "recipient": _clip(contact.recipient, 400),
        "subject": _clip(contact.subject, 1000),
        "text": contact.text,
        "raw_sha256": raw_sha256,
        "match_reasons": [],
        "match_candidates": [],
        # A machine's message (auto-reply, bounce, our acknowledgement) says so in meta.
        "meta": {**contact.meta, "automatic": True} if contact.automatic else dict(contact.meta),
    }


def _resolution_values(resolution: Resolution) -> dict[str, Any]:
    best = resolution.best
    top = resolution.candidates[0] if resolution.candidates else None
    return {
        "match_outcome": resolution.outcome.value,
        "partner_id": best.partner_id if best else None,
        "metering_point_id": best.metering_point_id if best else None,
        "match_score": top.score if top else None,
        "match_reasons": list(top.reasons) if top else [],
        "match_candidates": [c.as_json() for c in resolution.candidates],
    }


async def _resolve(store: Store, session: AsyncSession, contact: InboundContact) -> Resolution:
    if store.resolver is not None:
        return await store.resolver(session, contact)
    from interactions.exact import resolve_exact

    return await resolve_exact(session, contact)


async def _insert_activity(session: AsyncSession, values: dict[str, Any]) -> int | None:
    stmt = insert_ignoring_conflicts(session, Activity).values(**values).returning(Activity.id)
    return (await session.execute(stmt)).scalar_one_or_none()


def _opens_ticket(contact: InboundContact) -> bool:
    return (
        contact.direction is Direction.INBOUND
        and contact.channel in WRITTEN_CHANNELS
        and not contact.automatic
    )


#: Statuses an inbound answer from the customer takes a ticket out of.
_WAITING = frozenset({TicketStatus.PENDING_CUSTOMER, TicketStatus.RESOLVED, TicketStatus.CLOSED})


async def _join_ticket(session: AsyncSession, contact: InboundContact) -> tuple[Ticket, bool]:
    """Return the ticket `contact` joins, reopened when the customer answers it."""
    ticket = await session.get_one(Ticket, contact.ticket_id, with_for_update=True)
    if not _opens_ticket(contact) or ticket.status not in _WAITING:
        return ticket, False
    ticket.status = TicketStatus.OPEN
    ticket.resolved_at = None
    ticket.closed_at = None
    ticket.updated_at = utcnow()
    return ticket, True


async def _open_ticket(
    session: AsyncSession,
    contact: InboundContact,
    values: dict[str, Any],
    classification: dict[str, Any],
) -> Ticket:
    year = contact.occurred_at.year
    ticket = Ticket(
        number=await allocate_ticket_number(session, year),
        legal_entity=values["legal_entity"],
        kind=contact.ticket_kind or classification.get("ticket_kind") or TicketKind.QUESTION,
        category=classification.get("category"),
        priority=classification.get("priority", 3),
        queue_id=classification.get("queue_id"),
        subject=values["subject"],
        partner_id=values["partner_id"],
        metering_point_id=values["metering_point_id"],
        created_at=contact.occurred_at,
    )
    session.add(ticket)
    await session.flush()
    return ticket


async def _keep_attachments(
    session: AsyncSession, contact: InboundContact, activity_id: int
) -> None:
    for attachment in contact.attachments:
        digest = await keep_blob(session, attachment.data)
        session.add(
            Document(
                sha256=digest,
                filename=_clip(attachment.filename, 400),
                content_type=attachment.content_type[:200],
                size=len(attachment.data),
                kind=attachment.kind,
                extracted_text=attachment.extracted_text,
                activity_id=activity_id,
            )
        )


def _clip(value: str | None, length: int) -> str | None:
    return value[:length] if value is not None else None


__all__ = [
    "Attachment",
    "InboundContact",
    "RecordedContact",
    "record_contact",
]
