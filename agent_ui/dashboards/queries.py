"""The queries behind the dashboards: filters in, tables of figures out.

Every function takes a session and a `Filters` whose legal entity is the viewer's
own (unbundling); none of them scans: contacts are read from `dash_contact` by
(entity, day) or (queue, day), tickets by (entity, created_at) or their status.
The figures themselves are made by `kpis`, here only grouped.
"""

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.dashboards import kpis
from agent_ui.dashboards.facts import LOCAL
from agent_ui.dashboards.models import ContactFact
from agent_ui.i18n import N_, gettext, label
from agent_ui.models import TicketEvent
from interactions.models import (
    WRITTEN_CHANNELS,
    Activity,
    Channel,
    Employee,
    Queue,
    SlaPolicy,
    Ticket,
    TicketKind,
)
from routing import staffing
from routing.models import (
    AgentState,
    ClockState,
    PresenceChange,
    SlaClock,
    SlaRecord,
    Task,
    TaskState,
)
from routing.models import Presence as AgentPresence

C = ContactFact
BACKLOG_BUCKETS = ((0, 1), (1, 3), (3, 8), (8, 15), (15, None))  # days
STAFFING_SLOTS = 8
FORECAST_WEEKS = 4
DEFAULT_HANDLE_S = 180.0
PRESENCE_GROUPS = {
    AgentPresence.AVAILABLE: "agents_available",
    AgentPresence.BUSY: "agents_busy",
    AgentPresence.WRAP_UP: "agents_wrap_up",
    AgentPresence.BREAK: "agents_break",
    AgentPresence.MISSED: "agents_break",
    AgentPresence.OFFLINE: "agents_offline",
}


@dataclass(frozen=True)
class Filters:
    """What a report counts: one entity, a period of local days, and optional narrowing."""

    legal_entity: str
    day_from: date
    day_to: date
    queue_id: int | None = None
    channel: str | None = None
    category: str | None = None
    agent_id: int | None = None
    params: kpis.Params = field(default_factory=kpis.Params)

    @property
    def start(self) -> datetime:
        return local_midnight(self.day_from)

    @property
    def end(self) -> datetime:
        return local_midnight(self.day_to + timedelta(days=1))

    def query(self) -> dict[str, str]:
        """The filters as query parameters, for links and CSV exports."""
        found = {"from": self.day_from.isoformat(), "to": self.day_to.isoformat()}
        for key, value in (
            ("queue", self.queue_id),
            ("channel", self.channel),
            ("category", self.category),
            ("agent", self.agent_id),
        ):
            if value is not None:
                found[key] = str(value)
        found["target"] = str(self.params.target_s)
        return found


@dataclass
class Table:
    """One table of a page, the same for HTML, CSV and JSON."""

    code: str
    title: str
    columns: list[tuple[str, str]]
    rows: list[dict[str, Any]]

    def as_json(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "columns": [k for k, _ in self.columns],
            "rows": self.rows,
        }


def local_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), LOCAL).astimezone(UTC)


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL).date()


def _contact_where(f: Filters) -> list[ColumnElement[bool]]:
    where = [C.legal_entity == f.legal_entity, C.local_day.between(f.day_from, f.day_to)]
    if f.queue_id is not None:
        where.append(C.queue_id == f.queue_id)
    if f.channel is not None:
        where.append(C.channel == f.channel)
    if f.category is not None:
        where.append(C.category == f.category)
    if f.agent_id is not None:
        where.append(C.employee_id == f.agent_id)
    return where


def _ticket_where(f: Filters, by_creation: bool = True) -> list[ColumnElement[bool]]:
    where = [Ticket.legal_entity == f.legal_entity]
    if by_creation:
        where += [Ticket.created_at >= f.start, Ticket.created_at < f.end]
    if f.queue_id is not None:
        where.append(Ticket.queue_id == f.queue_id)
    if f.category is not None:
        where.append(Ticket.category == f.category)
    if f.agent_id is not None:
        where.append(Ticket.assignee_id == f.agent_id)
    return where


async def _sums(db: AsyncSession, columns: dict[str, Any], where: list[Any]) -> dict[str, float]:
    row = (await db.execute(select(*(v.label(k) for k, v in columns.items())).where(*where))).one()
    return dict(row._mapping)


# -- the service-quality report ----------------------------------------------------------


@dataclass(frozen=True)
class Group:
    """The sums of the contacts of one local day, hour and channel."""

    day: date
    hour: int
    channel: str
    sums: dict[str, float]


async def contact_groups(db: AsyncSession, f: Filters) -> list[Group]:
    """One pass over the period's contacts: sums by day, hour and channel, which add up."""
    sums = kpis.contact_sums(f.params)
    rows = await db.execute(
        select(C.local_day, C.local_hour, C.channel, *(v.label(k) for k, v in sums.items()))
        .where(*_contact_where(f))
        .group_by(C.local_day, C.local_hour, C.channel)
    )
    return [
        Group(r.local_day, r.local_hour, r.channel, {k: float(r._mapping[k]) for k in sums})
        for r in rows
    ]


def _added(groups: list[Group]) -> dict[str, float]:
    total: dict[str, float] = {}
    for group in groups:
        for key, value in group.sums.items():
            total[key] = total.get(key, 0.0) + value
    return total


def _breach_where(f: Filters) -> list[ColumnElement[bool]]:
    where = [
        SlaRecord.kind == "breach",
        SlaRecord.legal_entity == f.legal_entity,
        SlaRecord.at >= f.start,
        SlaRecord.at < f.end,
    ]
    if f.queue_id is not None:
        where.append(SlaRecord.queue_id == f.queue_id)
    if f.agent_id is not None:
        where.append(SlaRecord.assignee_id == f.agent_id)
    if f.category is not None:
        where.append(Ticket.category == f.category)
    return where


async def summary(
    db: AsyncSession, f: Filters, now: datetime, groups: list[Group] | None = None
) -> dict[str, float]:
    """The sums of the whole period: every summary figure is made from these."""
    contacts = _added(groups if groups is not None else await contact_groups(db, f))
    contacts.setdefault("contacts", 0.0)
    tickets = await _sums(db, kpis.ticket_sums(now), _ticket_where(f))
    breaches = await db.scalar(
        select(func.count())
        .select_from(SlaRecord)
        .join(Ticket, Ticket.id == SlaRecord.ticket_id)
        .where(*_breach_where(f))
    )
    return kpis.with_derived({**contacts, **tickets, "breaches": breaches or 0})


def summary_table(f: Filters, sums: dict[str, float]) -> Table:
    codes = (*kpis.CALL_SUMMARY, *kpis.TICKET_SUMMARY, "breaches")
    values = kpis.values(codes, sums)
    rows = [
        {"code": d["code"], "figure": d["label"], "value": values[d["code"]], "unit": u}
        for d, u in zip(
            kpis.definitions(codes, f.params), (kpis.KPIS[c].unit for c in codes), strict=True
        )
    ]
    return Table(
        "summary",
        gettext("Summary"),
        [("figure", gettext("Figure")), ("value", gettext("Value")), ("unit", gettext("Unit"))],
        rows,
    )


DAY_FIGURES = (
    "offered",
    "answered",
    "service_level",
    "asa",
    "abandonment_rate",
    "short_abandons",
    "aht",
)


def service_level_table(groups: list[Group]) -> Table:
    by_day: dict[date, list[Group]] = {}
    for group in groups:
        if group.channel == Channel.PHONE:
            by_day.setdefault(group.day, []).append(group)
    out = [
        {
            "day": day.isoformat(),
            **kpis.values(DAY_FIGURES, kpis.with_derived(_added(by_day[day]))),
        }
        for day in sorted(by_day)
    ]
    return Table(
        "service_level_by_day",
        gettext("Service level by day"),
        [("day", gettext("Day")), *((k, kpis.KPIS[k].title()) for k in DAY_FIGURES)],
        out,
    )


async def service_level_by_day(db: AsyncSession, f: Filters) -> Table:
    return service_level_table(await contact_groups(db, f))


def volume_by_hour_table(groups: list[Group]) -> Table:
    counts: dict[tuple[int, str], int] = {}
    for group in groups:
        key = (group.hour, group.channel)
        counts[key] = counts.get(key, 0) + int(group.sums["contacts"])
    out = [{"hour": h, "channel": ch, "contacts": n} for (h, ch), n in sorted(counts.items())]
    return Table(
        "volume_by_hour",
        gettext("Volume by channel and hour of day"),
        [
            ("hour", gettext("Hour")),
            ("channel", gettext("Channel")),
            ("contacts", gettext("Contacts")),
        ],
        out,
    )


async def volume_by_hour(db: AsyncSession, f: Filters) -> Table:
    return volume_by_hour_table(await contact_groups(db, f))


def volume_by_channel(by_hour: Table) -> Table:
    """The period's contacts per channel, added up from the table by hour."""
    totals: dict[str, int] = {}
    for row in by_hour.rows:
        totals[row["channel"]] = totals.get(row["channel"], 0) + row["contacts"]
    out = [{"channel": ch, "contacts": n} for ch, n in sorted(totals.items(), key=lambda i: -i[1])]
    return Table(
        "volume_by_channel",
        gettext("Volume by channel"),
        [("channel", gettext("Channel")), ("contacts", gettext("Contacts"))],
        out,
    )


async def sla_by_kind_category(db: AsyncSession, f: Filters, now: datetime) -> Table:
    sums = kpis.ticket_sums(now)
    rows = await db.execute(
        select(Ticket.kind, Ticket.category, *(v.label(k) for k, v in sums.items()))
        .where(*_ticket_where(f))
        .group_by(Ticket.kind, Ticket.category)
        .order_by(Ticket.kind, Ticket.category)
    )
    out = []
    for row in rows:
        found = {k: float(row._mapping[k]) for k in sums}
        out.append(
            {
                "kind": row.kind,
                "category": row.category or "",
                "tickets": int(found["tickets"]),
                **kpis.values(kpis.TICKET_SUMMARY, found),
            }
        )
    return Table(
        "sla_by_kind_category",
        gettext("SLA compliance by ticket kind and category"),
        [
            ("kind", gettext("Kind")),
            ("category", gettext("Category")),
            ("tickets", gettext("Tickets")),
            *[(k, kpis.KPIS[k].title()) for k in kpis.TICKET_SUMMARY],
        ],
        out,
    )


def _bucket_label(low: int, high: int | None) -> str:
    if high is None:
        return gettext("%(days)s days or more") % {"days": low}
    return gettext("%(low)s–%(high)s days") % {"low": low, "high": high}


async def backlog_by_age(db: AsyncSession, f: Filters, now: datetime) -> Table:
    """Open tickets now, by how long ago they were opened (not bound to the period)."""
    age = case(
        *[
            (Ticket.created_at > now - timedelta(days=high), index)
            for index, (_low, high) in enumerate(BACKLOG_BUCKETS)
            if high is not None
        ],
        else_=len(BACKLOG_BUCKETS) - 1,
    )
    rows = dict(
        (
            await db.execute(
                select(age, func.count())
                .where(*_ticket_where(f, by_creation=False), Ticket.status.in_(kpis.OPEN_STATUSES))
                .group_by(age)
            )
        ).all()
    )
    out = [
        {"age": _bucket_label(low, high), "tickets": rows.get(i, 0)}
        for i, (low, high) in enumerate(BACKLOG_BUCKETS)
    ]
    return Table(
        "backlog_by_age",
        gettext("Backlog by age (open tickets now)"),
        [("age", gettext("Age")), ("tickets", gettext("Tickets"))],
        out,
    )


async def complaints(db: AsyncSession, f: Filters) -> Table:
    """Complaints (reklamacije) opened in the period, by category and where they stand."""
    resolution = (
        select(TicketEvent.new_value)
        .where(TicketEvent.ticket_id == Ticket.id, TicketEvent.kind == "close")
        .order_by(TicketEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    outcome = func.coalesce(resolution, Ticket.status)
    rows = await db.execute(
        select(Ticket.category, outcome, func.count())
        .where(*_ticket_where(f), Ticket.kind == TicketKind.COMPLAINT)
        .group_by(Ticket.category, outcome)
        .order_by(Ticket.category, outcome)
    )
    out = [{"category": cat or "", "outcome": o, "complaints": n} for cat, o, n in rows]
    return Table(
        "complaints",
        gettext("Complaints by category and outcome"),
        [
            ("category", gettext("Category")),
            ("outcome", gettext("Outcome")),
            ("complaints", gettext("Complaints")),
        ],
        out,
    )


async def breaches_by_category(db: AsyncSession, f: Filters) -> Table:
    rows = await db.execute(
        select(Ticket.category, SlaRecord.metric, func.count())
        .join(Ticket, Ticket.id == SlaRecord.ticket_id)
        .where(*_breach_where(f))
        .group_by(Ticket.category, SlaRecord.metric)
        .order_by(Ticket.category, SlaRecord.metric)
    )
    out = [{"category": cat or "", "metric": m, "breaches": n} for cat, m, n in rows]
    return Table(
        "breaches_by_category",
        gettext("SLA breaches by category"),
        [
            ("category", gettext("Category")),
            ("metric", gettext("Deadline")),
            ("breaches", gettext("Breaches")),
        ],
        out,
    )


async def report(db: AsyncSession, f: Filters, now: datetime) -> dict[str, Table]:
    """Every table of the service-quality report."""
    groups = await contact_groups(db, f)
    by_hour = volume_by_hour_table(groups)
    tables = [
        summary_table(f, await summary(db, f, now, groups)),
        service_level_table(groups),
        by_hour,
        volume_by_channel(by_hour),
        await sla_by_kind_category(db, f, now),
        await backlog_by_age(db, f, now),
        await complaints(db, f),
        await breaches_by_category(db, f),
    ]
    return {t.code: t for t in tables}


# -- the live wallboard ---------------------------------------------------------------------


async def entity_queues(db: AsyncSession, entity: str) -> list[Queue]:
    return list(
        await db.scalars(select(Queue).where(Queue.legal_entity == entity).order_by(Queue.name))
    )


async def _presence_by_unit(db: AsyncSession, entity: str) -> dict[str, dict[str, float]]:
    """Agents of each org unit by presence; those without a state are offline."""
    # TODO(#10): a queue's agents are those of its org unit; counting by the queue's
    # skills needs routing's eligibility rules (routing/rules.py) exposed as a query.
    state = func.coalesce(AgentState.presence, AgentPresence.OFFLINE)
    rows = await db.execute(
        select(Employee.org_unit, state, func.count())
        .outerjoin(AgentState, AgentState.employee_id == Employee.id)
        .where(Employee.legal_entity == entity, Employee.active.is_(True))
        .group_by(Employee.org_unit, state)
    )
    units: dict[str, dict[str, float]] = {}
    for unit, presence, n in rows:
        figures = units.setdefault(unit, dict.fromkeys(set(PRESENCE_GROUPS.values()), 0))
        figures[PRESENCE_GROUPS.get(presence, "agents_offline")] += n
    return units


async def wallboard(db: AsyncSession, entity: str, now: datetime, target_s: int) -> dict:
    """Per queue and in total: waiting, agents, calls today and tickets, as figures."""
    queues = await entity_queues(db, entity)
    ids = [q.id for q in queues]
    today = local_today(now)
    params = kpis.Params(target_s=target_s)
    per_queue: dict[int | None, dict[str, float]] = {
        q: {"waiting": 0, "longest_wait": 0.0} for q in ids
    }

    waiting = await db.execute(
        select(Task.queue_id, func.count(), func.min(Task.created_at))
        .where(Task.legal_entity == entity, Task.state == TaskState.QUEUED)
        .group_by(Task.queue_id)
    )
    for queue_id, n, oldest in waiting:
        if queue_id in per_queue:
            per_queue[queue_id] |= {
                "waiting": n,
                "longest_wait": max(0.0, (now - oldest).total_seconds()) if oldest else 0,
            }

    sums = kpis.contact_sums(params, with_fcr=False)
    calls = await db.execute(
        select(C.queue_id, *(v.label(k) for k, v in sums.items()))
        .where(C.legal_entity == entity, C.local_day == today, C.channel == Channel.PHONE)
        .group_by(C.queue_id)
    )
    for row in calls:
        if row.queue_id in per_queue:
            per_queue[row.queue_id] |= {k: float(row._mapping[k]) for k in sums}

    open_tickets = await _ticket_risk(db, entity, now)
    for queue_id, figures in open_tickets.items():
        if queue_id in per_queue:
            per_queue[queue_id] |= figures

    units = await _presence_by_unit(db, entity)
    rows = []
    for queue in queues:
        found = kpis.with_derived(per_queue[queue.id])
        found |= units.get(queue.org_unit, {})
        rows.append(
            {"queue_id": queue.id, "queue": queue.name, **kpis.values(kpis.WALL_FIGURES, found)}
        )
    total = _wall_total(per_queue, units)
    return {
        "at": now.isoformat(),
        "legal_entity": entity,
        "target_s": target_s,
        "queues": rows,
        "total": {"queue_id": None, "queue": gettext("All queues"), **total},
    }


def _wall_total(
    per_queue: dict[int | None, dict[str, float]], units: dict[str, dict[str, float]]
) -> dict[str, float | None]:
    added: dict[str, float] = {}
    longest = 0.0
    for figures in per_queue.values():
        for key, value in figures.items():
            if key == "longest_wait":
                longest = max(longest, value)
            else:
                added[key] = added.get(key, 0) + value
    for figures in units.values():
        for key, value in figures.items():
            added[key] = added.get(key, 0) + value
    added["longest_wait"] = longest
    return kpis.values(kpis.WALL_FIGURES, kpis.with_derived(added))


async def _ticket_risk(db: AsyncSession, entity: str, now: datetime) -> dict:
    """Open tickets per queue, and how many of them are at risk or breached."""
    unmet = (
        select(
            SlaClock.ticket_id,
            func.max(
                case(
                    (or_(SlaClock.state == ClockState.BREACHED, SlaClock.due_at <= now), 1),
                    else_=0,
                )
            ).label("breached"),
            func.max(case((SlaClock.warn_at <= now, 1), else_=0)).label("warned"),
        )
        .where(SlaClock.state.in_((ClockState.RUNNING, ClockState.BREACHED)))
        .group_by(SlaClock.ticket_id)
        .subquery()
    )
    breached = func.coalesce(unmet.c.breached, 0)
    at_risk = case((and_(breached == 0, unmet.c.warned == 1), 1), else_=0)
    rows = await db.execute(
        select(Ticket.queue_id, func.count(), func.sum(breached), func.sum(at_risk))
        .outerjoin(unmet, unmet.c.ticket_id == Ticket.id)
        .where(Ticket.legal_entity == entity, Ticket.status.in_(kpis.OPEN_STATUSES))
        .group_by(Ticket.queue_id)
    )
    return {
        q: {"tickets_open": n, "tickets_breached": b or 0, "tickets_at_risk": r or 0}
        for q, n, b, r in rows
    }


# -- staffing ------------------------------------------------------------------------------


async def _policy_target(db: AsyncSession, queue: Queue) -> tuple[int, float]:
    if queue.sla_policy_id is not None:
        policy = await db.get(SlaPolicy, queue.sla_policy_id)
        if policy is not None and policy.answer_target_seconds:
            share = float(policy.answer_target_share or 0.8)
            return int(policy.answer_target_seconds), min(max(share, 0.01), 0.99)
    return kpis.DEFAULT_TARGET_S, 0.8


async def staffing_table(db: AsyncSession, entity: str, now: datetime) -> Table:
    """For each queue, the rest of today's half hours: forecast, agents needed and present."""
    today = local_today(now)
    local = now.astimezone(LOCAL)
    first_slot = local.hour * 2 + local.minute // 30
    slots = list(range(first_slot, min(48, first_slot + STAFFING_SLOTS)))
    same_days = [today - timedelta(weeks=w) for w in range(1, FORECAST_WEEKS + 1)]
    units = await _presence_by_unit(db, entity)
    out: list[dict[str, Any]] = []

    # One pass over the same weekday of the last weeks: calls per queue and half hour,
    # and the sums of their handle time (the queue's handle time on such a day).
    handle_sums = {
        k: v
        for k, v in kpis.contact_sums(kpis.Params(), with_fcr=False).items()
        if k.startswith("handle")
    }
    rows = await db.execute(
        select(
            C.queue_id, C.local_slot, func.count(), *(v.label(k) for k, v in handle_sums.items())
        )
        .where(
            C.legal_entity == entity,
            C.local_day.in_(same_days),
            C.channel == Channel.PHONE,
        )
        .group_by(C.queue_id, C.local_slot)
    )
    seen: dict[tuple[int | None, int], int] = {}
    handled: dict[int | None, dict[str, float]] = {}
    for row in rows:
        seen[(row.queue_id, row.local_slot)] = row[2]
        sums = handled.setdefault(row.queue_id, {})
        for key in handle_sums:
            sums[key] = sums.get(key, 0.0) + float(row._mapping[key])

    for queue in await entity_queues(db, entity):
        if queue.channels and Channel.PHONE not in queue.channels:
            continue
        target_s, target_level = await _policy_target(db, queue)
        handle_s = kpis.KPIS["aht"].value(handled.get(queue.id, {})) or DEFAULT_HANDLE_S
        present = units.get(queue.org_unit, {})
        logged_in = int(
            sum(v for k, v in present.items() if k not in ("agents_offline", "agents_break"))
        )
        for slot in slots:
            arrivals = seen.get((queue.id, slot), 0) / FORECAST_WEEKS
            needed = staffing.agents_needed(arrivals, handle_s, target_s, target_level)
            expected = staffing.evaluate(logged_in, arrivals, handle_s, target_s)
            out.append(
                {
                    "queue": queue.name,
                    "interval": f"{slot // 2:02d}:{(slot % 2) * 30:02d}",
                    "forecast_calls": round(arrivals, 2),
                    "handle_seconds": round(handle_s, 1),
                    "target": f"{round(target_level * 100)}% / {target_s} s",
                    "agents_needed": needed.agents,
                    "agents_logged_in": logged_in,
                    "expected_service_level": round(expected.service_level, 3)
                    if arrivals
                    else None,
                    "short": logged_in < needed.agents,
                }
            )
    return Table(
        "staffing",
        gettext("Staffing for the rest of today"),
        [
            ("queue", gettext("Queue")),
            ("interval", gettext("Half hour from")),
            ("forecast_calls", gettext("Calls forecast")),
            ("handle_seconds", gettext("Handle time (s)")),
            ("target", gettext("Target")),
            ("agents_needed", gettext("Agents needed")),
            ("agents_logged_in", gettext("Agents logged in")),
            ("expected_service_level", gettext("Expected service level")),
        ],
        out,
    )


# -- agents ---------------------------------------------------------------------------------


async def agents_table(db: AsyncSession, f: Filters, now: datetime) -> Table:
    """Per agent: contacts by channel, handle time, presence time by state, breaches."""
    people_query = select(Employee).where(
        Employee.legal_entity == f.legal_entity, Employee.active.is_(True)
    )
    if f.agent_id is not None:
        people_query = people_query.where(Employee.id == f.agent_id)
    people = list(await db.scalars(people_query.order_by(Employee.full_name)))
    ids = [p.id for p in people]

    where = _contact_where(f)
    counts = await db.execute(
        select(C.employee_id, C.channel, func.count())
        .where(*where, C.employee_id.in_(ids))
        .group_by(C.employee_id, C.channel)
    )
    by_channel: dict[int, dict[str, int]] = {}
    for employee_id, channel, n in counts:
        by_channel.setdefault(employee_id, {})[channel] = n
    handle_cols = {k: v for k, v in kpis.contact_sums(f.params).items() if k.startswith("handle")}
    handles = await db.execute(
        select(C.employee_id, *(v.label(k) for k, v in handle_cols.items()))
        .where(*where, C.employee_id.in_(ids))
        .group_by(C.employee_id)
    )
    handle = {r.employee_id: kpis.KPIS["aht"].value(r._mapping) for r in handles}
    breaches = dict(
        (
            await db.execute(
                select(SlaRecord.assignee_id, func.count())
                .where(
                    SlaRecord.kind == "breach",
                    SlaRecord.assignee_id.in_(ids),
                    SlaRecord.at >= f.start,
                    SlaRecord.at < f.end,
                )
                .group_by(SlaRecord.assignee_id)
            )
        ).all()
    )
    presence = await presence_seconds(db, ids, f.start, min(f.end, now))

    rows = []
    for person in people:
        channels = by_channel.get(person.id, {})
        row: dict[str, Any] = {"agent": person.full_name, "login": person.login}
        row |= {f"contacts_{ch}": channels.get(ch, 0) for ch in Channel}
        row["aht"] = handle.get(person.id)
        row |= {f"presence_{p}": round(presence.get(person.id, {}).get(p, 0)) for p in _STATES}
        row["breaches"] = breaches.get(person.id, 0)
        rows.append(row)
    columns = [("agent", gettext("Agent")), ("login", gettext("Login"))]
    columns += [(f"contacts_{ch}", label(ch) or ch) for ch in Channel]
    columns += [("aht", kpis.KPIS["aht"].title())]
    columns += [(f"presence_{p}", gettext("%(state)s (s)") % {"state": label(p)}) for p in _STATES]
    columns += [("breaches", kpis.KPIS["breaches"].title())]
    return Table("agents", gettext("Agents"), columns, rows)


_STATES = tuple(p.value for p in AgentPresence)


async def presence_seconds(
    db: AsyncSession, ids: list[int], start: datetime, end: datetime
) -> dict[int, dict[str, float]]:
    """Seconds each agent spent in each presence between `start` and `end`."""
    if not ids or end <= start:
        return {}
    before = (
        select(PresenceChange.employee_id, func.max(PresenceChange.at).label("at"))
        .where(PresenceChange.employee_id.in_(ids), PresenceChange.at <= start)
        .group_by(PresenceChange.employee_id)
        .subquery()
    )
    opening = await db.execute(
        select(PresenceChange.employee_id, PresenceChange.presence, PresenceChange.at).join(
            before,
            and_(
                before.c.employee_id == PresenceChange.employee_id,
                before.c.at == PresenceChange.at,
            ),
        )
    )
    changes = await db.execute(
        select(PresenceChange.employee_id, PresenceChange.presence, PresenceChange.at)
        .where(
            PresenceChange.employee_id.in_(ids),
            PresenceChange.at > start,
            PresenceChange.at < end,
        )
        .order_by(PresenceChange.employee_id, PresenceChange.at, PresenceChange.id)
    )
    timeline: dict[int, list[tuple[datetime, str]]] = {}
    for employee_id, state, _at in opening:
        timeline[employee_id] = [(start, state)]
    for employee_id, state, at in changes:
        timeline.setdefault(employee_id, []).append((at, state))
    out: dict[int, dict[str, float]] = {}
    for employee_id, steps in timeline.items():
        spent = out.setdefault(employee_id, {})
        for (at, state), (following, _) in zip(steps, [*steps[1:], (end, "")], strict=True):
            spent[state] = spent.get(state, 0.0) + (following - at).total_seconds()
    return out


# -- the regulator's quarterly report ------------------------------------------------------

REGULATOR_KINDS = (TicketKind.COMPLAINT, TicketKind.REQUEST, TicketKind.QUESTION)
REGULATOR_TARGETS = (20, 60)
REGULATOR_NOUNS = {
    TicketKind.COMPLAINT: N_("complaints"),
    TicketKind.REQUEST: N_("requests"),
    TicketKind.QUESTION: N_("questions"),
}


def quarter_days(year: int, quarter: int) -> tuple[date, date]:
    first = date(year, 3 * quarter - 2, 1)
    last = (date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)) - timedelta(
        days=1
    )
    return first, last


async def regulator_table(
    db: AsyncSession, entity: str, year: int, quarter: int, now: datetime
) -> Table:
    """The commercial-quality figures of one quarter: written contacts, then calls."""
    first, last = quarter_days(year, quarter)
    f = Filters(entity, first, last)
    rows: list[dict[str, Any]] = []
    written = exists().where(
        Activity.ticket_id == Ticket.id, Activity.channel.in_(sorted(WRITTEN_CHANNELS))
    )
    ticket_columns = kpis.ticket_sums(now)
    by_kind = await db.execute(
        select(Ticket.kind, *(v.label(k) for k, v in ticket_columns.items()))
        .where(*_ticket_where(f), Ticket.kind.in_(REGULATOR_KINDS), written)
        .group_by(Ticket.kind)
    )
    kinds = {r.kind: {k: float(r._mapping[k]) for k in ticket_columns} for r in by_kind}
    for kind in REGULATOR_KINDS:
        found = kinds.get(kind, dict.fromkeys(ticket_columns, 0.0))
        rows += [
            _figure(
                f"written_{kind}_received", N_("Written %(kind)s received"), kind, found["tickets"]
            ),
            _figure(
                f"written_{kind}_first_response_in_time",
                N_("Written %(kind)s with first response in time"),
                kind,
                found["first_response_met"],
            ),
            _figure(
                f"written_{kind}_answered_in_time",
                N_("Written %(kind)s answered within the deadline"),
                kind,
                found["resolution_met"],
            ),
            _figure(
                f"written_{kind}_answered_in_time_share",
                N_("Share of written %(kind)s answered within the deadline"),
                kind,
                kpis.KPIS["resolution_compliance"].value(found),
                "share",
            ),
        ]

    # One pass over the quarter's calls for both answer targets.
    columns = kpis.contact_sums(kpis.Params(target_s=REGULATOR_TARGETS[0]), with_fcr=False)
    for target in REGULATOR_TARGETS[1:]:
        other = kpis.contact_sums(kpis.Params(target_s=target), with_fcr=False)
        columns[f"answered_in_target_{target}"] = other["answered_in_target"]
    calls = kpis.with_derived(
        await _sums(db, columns, [*_contact_where(f), C.channel == Channel.PHONE])
    )
    for code in ("calls", "offered", "answered", "asa", "abandonment_rate"):
        rows.append(
            {
                "code": f"calls_{code}",
                "figure": kpis.KPIS[code].title(),
                "value": kpis.KPIS[code].value(calls),
                "unit": kpis.KPIS[code].unit,
            }
        )
    for target in REGULATOR_TARGETS:
        in_target = calls.get(f"answered_in_target_{target}", calls["answered_in_target"])
        rows.append(
            {
                "code": f"calls_service_level_{target}s",
                "figure": gettext("Calls answered within %(s)s s") % {"s": target},
                "value": kpis.KPIS["service_level"].value(
                    calls | {"answered_in_target": in_target}
                ),
                "unit": "share",
            }
        )
    return Table(
        "regulator",
        gettext("Commercial quality, %(year)s Q%(q)s") % {"year": year, "q": quarter},
        [("code", gettext("Code")), ("figure", gettext("Figure")), ("value", gettext("Value"))],
        rows,
    )


def _figure(
    code: str, text: str, kind: str, value: float | None, unit: str = "count"
) -> dict[str, Any]:
    shown = gettext(text) % {"kind": gettext(REGULATOR_NOUNS[kind])}
    return {"code": code, "figure": shown, "value": value, "unit": unit}
