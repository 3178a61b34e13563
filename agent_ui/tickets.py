"""Working a ticket: what an agent may see of it, and every change, each as an event.

Every function takes the signed-in `User` and keeps to the unbundling rule: a ticket,
queue or activity of another legal entity is refused. Every change is written as a
`TicketEvent` (the ticket's history) and an `AuditEntry` (who changed what).
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import structlog
from sqlalchemy import case, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.models import MatchCorrection, TicketEvent
from agent_ui.security import audit
from agent_ui.users import Permission, User
from interactions.models import (
    Activity,
    Direction,
    Document,
    Employee,
    MeteringPoint,
    Partner,
    Queue,
    Ticket,
    TicketStatus,
)
from interactions.triage.models import TriageCategory
from interactions.triage.review import record_decision
from interactions.types import utcnow
from routing.models import Task, TaskKind, TaskState

log = structlog.get_logger(__name__)

OPEN_STATUSES = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER)
DONE_STATUSES = (TicketStatus.RESOLVED, TicketStatus.CLOSED)
PRIORITIES = (1, 2, 3, 4)


class Resolution(StrEnum):
    ANSWERED = "answered"
    SOLVED = "solved"
    REJECTED = "rejected"
    DUPLICATE = "duplicate"
    MERGED = "merged"
    HANDED_OVER = "handed_over"  # belonged to the other legal entity
    NO_REPLY = "no_reply"


class Refused(Exception):
    """The user may not do this; `status` is the HTTP answer (403 or 404) and `reason` why."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class CategoryChoice:
    """One category of triage's code list, named in the user's language."""

    code: str
    name: str


async def categories(
    db: AsyncSession, language: str, current: str | None = None
) -> list[CategoryChoice]:
    """Triage's active code list, in its order; the ticket's `current` one is kept even
    when the list dropped it, so that saving other fields never changes it."""
    rows = list(
        await db.scalars(
            select(TriageCategory)
            .where(or_(TriageCategory.active.is_(True), TriageCategory.code == current))
            .order_by(TriageCategory.position, TriageCategory.code)
        )
    )
    choices = [CategoryChoice(r.code, r.name_en if language == "en" else r.name_sl) for r in rows]
    if current and current not in {c.code for c in choices}:
        choices.append(CategoryChoice(current, current.replace("_", " ")))
    return choices


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # activity | event
    activity: Activity | None = None
    event: TicketEvent | None = None
    author: str | None = None
    documents: tuple[Document, ...] = ()


async def get_ticket(db: AsyncSession, user: User, ticket_id: int) -> Ticket:
    """Return the ticket if it exists and belongs to the user's legal entity."""
    ticket = await db.get(Ticket, ticket_id)
    if ticket is None:
        raise Refused(404, "no such ticket")
    if ticket.legal_entity != user.legal_entity:
        log.warning("unbundling_refused", user=user.login, entity="ticket", entity_id=ticket_id)
        raise Refused(403, "this ticket belongs to another legal entity")
    return ticket


def _due(ticket_table: type[Ticket] = Ticket) -> Any:
    """The deadline an agent works to next: first response until given, then resolution."""
    return case(
        (ticket_table.first_responded_at.is_(None), ticket_table.first_response_due),
        else_=ticket_table.resolution_due,
    )


async def my_tickets(db: AsyncSession, user: User, limit: int = 100) -> list[Ticket]:
    """The user's open tickets, the one whose SLA deadline comes first at the top."""
    due = _due()
    rows = await db.scalars(
        select(Ticket)
        .where(
            Ticket.assignee_id == user.id,
            Ticket.legal_entity == user.legal_entity,
            Ticket.status.in_(OPEN_STATUSES),
        )
        .order_by(due.is_(None), due, Ticket.priority, Ticket.created_at)
        .limit(limit)
    )
    return list(rows)


def next_due(ticket: Ticket) -> datetime | None:
    return ticket.resolution_due if ticket.first_responded_at else ticket.first_response_due


@dataclass(frozen=True)
class QueueLoad:
    queue: Queue
    waiting: int
    oldest: datetime | None


async def queue_loads(db: AsyncSession, user: User) -> list[QueueLoad]:
    """The queues of the user's legal entity with the unassigned open tickets in each."""
    # TODO(#9): show only the queues the agent serves once routing keeps queue membership.
    waiting = (
        select(
            Ticket.queue_id,
            func.count(Ticket.id).label("waiting"),
            func.min(Ticket.created_at).label("oldest"),
        )
        .where(Ticket.assignee_id.is_(None), Ticket.status.in_(OPEN_STATUSES))
        .group_by(Ticket.queue_id)
        .subquery()
    )
    # Callers in line count as waiting too, oldest first like the tickets.
    calls = (
        select(
            Task.queue_id,
            func.count(Task.id).label("waiting"),
            func.min(Task.created_at).label("oldest"),
        )
        .where(Task.kind == TaskKind.CALL, Task.state.in_((TaskState.QUEUED, TaskState.OFFERED)))
        .group_by(Task.queue_id)
        .subquery()
    )
    rows = await db.execute(
        select(Queue, waiting.c.waiting, waiting.c.oldest, calls.c.waiting, calls.c.oldest)
        .outerjoin(waiting, waiting.c.queue_id == Queue.id)
        .outerjoin(calls, calls.c.queue_id == Queue.id)
        .where(Queue.legal_entity == user.legal_entity)
        .order_by(Queue.name)
    )
    loads = []
    for queue, tickets_waiting, oldest_ticket, calls_waiting, oldest_call in rows:
        oldest = min((t for t in (oldest_ticket, oldest_call) if t is not None), default=None)
        loads.append(QueueLoad(queue, (tickets_waiting or 0) + (calls_waiting or 0), oldest))
    return loads


async def get_queue(db: AsyncSession, user: User, queue_id: int) -> Queue:
    queue = await db.get(Queue, queue_id)
    if queue is None:
        raise Refused(404, "no such queue")
    if queue.legal_entity != user.legal_entity:
        raise Refused(403, "this queue belongs to another legal entity")
    return queue


async def waiting_tickets(db: AsyncSession, queue: Queue, limit: int = 200) -> list[Ticket]:
    due = _due()
    rows = await db.scalars(
        select(Ticket)
        .where(Ticket.queue_id == queue.id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.assignee_id.is_not(None), due.is_(None), due, Ticket.created_at)
        .limit(limit)
    )
    return list(rows)


async def timeline(db: AsyncSession, ticket: Ticket) -> list[TimelineItem]:
    """Every activity and event of the ticket, oldest first."""
    activities = list(
        await db.scalars(
            select(Activity).where(Activity.ticket_id == ticket.id).order_by(Activity.occurred_at)
        )
    )
    ids = [a.id for a in activities]
    documents: dict[int, list[Document]] = {}
    if ids:
        for doc in await db.scalars(select(Document).where(Document.activity_id.in_(ids))):
            documents.setdefault(doc.activity_id or 0, []).append(doc)
    events = list(
        await db.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    )
    names = await employee_names(
        db, {a.employee_id for a in activities} | {e.employee_id for e in events}
    )

    items = [
        TimelineItem(
            a.occurred_at,
            "activity",
            activity=a,
            author=names.get(a.employee_id or 0),
            documents=tuple(documents.get(a.id, ())),
        )
        for a in activities
    ]
    items += [
        TimelineItem(e.at, "event", event=e, author=names.get(e.employee_id or 0)) for e in events
    ]
    return sorted(items, key=lambda item: item.at)


async def employee_names(db: AsyncSession, ids: set[int | None]) -> dict[int, str]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    rows = await db.execute(select(Employee.id, Employee.full_name).where(Employee.id.in_(wanted)))
    return {eid: name for eid, name in rows}


async def colleagues(db: AsyncSession, user: User) -> list[Employee]:
    rows = await db.scalars(
        select(Employee)
        .where(Employee.legal_entity == user.legal_entity, Employee.active.is_(True))
        .order_by(Employee.full_name)
    )
    return list(rows)


def _event(
    db: AsyncSession,
    user: User,
    ticket: Ticket,
    kind: str,
    *,
    field: str | None = None,
    old: object = None,
    new: object = None,
    text: str | None = None,
) -> None:
    db.add(
        TicketEvent(
            ticket_id=ticket.id,
            employee_id=user.id,
            kind=kind,
            field=field,
            old_value=None if old is None else str(old)[:200],
            new_value=None if new is None else str(new)[:200],
            text=text,
        )
    )
    details = {"kind": kind, "field": field, "old": _plain(old), "new": _plain(new)}
    audit(db, user, "update", "ticket", ticket.id, partner_id=ticket.partner_id, details=details)


def _plain(value: object) -> Any:
    return value if value is None or isinstance(value, int | str) else str(value)


async def change_field(db: AsyncSession, user: User, ticket: Ticket, field: str, raw: str) -> None:
    """Change category, priority, queue, assignee or status, as an audited event."""
    value: Any
    if field == "category":
        known = await db.get(TriageCategory, raw)
        if known is None or not known.active:
            raise Refused(400, "unknown category")
        value = raw
    elif field == "priority":
        if not raw.isdigit() or int(raw) not in PRIORITIES:
            raise Refused(400, "priority is 1 to 4")
        value = int(raw)
    elif field == "queue_id":
        value = (await get_queue(db, user, _as_id(raw))).id
    elif field == "assignee_id":
        value = await _assignee(db, user, raw)
    elif field == "status":
        if raw not in (TicketStatus.OPEN, TicketStatus.PENDING_CUSTOMER):
            raise Refused(400, "use close to resolve a ticket")
        value = raw
    else:
        raise Refused(400, "this field cannot be changed")
    if ticket.status == TicketStatus.CLOSED:
        raise Refused(409, "the ticket is closed")

    old = getattr(ticket, field)
    if old == value:
        return
    setattr(ticket, field, value)
    _event(db, user, ticket, "change", field=field, old=old, new=value)
    if field == "category":
        await _teach_triage(db, user, ticket, value)


async def _teach_triage(db: AsyncSession, user: User, ticket: Ticket, category: str) -> None:
    """A person's category is triage's decision on the contact that opened the ticket,
    and a label it learns from when retrained."""
    opening = await db.scalar(
        select(Activity)
        .where(Activity.ticket_id == ticket.id, Activity.direction == Direction.INBOUND)
        .order_by(Activity.occurred_at, Activity.id)
        .limit(1)
    )
    if opening is not None:
        await record_decision(db, opening, category, user.login)


def unchanged(ticket: Ticket, field: str, raw: str) -> bool:
    """Tell whether a posted form value is what the ticket holds (the user left it)."""
    current = getattr(ticket, field)
    return raw == ("" if current is None else str(current))


def _as_id(raw: str) -> int:
    if not raw.isdigit() or len(raw) > 18:
        raise Refused(400, "not an id")
    return int(raw)


async def _assignee(db: AsyncSession, user: User, raw: str) -> int | None:
    if raw in ("", "none"):
        if not user.may(Permission.ASSIGN_OTHERS):
            raise Refused(403, "only a supervisor returns tickets to the queue for others")
        return None
    employee = await db.get(Employee, _as_id(raw))
    if employee is None or employee.legal_entity != user.legal_entity or not employee.active:
        raise Refused(400, "no such colleague")
    if employee.id != user.id and not user.may(Permission.ASSIGN_OTHERS):
        raise Refused(403, "only a supervisor assigns tickets to others")
    return employee.id


def add_note(db: AsyncSession, user: User, ticket: Ticket, text: str) -> None:
    text = text.strip()
    if not text:
        raise Refused(400, "the note is empty")
    if len(text) > 20000:
        raise Refused(400, "the note is too long")
    _event(db, user, ticket, "note", text=text)


def close(db: AsyncSession, user: User, ticket: Ticket, code: str, note: str | None = None) -> None:
    """Close the ticket with a resolution code (and an optional closing note)."""
    # TODO(#9): the resolution code lives in the close event; a Ticket column would serve
    # reports better once the core model has one.
    try:
        resolution = Resolution(code)
    except ValueError:
        raise Refused(400, "unknown resolution code") from None
    if ticket.status == TicketStatus.CLOSED:
        raise Refused(409, "the ticket is already closed")
    now = utcnow()
    old = ticket.status
    ticket.status = TicketStatus.CLOSED
    ticket.resolved_at = ticket.resolved_at or now
    ticket.closed_at = now
    _event(db, user, ticket, "close", field="status", old=old, new=resolution, text=note or None)


async def merge(db: AsyncSession, user: User, target: Ticket, other_number: str) -> Ticket:
    """Merge the ticket numbered `other_number` into `target`: its contacts move over."""
    source = await db.scalar(select(Ticket).where(Ticket.number == other_number.strip()))
    if source is None:
        raise Refused(404, "no ticket with this number")
    source = await get_ticket(db, user, source.id)
    if source.id == target.id:
        raise Refused(400, "a ticket cannot be merged into itself")
    if source.status == TicketStatus.CLOSED or target.status == TicketStatus.CLOSED:
        raise Refused(409, "closed tickets are not merged")

    await db.execute(
        update(Activity).where(Activity.ticket_id == source.id).values(ticket_id=target.id)
    )
    if target.partner_id is None and source.partner_id is not None:
        target.partner_id = source.partner_id
        target.metering_point_id = target.metering_point_id or source.metering_point_id
    _event(db, user, target, "merge", field="ticket", old=source.number, new=target.number)
    close(db, user, source, Resolution.MERGED, note=target.number)
    return source


async def link(
    db: AsyncSession,
    user: User,
    ticket: Ticket,
    partner_id: int | None,
    metering_point_id: int | None,
) -> None:
    """Tie the ticket and its inbound contacts to a partner and metering point.

    Where the matcher had decided otherwise, a `MatchCorrection` keeps both answers so
    that matching can learn from it.
    """
    if partner_id is not None and await db.get(Partner, partner_id) is None:
        raise Refused(400, "no such partner")
    if metering_point_id is not None and await db.get(MeteringPoint, metering_point_id) is None:
        raise Refused(400, "no such metering point")
    if (ticket.partner_id, ticket.metering_point_id) == (partner_id, metering_point_id):
        return

    inbound = list(
        await db.scalars(
            select(Activity).where(
                Activity.ticket_id == ticket.id, Activity.direction == Direction.INBOUND
            )
        )
    )
    for activity in inbound or [None]:
        db.add(
            MatchCorrection(
                employee_id=user.id,
                ticket_id=ticket.id,
                activity_id=activity.id if activity else None,
                old_partner_id=activity.partner_id if activity else ticket.partner_id,
                new_partner_id=partner_id,
                old_metering_point_id=(
                    activity.metering_point_id if activity else ticket.metering_point_id
                ),
                new_metering_point_id=metering_point_id,
                match_outcome=activity.match_outcome if activity else None,
                match_score=activity.match_score if activity else None,
                match_reasons=list(activity.match_reasons) if activity else [],
            )
        )
        if activity is not None:
            activity.partner_id, activity.metering_point_id = partner_id, metering_point_id

    old = f"{ticket.partner_id}/{ticket.metering_point_id}"
    ticket.partner_id, ticket.metering_point_id = partner_id, metering_point_id
    _event(
        db, user, ticket, "link", field="partner", old=old, new=f"{partner_id}/{metering_point_id}"
    )
    if partner_id is not None:
        audit(
            db,
            user,
            "update",
            "partner",
            partner_id,
            partner_id=partner_id,
            details={"linked_ticket": ticket.number},
        )
