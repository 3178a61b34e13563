"""SLA clocks: which policy applies, when a target is due, pausing, warnings and breaches.

A ticket gets one clock per target of its policy (first response, resolution; next
response once the customer writes again). A clock counts in the business hours of
the queue's calendar, in open days, or in calendar time, as the policy says. It
pauses while the ticket waits for the customer and resumes with what was left.
Warnings fire at the policy's share of the target, breaches at the due time; both
are recorded once, notify the assignee and the supervisors, and raise the priority.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.models import Calendar, Employee, Queue, SlaPolicy, Ticket
from routing.calendars import BusinessCalendar, SkippedDay, add_calendar_days
from routing.models import (
    ClockMetric,
    ClockState,
    Notification,
    SlaClock,
    SlaRecord,
    Task,
    TaskState,
)

log = structlog.get_logger(__name__)

#: The calendar a ticket without a queue (or a queue without a calendar) counts in.
DEFAULT_CALENDAR = "office"

MINUTES_PER_DAY = 1440

#: Seeded by migration 0006; administrators change them (see DESIGN.md).
DEFAULT_CALENDARS: list[dict[str, Any]] = [
    {
        "code": "office",
        "name": "Office hours Mon-Fri 08:00-16:00, Slovenian public holidays",
        "hours": {str(d): [["08:00", "16:00"]] for d in range(5)},
    },
    {
        "code": "info-line",
        "name": "Info line Mon-Fri 06:00-18:00, Slovenian public holidays",
        "hours": {str(d): [["06:00", "18:00"]] for d in range(5)},
    },
    {
        "code": "always",
        "name": "Faults line, every hour of every day",
        "hours": {str(d): [["00:00", "24:00"]] for d in range(7)},
        "holiday_country": None,
    },
]

DEFAULT_POLICIES: list[dict[str, Any]] = [
    {
        "code": "calls-20s",
        "name": "Calls: 80% answered within 20 s (call centre)",
        "channel": "phone",
        "answer_target_seconds": 20,
        "answer_target_share": "0.800",
    },
    {
        "code": "calls-60s",
        "name": "Calls: 80% answered within 60 s (utilities' common target)",
        "answer_target_seconds": 60,
        "answer_target_share": "0.800",
    },
    {
        "code": "written",
        "name": "Written contacts: first response in 1 business day, answer in 8",
        "first_response_minutes": 1 * MINUTES_PER_DAY,
        "next_response_minutes": 1 * MINUTES_PER_DAY,
        "resolution_minutes": 8 * MINUTES_PER_DAY,
        "whole_days": True,
    },
    {
        "code": "complaint",
        "name": "Complaints: first response in 1 business day, answer in 8",
        "ticket_kind": "complaint",
        "first_response_minutes": 1 * MINUTES_PER_DAY,
        "next_response_minutes": 1 * MINUTES_PER_DAY,
        "resolution_minutes": 8 * MINUTES_PER_DAY,
        "whole_days": True,
    },
    {
        "code": "supplier-switch",
        "name": "Supplier switch completed within 21 days of a complete request",
        "ticket_kind": "change",
        "category": "supplier_switch",
        "resolution_minutes": 21 * MINUTES_PER_DAY,
        "business_hours": False,
        "whole_days": True,
    },
    {
        "code": "final-bill",
        "name": "Final bill within 6 weeks of a switch",
        "category": "final_bill",
        "resolution_minutes": 42 * MINUTES_PER_DAY,
        "business_hours": False,
        "whole_days": True,
    },
]


@dataclass(frozen=True)
class Due:
    """A target's due time, and where a warning falls before it."""

    due_at: datetime
    warn_at: datetime
    span_seconds: float


def choose_policy(
    policies: list[SlaPolicy],
    ticket_kind: str | None,
    category: str | None,
    segment: str | None,
    channel: str | None,
    queue_default_id: int | None = None,
) -> SlaPolicy | None:
    """Pick the most specific policy whose set fields all match; the queue's default next.

    Only policies with a written-work target take part; answer-time policies are for
    calls. Ties go to the queue's default, then to the oldest policy.
    """
    asked = {
        "ticket_kind": ticket_kind,
        "category": category,
        "segment": segment,
        "channel": channel,
    }
    best: tuple[int, int, int] | None = None
    chosen = None
    for policy in policies:
        if not (
            policy.first_response_minutes
            or policy.resolution_minutes
            or policy.next_response_minutes
        ):
            continue
        fields = {name: getattr(policy, name) for name in asked}
        if any(value is not None and value != asked[name] for name, value in fields.items()):
            continue
        specific = sum(value is not None for value in fields.values())
        rank = (specific, int(policy.id == queue_default_id), -policy.id)
        if best is None or rank > best:
            best, chosen = rank, policy
    return chosen


def counting_of(policy: SlaPolicy) -> str:
    if policy.whole_days:
        return "business_days" if policy.business_hours else "calendar_days"
    return "business" if policy.business_hours else "calendar"


def compute_due(
    calendar: BusinessCalendar, counting: str, start: datetime, target_s: float, share: float
) -> Due:
    """Return when a target of `target_s` seconds from `start` is due, and its warning."""
    if counting == "business_days":
        due = calendar.add_days(start, round(target_s / 86400))
    elif counting == "calendar_days":
        due = add_calendar_days(start, round(target_s / 86400), calendar.timezone)
    elif counting == "business":
        due = calendar.add(start, target_s)
    elif counting == "calendar":
        due = start + timedelta(seconds=target_s)
    else:
        raise ValueError(f"unknown counting {counting!r}")
    span = elapsed(calendar, counting, start, due)
    return Due(due, advance(calendar, counting, start, span * share), span)


def elapsed(calendar: BusinessCalendar, counting: str, start: datetime, end: datetime) -> float:
    """Seconds between two instants as the clock counts them (open time or real time)."""
    if counting.startswith("business"):
        return calendar.seconds_between(start, end)
    return (end - start).total_seconds()


def advance(calendar: BusinessCalendar, counting: str, start: datetime, seconds: float) -> datetime:
    """The instant `seconds` of counted time after `start`."""
    if counting.startswith("business"):
        return calendar.add(start, seconds) if seconds > 0 else start
    return start + timedelta(seconds=seconds)


def explain(calendar: BusinessCalendar, start: datetime, due: datetime) -> list[SkippedDay]:
    """The days the clock skipped between `start` and `due`, with the reasons, for the page."""
    return calendar.skipped_days(start, due)


async def explain_ticket(session: AsyncSession, ticket_id: int) -> dict[str, list[SkippedDay]]:
    """For each clock of a ticket, the days its clock skipped, for the ticket page."""
    clocks = await session.execute(
        select(SlaClock).where(SlaClock.ticket_id == ticket_id).order_by(SlaClock.id)
    )
    explained = {}
    for clock in clocks.scalars():
        if clock.due_at is None or not clock.counting.startswith("business"):
            explained[clock.metric] = []
            continue
        _, calendar = await load_calendar(session, clock.calendar_id)
        explained[clock.metric] = calendar.skipped_days(clock.started_at, clock.due_at)
    return explained


async def load_calendar(
    session: AsyncSession, calendar_id: int | None
) -> tuple[int | None, BusinessCalendar]:
    """Return the calendar by id, or the default office calendar, as arithmetic."""
    row = None
    if calendar_id is not None:
        row = await session.get(Calendar, calendar_id)
    if row is None:
        row = (
            await session.execute(select(Calendar).where(Calendar.code == DEFAULT_CALENDAR))
        ).scalar_one_or_none()
    if row is None:
        return None, BusinessCalendar.build()
    return row.id, BusinessCalendar.from_model(row)


async def start_clocks(
    session: AsyncSession,
    ticket: Ticket,
    now: datetime,
    channel: str | None = None,
    segment: str | None = None,
) -> list[SlaClock]:
    """Start the first-response and resolution clocks of a new ticket, once."""
    existing = (
        await session.execute(select(SlaClock).where(SlaClock.ticket_id == ticket.id))
    ).scalars()
    if list(existing):
        return []

    queue = await session.get(Queue, ticket.queue_id) if ticket.queue_id else None
    policies = list((await session.execute(select(SlaPolicy).order_by(SlaPolicy.id))).scalars())
    policy = choose_policy(
        policies,
        ticket.kind,
        ticket.category,
        segment,
        channel,
        queue.sla_policy_id if queue else None,
    )
    if policy is None:
        log.info("sla_no_policy", ticket_id=ticket.id)
        return []

    calendar_id, calendar = await load_calendar(session, queue.calendar_id if queue else None)
    start = ticket.created_at
    clocks = []
    for metric, minutes in (
        (ClockMetric.FIRST_RESPONSE, policy.first_response_minutes),
        (ClockMetric.RESOLUTION, policy.resolution_minutes),
    ):
        if minutes:
            clocks.append(_new_clock(ticket, metric, policy, calendar_id, calendar, start, minutes))
    session.add_all(clocks)
    _copy_due_times(ticket, clocks)
    await session.flush()
    log.info("sla_clocks_started", ticket_id=ticket.id, policy=policy.code, clocks=len(clocks))
    return clocks


def _new_clock(
    ticket: Ticket,
    metric: str,
    policy: SlaPolicy,
    calendar_id: int | None,
    calendar: BusinessCalendar,
    start: datetime,
    minutes: int,
) -> SlaClock:
    counting = counting_of(policy)
    share = float(policy.warn_share or 0.8)
    due = compute_due(calendar, counting, start, minutes * 60, share)
    return SlaClock(
        ticket_id=ticket.id,
        metric=metric,
        policy_id=policy.id,
        calendar_id=calendar_id,
        counting=counting,
        target_seconds=due.span_seconds,
        warn_share=share,
        state=ClockState.RUNNING,
        started_at=start,
        due_at=due.due_at,
        warn_at=due.warn_at,
        paused_seconds=0.0,
    )


def _copy_due_times(ticket: Ticket, clocks: list[SlaClock]) -> None:
    for clock in clocks:
        if clock.metric == ClockMetric.FIRST_RESPONSE:
            ticket.first_response_due = clock.due_at
        elif clock.metric == ClockMetric.RESOLUTION:
            ticket.resolution_due = clock.due_at


async def _ticket_clocks(session: AsyncSession, ticket_id: int, *states: str) -> list[SlaClock]:
    query = select(SlaClock).where(SlaClock.ticket_id == ticket_id)
    if states:
        query = query.where(SlaClock.state.in_(states))
    return list((await session.execute(query.with_for_update())).scalars())


async def pause_clocks(session: AsyncSession, ticket: Ticket, now: datetime) -> int:
    """Stop the running clocks of `ticket`, keeping what is left of each."""
    paused = 0
    for clock in await _ticket_clocks(session, ticket.id, ClockState.RUNNING):
        _, calendar = await load_calendar(session, clock.calendar_id)
        assert clock.due_at is not None
        clock.remaining_seconds = max(0.0, elapsed(calendar, clock.counting, now, clock.due_at))
        clock.state, clock.paused_at = ClockState.PAUSED, now
        paused += 1
    return paused


async def resume_clocks(session: AsyncSession, ticket: Ticket, now: datetime) -> int:
    """Run the paused clocks of `ticket` again, with the time they had left."""
    resumed = 0
    for clock in await _ticket_clocks(session, ticket.id, ClockState.PAUSED):
        _, calendar = await load_calendar(session, clock.calendar_id)
        left = clock.remaining_seconds or 0.0
        clock.due_at = advance(calendar, clock.counting, now, left) if left else now
        if clock.warned_at is None:
            before_due = (1 - clock.warn_share) * clock.target_seconds
            clock.warn_at = advance(calendar, clock.counting, now, max(0.0, left - before_due))
        assert clock.paused_at is not None
        clock.paused_seconds += (now - clock.paused_at).total_seconds()
        clock.state, clock.paused_at, clock.remaining_seconds = ClockState.RUNNING, None, None
        resumed += 1
    _copy_due_times(ticket, await _ticket_clocks(session, ticket.id))
    return resumed


async def meet_clocks(session: AsyncSession, ticket: Ticket, now: datetime, *metrics: str) -> int:
    """Mark clocks of `metrics` as met now (a response sent, the ticket resolved)."""
    met = 0
    for clock in await _ticket_clocks(session, ticket.id):
        if clock.metric in metrics and clock.met_at is None:
            if clock.state == ClockState.PAUSED:
                clock.paused_at, clock.remaining_seconds = None, None
            clock.state = ClockState.MET if clock.breached_at is None else ClockState.BREACHED
            clock.met_at = now
            met += 1
    return met


async def start_next_response(session: AsyncSession, ticket: Ticket, now: datetime) -> bool:
    """The customer wrote again: a next-response clock runs until the next answer."""
    clock = (
        await session.execute(
            select(SlaClock).where(
                SlaClock.ticket_id == ticket.id, SlaClock.metric == ClockMetric.NEXT_RESPONSE
            )
        )
    ).scalar_one_or_none()
    first = (
        await session.execute(
            select(SlaClock).where(
                SlaClock.ticket_id == ticket.id, SlaClock.metric == ClockMetric.FIRST_RESPONSE
            )
        )
    ).scalar_one_or_none()
    if first is None or first.met_at is None or first.policy_id is None:
        return False  # the first response is still owed; its clock covers this
    policy = await session.get(SlaPolicy, first.policy_id)
    if policy is None or not policy.next_response_minutes:
        return False
    if clock is not None and clock.met_at is None:
        return False  # already waiting for an answer

    calendar_id, calendar = await load_calendar(session, first.calendar_id)
    fresh = _new_clock(
        ticket,
        ClockMetric.NEXT_RESPONSE,
        policy,
        calendar_id,
        calendar,
        now,
        policy.next_response_minutes,
    )
    if clock is None:
        session.add(fresh)
    else:
        for name in ("target_seconds", "state", "started_at", "due_at", "warn_at", "counting"):
            setattr(clock, name, getattr(fresh, name))
        clock.warned_at = clock.breached_at = clock.met_at = None
    return True


async def fire_clocks(
    session: AsyncSession, clocks: list[SlaClock], kind: str, now: datetime
) -> list[dict[str, Any]]:
    """Record a warning or breach of each clock once; notify and raise the priorities.

    Returns one event payload per fired clock, to publish once the caller has committed.
    """
    if not clocks:
        return []  # the usual sweep: nothing due, no statement sent
    ticket_ids = {clock.ticket_id for clock in clocks}
    tickets = {
        t.id: t
        for t in (await session.execute(select(Ticket).where(Ticket.id.in_(ticket_ids)))).scalars()
    }
    supervisors: dict[tuple[str, int | None], list[int]] = {}
    raised: set[int] = set()
    fired: list[dict[str, Any]] = []
    for clock in clocks:
        ticket = tickets.get(clock.ticket_id)
        if ticket is None:
            continue
        session.add(_mark(clock, ticket, kind, now))
        if ticket.id not in raised:
            ticket.priority = max(1, ticket.priority - 1)
            raised.add(ticket.id)

        key = (ticket.legal_entity, ticket.queue_id)
        if key not in supervisors:
            supervisors[key] = await _supervisors(session, ticket)
        recipients = list(supervisors[key])
        if ticket.assignee_id is not None and ticket.assignee_id not in recipients:
            recipients.insert(0, ticket.assignee_id)
        text = _notice(kind, clock, ticket)
        # TODO(#8): "email" rows wait for the mail sender of the email channel to send
        # and mark them done; nothing drains them yet.
        details = {"metric": clock.metric, "due_at": _iso(clock.due_at)}
        fired.append(
            {"ticket_id": ticket.id, "assignee_id": ticket.assignee_id, "recipients": recipients}
            | details
        )
        session.add_all(
            Notification(
                employee_id=employee_id,
                channel=channel,
                kind=f"sla.{kind}",
                ticket_id=ticket.id,
                text=text,
                created_at=now,
                details=details,
            )
            for employee_id in recipients
            for channel in ("ui", "email")
        )
    await session.flush()

    # The waiting or held tasks of these tickets move up with them.
    await session.execute(
        update(Task)
        .where(Task.ticket_id.in_(raised), Task.state.in_((TaskState.QUEUED, TaskState.ASSIGNED)))
        .values(
            priority=select(Ticket.priority).where(Ticket.id == Task.ticket_id).scalar_subquery()
        )
    )
    log.info("sla_fired", kind=kind, clocks=len(fired), tickets=len(raised))
    return fired


def _mark(clock: SlaClock, ticket: Ticket, kind: str, now: datetime) -> SlaRecord:
    if kind == "warning":
        clock.warned_at = now
    else:
        clock.breached_at, clock.state = now, ClockState.BREACHED
        clock.warned_at = clock.warned_at or now
        if clock.metric not in (ticket.breaches or []):
            ticket.breaches = [*(ticket.breaches or []), clock.metric]
    return SlaRecord(
        ticket_id=ticket.id,
        metric=clock.metric,
        kind=kind,
        at=now,
        due_at=clock.due_at,
        queue_id=ticket.queue_id,
        assignee_id=ticket.assignee_id,
        legal_entity=ticket.legal_entity,
    )


async def _supervisors(session: AsyncSession, ticket: Ticket) -> list[int]:
    """The supervisors of the ticket's legal entity and of its queue's org unit."""
    query = select(Employee.id).where(
        Employee.role == "supervisor",
        Employee.active.is_(True),
        Employee.legal_entity == ticket.legal_entity,
    )
    queue = await session.get(Queue, ticket.queue_id) if ticket.queue_id else None
    if queue is not None:
        query = query.where(Employee.org_unit == queue.org_unit)
    return list((await session.execute(query.order_by(Employee.id))).scalars())


def _notice(kind: str, clock: SlaClock, ticket: Ticket) -> str:
    what = clock.metric.replace("_", " ")
    due = _iso(clock.due_at)
    if kind == "warning":
        return (
            f"Ticket {ticket.number}: {what} due at {due}; {clock.warn_share:.0%} of the time used."
        )
    return f"Ticket {ticket.number}: {what} was due at {due} and is overdue."


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
