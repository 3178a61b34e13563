"""The routing engine: tasks in, agents chosen, offers timed, clocks swept, all in the DB.

Every method is one or a few short transactions, and every piece of state is a row,
so a restarted node loses nothing and several nodes on one PostgreSQL can run the
engine together:

- waiting tasks are taken with `FOR UPDATE SKIP LOCKED`, so two nodes never hold
  the same task;
- an agent's load changes only by a conditional UPDATE that checks capacity in the
  same statement, so two nodes never overfill one agent;
- each kind of timer sweep runs under a transaction-scoped advisory lock, and the
  rows it changes are locked with SKIP LOCKED too, so no timer fires twice.

On SQLite every write transaction takes the database lock (BEGIN IMMEDIATE): the
engine is correct there on a single node, which is the rule for SQLite installs.
Methods take `now` so that tests and the simulation can drive a clock of their own.
"""

import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, func, insert, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.models import (
    Activity,
    Employee,
    Partner,
    Queue,
    SlaPolicy,
    Ticket,
    TicketStatus,
)
from interactions.store import Store
from interactions.types import utcnow
from routing import sla
from routing.assignment import (
    AgentView,
    QueueView,
    TaskView,
    capacity_limits,
    pick,
)
from routing.models import (
    AWAY,
    OPEN_TASK_STATES,
    AgentState,
    ClockMetric,
    ClockState,
    Presence,
    PresenceChange,
    SlaClock,
    Task,
    TaskKind,
    TaskNote,
    TaskState,
)
from routing.rules import QueueRules

log = structlog.get_logger(__name__)

#: Waiting tasks looked at per decision before the engine gives up for now.
SCAN_LIMIT = 400
PAGE = 10
#: SLA clocks fired per transaction of a sweep.
SWEEP_BATCH = 500
CACHE_SECONDS = 5.0
LIVE_CHANNELS = ("phone", "visit")
#: The workspace's presence switch, in the engine's terms.
WORKSPACE_PRESENCE = {
    "available": Presence.AVAILABLE,
    "break": Presence.BREAK,
    "offline": Presence.OFFLINE,
}


@dataclass(frozen=True)
class Decision:
    task_id: int
    agent_id: int
    kind: str
    state: str  # offered (a call ringing) or assigned (a ticket)


@dataclass
class SweepReport:
    offers_expired: int = 0
    overflowed: int = 0
    wrap_ups_ended: int = 0
    returned: int = 0
    adopted: int = 0
    warnings: int = 0
    breaches: int = 0
    decisions: list[Decision] = field(default_factory=list)


def _lock_key(name: str) -> int:
    return zlib.crc32(f"stik.routing.{name}".encode())


class RoutingEngine:
    """One node's engine over the shared store."""

    def __init__(self, store: Store, node: str = "node") -> None:
        self.store = store
        self.node = node
        self._agents: dict[int, tuple[str, str, dict[str, int], frozenset[str]]] = {}
        self._queues: dict[int, QueueView] = {}
        self._cached_at = 0.0
        self._outbox: list[tuple[str, dict[str, Any]]] = []

    # Caches of slowly changing configuration: agents' skills, queues' rules.

    async def _refresh(self, session: AsyncSession, force: bool = False) -> None:
        if not force and time.monotonic() - self._cached_at < CACHE_SECONDS:
            return
        employees = await session.execute(
            select(
                Employee.id,
                Employee.legal_entity,
                Employee.org_unit,
                Employee.skills,
                Employee.languages,
            )
        )
        self._agents = {
            row.id: (
                row.legal_entity,
                row.org_unit,
                dict(row.skills or {}),
                frozenset(row.languages or ()),
            )
            for row in employees
        }
        queues = await session.execute(select(Queue))
        self._queues = {q.id: _queue_view(q) for q in queues.scalars()}
        self._cached_at = time.monotonic()

    def forget(self) -> None:
        """Drop cached agents and queues; the next decision reads them again."""
        self._cached_at = 0.0

    def _queue(self, queue_id: int | None, legal_entity: str) -> QueueView:
        if queue_id is not None and queue_id in self._queues:
            return self._queues[queue_id]
        return QueueView(None, legal_entity, None)

    # Tasks in.

    async def enqueue_call(
        self,
        legal_entity: str,
        queue_id: int | None = None,
        activity_id: int | None = None,
        language: str | None = None,
        skills: dict[str, int] | None = None,
        priority: int = 3,
        now: datetime | None = None,
        channel: str = "phone",
    ) -> int:
        """Put a live call in the line; its deadline is the queue's answer target."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            await self._refresh(session)
            queue = self._queue(queue_id, legal_entity)
            answer_s = await _answer_target(session, queue_id)
            task = Task(
                kind=TaskKind.CALL,
                channel=channel,
                activity_id=activity_id,
                queue_id=queue_id,
                legal_entity=legal_entity,
                required_skills=dict(skills or {}),
                language=language,
                priority=priority,
                created_at=now,
                due_at=now + timedelta(seconds=answer_s),
                next_overflow_at=_next_overflow(queue.rules, 0, now),
                missed_by=[],
            )
            session.add(task)
            await session.flush()
            task_id = task.id
        await self.store.bus.publish("task.queued", {"task_id": task_id, "kind": "call"})
        return task_id

    async def enqueue_ticket(
        self,
        ticket_id: int,
        now: datetime | None = None,
        channel: str = "email",
        preferred_agent_id: int | None = None,
    ) -> int | None:
        """Start a ticket's SLA clocks and put it in the line, unless it has an open task."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id, with_for_update=True)
            if ticket is None or ticket.status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
                return None
            open_task = await session.scalar(
                select(Task.id).where(Task.ticket_id == ticket_id, Task.state.in_(OPEN_TASK_STATES))
            )
            if open_task is not None:
                return None

            activity = await session.scalar(
                select(Activity)
                .where(Activity.ticket_id == ticket_id)
                .order_by(Activity.id)
                .limit(1)
            )
            partner = await session.get(Partner, ticket.partner_id) if ticket.partner_id else None
            if ticket.queue_id is None:
                ticket.queue_id = await _queue_for(session, ticket.legal_entity, channel)
            await sla.start_clocks(
                session, ticket, now, channel, partner.segment if partner else None
            )
            await self._refresh(session)
            queue = self._queue(ticket.queue_id, ticket.legal_entity)
            triage = (activity.meta or {}).get("triage", {}) if activity else {}
            task = Task(
                kind=TaskKind.TICKET,
                channel=activity.channel if activity else channel,
                ticket_id=ticket_id,
                activity_id=activity.id if activity else None,
                queue_id=ticket.queue_id,
                legal_entity=ticket.legal_entity,
                required_skills=dict(triage.get("skills") or {}),
                language=(activity.language if activity else None)
                or (partner.language if partner else None),
                priority=ticket.priority,
                created_at=now,
                due_at=ticket.first_response_due or ticket.resolution_due,
                next_overflow_at=_next_overflow(queue.rules, 0, now),
                preferred_agent_id=preferred_agent_id,
                missed_by=[],
            )
            session.add(task)
            await session.flush()
            task_id = task.id
        await self.store.bus.publish("task.queued", {"task_id": task_id, "kind": "ticket"})
        return task_id

    # Decisions.

    async def assign_next(self, now: datetime | None = None) -> Decision | None:
        """Give the first waiting task that some free agent may take to the best such agent."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            await self._refresh(session)
            agents = await self._free_agents(session)
            if not agents:
                return None
            decision = await self._decide(session, agents, now)
        if decision is not None:
            await self._announce(decision)
        return decision

    async def dispatch(self, now: datetime | None = None, limit: int = 1000) -> list[Decision]:
        """Make decisions until no waiting task fits a free agent."""
        decisions = []
        while len(decisions) < limit:
            decision = await self.assign_next(now)
            if decision is None:
                break
            decisions.append(decision)
        return decisions

    async def _free_agents(self, session: AsyncSession) -> list[AgentView]:
        """Agents with a routable presence and room for a call or a ticket."""
        rows = await session.execute(
            select(
                AgentState.employee_id,
                AgentState.presence,
                AgentState.idle_since,
                AgentState.calls,
                AgentState.written,
                AgentState.max_calls,
                AgentState.max_written,
                AgentState.max_written_on_call,
            ).where(
                AgentState.presence.in_((Presence.AVAILABLE, Presence.BUSY, Presence.WRAP_UP)),
                or_(
                    and_(
                        AgentState.presence == Presence.AVAILABLE,
                        AgentState.calls < AgentState.max_calls,
                    ),
                    AgentState.written < AgentState.max_written,
                ),
            )
        )
        agents = []
        for agent_id, presence, idle, calls, written, max_calls, max_written, on_call in rows:
            profile = self._agents.get(agent_id)
            if profile is None:
                continue
            entity, unit, skills, languages = profile
            agents.append(
                AgentView(
                    id=agent_id,
                    legal_entity=entity,
                    org_unit=unit,
                    skills=skills,
                    languages=languages,
                    presence=presence,
                    idle_since=idle,
                    calls=calls,
                    written=written,
                    max_calls=max_calls,
                    max_written=max_written,
                    max_written_on_call=on_call,
                )
            )
        return agents

    async def _decide(
        self, session: AsyncSession, agents: list[AgentView], now: datetime
    ) -> Decision | None:
        entities = {a.legal_entity for a in agents}
        kinds = {k for k in (TaskKind.CALL, TaskKind.TICKET) if any(a.can_take(k) for a in agents)}
        line = (
            select(Task)
            .where(
                Task.state == TaskState.QUEUED,
                Task.legal_entity.in_(entities),
                Task.kind.in_(kinds),
            )
            .order_by(Task.priority, Task.due_at.asc().nulls_last(), Task.created_at, Task.id)
            .limit(PAGE)
            .with_for_update(skip_locked=True)
        )
        for offset in range(0, SCAN_LIMIT, PAGE):
            rows = {t.id: t for t in (await session.execute(line.offset(offset))).scalars()}
            views = [_task_view(t) for t in rows.values()]
            while agents and (choice := pick(views, agents, self._queue_of)) is not None:
                view, agent = choice
                if await _reserve(session, agent.id, view.kind, now):
                    return await self._apply(session, rows[view.id], agent.id, now)
                agents.remove(agent)  # another node filled this agent meanwhile
            if not agents or len(rows) < PAGE:
                return None
        # TODO(#8): tasks beyond SCAN_LIMIT that only rare agents fit wait for the next pass.
        return None

    def _queue_of(self, task: TaskView) -> QueueView:
        return self._queue(task.queue_id, task.legal_entity)

    async def _apply(
        self, session: AsyncSession, task: Task, agent_id: int, now: datetime
    ) -> Decision:
        queue = self._queue(task.queue_id, task.legal_entity)
        task.agent_id = agent_id
        if task.kind == TaskKind.CALL:
            task.state = TaskState.OFFERED
            task.offered_at = now
            task.offer_expires_at = now + timedelta(seconds=queue.rules.ring_timeout_s)
        else:
            task.state = TaskState.ASSIGNED
            task.assigned_at = now
            if task.ticket_id is not None:
                await session.execute(
                    update(Ticket).where(Ticket.id == task.ticket_id).values(assignee_id=agent_id)
                )
        task.next_overflow_at = None
        session.add(TaskNote(task_id=task.id, at=now, event=task.state, agent_id=agent_id))
        await session.flush()
        return Decision(task.id, agent_id, task.kind, task.state)

    async def _announce(self, decision: Decision) -> None:
        event = "task.offered" if decision.state == TaskState.OFFERED else "task.assigned"
        log.info(event.replace(".", "_"), task_id=decision.task_id, agent_id=decision.agent_id)
        await self.store.bus.publish(
            event,
            {"task_id": decision.task_id, "agent_id": decision.agent_id, "kind": decision.kind},
        )

    # What agents do.

    async def accept(self, task_id: int, agent_id: int, now: datetime | None = None) -> bool:
        """The agent answered the ringing call in time; it is theirs."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            accepted = await session.execute(
                update(Task)
                .where(
                    Task.id == task_id,
                    Task.state == TaskState.OFFERED,
                    Task.agent_id == agent_id,
                    Task.offer_expires_at > now,
                )
                .values(state=TaskState.ASSIGNED, assigned_at=now, offer_expires_at=None)
                .returning(Task.id)
            )
            if accepted.first() is None:
                return False
            await session.execute(
                update(AgentState)
                .where(AgentState.employee_id == agent_id)
                .values(presence=Presence.BUSY, since=now)
            )
            session.add(TaskNote(task_id=task_id, at=now, event="accepted", agent_id=agent_id))
        await self.store.bus.publish(
            "task.assigned", {"task_id": task_id, "agent_id": agent_id, "kind": "call"}
        )
        return True

    async def decline(self, task_id: int, agent_id: int, now: datetime | None = None) -> bool:
        """The agent turned the ringing call down; it goes to the next agent at once."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            task = await session.get(Task, task_id, with_for_update=True)
            if task is None or task.state != TaskState.OFFERED or task.agent_id != agent_id:
                return False
            await _release(session, agent_id, task.kind)
            task.missed_by = [*task.missed_by, agent_id]
            await _requeue(session, task, now, "declined: offered to the next agent")
        await self.store.bus.publish(
            "task.requeued", {"task_id": task_id, "agent_id": agent_id, "reason": "declined"}
        )
        await self.dispatch(now)
        return True

    async def touch(self, task_id: int, now: datetime | None = None) -> None:
        """The agent worked on the task; it stays with them when they step away."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            await session.execute(
                update(Task)
                .where(Task.id == task_id, Task.touched_at.is_(None))
                .values(touched_at=now)
            )

    async def complete(
        self, task_id: int, now: datetime | None = None, outcome: str = TaskState.DONE
    ) -> bool:
        """The call ended (or was abandoned) or the ticket was done; capacity is free again."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            task = await session.get(Task, task_id, with_for_update=True)
            if task is None or task.state not in OPEN_TASK_STATES:
                return False
            agent_id, state = task.agent_id, task.state
            task.state, task.ended_at = outcome, now
            if agent_id is not None and state != TaskState.QUEUED:
                await self._end_work(session, task, agent_id, now)
            session.add(TaskNote(task_id=task_id, at=now, event=outcome, agent_id=agent_id))
        await self.store.bus.publish("task.done", {"task_id": task_id, "outcome": outcome})
        return True

    async def _end_work(
        self, session: AsyncSession, task: Task, agent_id: int, now: datetime
    ) -> None:
        await _release(session, agent_id, task.kind)
        if task.kind != TaskKind.CALL:
            return
        queue = self._queue(task.queue_id, task.legal_entity)
        wrap = queue.rules.wrap_up_s
        await session.execute(
            update(AgentState)
            .where(AgentState.employee_id == agent_id, AgentState.presence == Presence.BUSY)
            .values(
                presence=Presence.WRAP_UP if wrap else Presence.AVAILABLE,
                since=now,
                idle_since=now,
                wrap_up_until=now + timedelta(seconds=wrap) if wrap else None,
            )
        )

    async def set_presence(
        self,
        agent_id: int,
        presence: Presence,
        reason: str | None = None,
        now: datetime | None = None,
    ) -> None:
        """Change an agent's presence; calls of an agent who steps away are re-offered at once."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            state = await _agent_state(session, agent_id, now)
            was = state.presence
            state.presence, state.reason, state.since = presence, reason, now
            if presence == Presence.AVAILABLE:
                state.wrap_up_until = None
                if was != Presence.AVAILABLE:
                    state.idle_since = now
            session.add(
                PresenceChange(employee_id=agent_id, presence=presence, reason=reason, at=now)
            )
            requeued = 0
            if presence in AWAY:
                requeued = await self._return_calls(session, agent_id, presence, now)
            await self._refresh(session, force=True)
            if presence in AWAY:
                requeued += await self._return_tickets(session, agent_id, now)
        log.info("agent_presence", agent_id=agent_id, presence=presence, requeued=requeued)
        if presence not in AWAY or requeued:
            await self.dispatch(now)

    async def _return_calls(
        self, session: AsyncSession, agent_id: int, presence: str, now: datetime
    ) -> int:
        calls = await session.execute(
            select(Task)
            .where(
                Task.agent_id == agent_id,
                Task.kind == TaskKind.CALL,
                Task.state.in_((TaskState.OFFERED, TaskState.ASSIGNED)),
            )
            .with_for_update()
        )
        count = 0
        for task in calls.scalars():
            await _release(session, agent_id, task.kind)
            await _requeue(session, task, now, f"re-offered: agent went {presence}")
            count += 1
        return count

    async def _return_tickets(
        self, session: AsyncSession, agent_id: int | None, now: datetime
    ) -> int:
        """Return untouched tickets of away agents whose queue's grace period has passed."""
        query = (
            select(Task, AgentState.since, AgentState.presence)
            .join(AgentState, AgentState.employee_id == Task.agent_id)
            .where(
                Task.kind == TaskKind.TICKET,
                Task.state == TaskState.ASSIGNED,
                Task.touched_at.is_(None),
                AgentState.presence.in_(tuple(AWAY)),
            )
            .with_for_update(of=Task, skip_locked=True)
        )
        if agent_id is not None:
            query = query.where(Task.agent_id == agent_id)
        count = 0
        for task, since, presence in (await session.execute(query)).all():
            rules = self._queue(task.queue_id, task.legal_entity).rules
            if rules.on_away != "return" or now < since + timedelta(seconds=rules.away_grace_s):
                continue
            assert task.agent_id is not None
            await _release(session, task.agent_id, task.kind)
            minutes = rules.away_grace_s / 60
            await _requeue(
                session,
                task,
                now,
                f"returned to the queue: untouched, agent {presence} for {minutes:g} min",
            )
            count += 1
        return count

    # Tickets changing status.

    async def ticket_status(
        self, ticket_id: int, status: TicketStatus, now: datetime | None = None
    ) -> None:
        """Apply a ticket's new status to its clocks and task."""
        now = now or utcnow()
        reopened, previous = False, None
        async with self.store.sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id, with_for_update=True)
            if ticket is None:
                return
            was, ticket.status = ticket.status, status
            if status == TicketStatus.PENDING_CUSTOMER:
                await sla.pause_clocks(session, ticket, now)
            elif status in (TicketStatus.OPEN, TicketStatus.NEW):
                if was == TicketStatus.PENDING_CUSTOMER:
                    await sla.resume_clocks(session, ticket, now)
                    await sla.start_next_response(session, ticket, now)
                elif was in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
                    # TODO(#8): a reopened ticket gets a task but no fresh resolution
                    # clock; the policy for reopened work is not decided yet.
                    ticket.resolved_at = ticket.closed_at = None
                    reopened, previous = True, ticket.assignee_id
            else:
                metrics = list(ClockMetric)
                await sla.meet_clocks(session, ticket, now, *metrics)
                ticket.resolved_at = ticket.resolved_at or now
                if status == TicketStatus.CLOSED:
                    ticket.closed_at = now
            open_tasks = list(
                (
                    await session.execute(
                        select(Task.id).where(
                            Task.ticket_id == ticket_id, Task.state.in_(OPEN_TASK_STATES)
                        )
                    )
                ).scalars()
            )
        log.info("ticket_status", ticket_id=ticket_id, status=status, was=was)
        if status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            for task_id in open_tasks:
                await self.complete(task_id, now)
        if reopened:
            await self.enqueue_ticket(ticket_id, now, preferred_agent_id=previous)
            await self.dispatch(now)
        elif status in (TicketStatus.RESOLVED, TicketStatus.CLOSED):
            await self.dispatch(now)

    async def responded(self, ticket_id: int, now: datetime | None = None) -> None:
        """An agent answered the customer: response clocks are met, the task was touched."""
        now = now or utcnow()
        async with self.store.sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id, with_for_update=True)
            if ticket is None:
                return
            await sla.meet_clocks(
                session, ticket, now, ClockMetric.FIRST_RESPONSE, ClockMetric.NEXT_RESPONSE
            )
            ticket.first_responded_at = ticket.first_responded_at or now
            await session.execute(
                update(Task)
                .where(
                    Task.ticket_id == ticket_id,
                    Task.state == TaskState.ASSIGNED,
                    Task.touched_at.is_(None),
                )
                .values(touched_at=now)
            )

    # Timers.

    async def sweep(self, now: datetime | None = None) -> SweepReport:
        """Fire every timer that is due: ring timeouts, overflow, wrap-up, returns, SLA."""
        now = now or utcnow()
        report = SweepReport()
        report.adopted = await self._adopt_tickets(now)
        report.offers_expired = await self._timer("offers", self._expire_offers, now)
        report.overflowed = await self._timer("overflow", self._overflow, now)
        report.wrap_ups_ended = await self._timer("wrap_up", self._end_wrap_ups, now)
        report.returned = await self._timer("away", self._away_returns, now)
        # Breaches first: a clock found past due is breached, not warned as well.
        report.breaches = await self._repeat("sla_breach", self._sla_breaches, now)
        report.warnings = await self._repeat("sla_warning", self._sla_warnings, now)
        report.decisions = await self.dispatch(now)
        return report

    async def _repeat(self, name: str, work: Any, now: datetime) -> int:
        """Run a batched timer until a batch comes back short."""
        total = 0
        while True:
            fired = await self._timer(name, work, now)
            total += fired
            if fired < SWEEP_BATCH:
                return total

    async def _adopt_tickets(self, now: datetime) -> int:
        """Enqueue new tickets that never got a task (their node stopped before routing)."""
        async with self.store.sessions() as session:
            has_task = select(Task.id).where(Task.ticket_id == Ticket.id).exists()
            orphans = list(
                (
                    await session.execute(
                        select(Ticket.id)
                        .where(
                            Ticket.status == TicketStatus.NEW,
                            Ticket.assignee_id.is_(None),
                            ~has_task,
                        )
                        .order_by(Ticket.id)
                        .limit(SWEEP_BATCH)
                    )
                ).scalars()
            )
        adopted = 0
        for ticket_id in orphans:
            adopted += await self.enqueue_ticket(ticket_id, now) is not None
        if adopted:
            log.info("tickets_adopted", count=adopted)
        return adopted

    async def _timer(self, name: str, work: Any, now: datetime) -> int:
        self._outbox = []
        async with self.store.sessions() as session, session.begin():
            if self.store.dialect == "postgresql":
                claimed = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:key)"), {"key": _lock_key(name)}
                )
                if not claimed:
                    return 0  # another node is firing these timers right now
            await self._refresh(session)
            count: int = await work(session, now)
        for event, payload in self._outbox:  # committed: now others may hear of it
            await self.store.bus.publish(event, payload)
        return count

    async def _expire_offers(self, session: AsyncSession, now: datetime) -> int:
        expired = await session.execute(
            select(Task)
            .where(Task.state == TaskState.OFFERED, Task.offer_expires_at <= now)
            .with_for_update(skip_locked=True)
        )
        count = 0
        for task in expired.scalars():
            agent_id = task.agent_id
            assert agent_id is not None
            await _release(session, agent_id, task.kind)
            task.missed_by = [*task.missed_by, agent_id]
            await session.execute(
                update(AgentState)
                .where(
                    AgentState.employee_id == agent_id, AgentState.presence == Presence.AVAILABLE
                )
                .values(presence=Presence.MISSED, reason="ring timeout", since=now)
            )
            session.add(
                PresenceChange(
                    employee_id=agent_id, presence=Presence.MISSED, reason="ring timeout", at=now
                )
            )
            await _requeue(session, task, now, "ring timeout: offered to the next agent")
            self._outbox.append(
                (
                    "task.requeued",
                    {"task_id": task.id, "agent_id": agent_id, "reason": "ring timeout"},
                )
            )
            count += 1
        return count

    async def _overflow(self, session: AsyncSession, now: datetime) -> int:
        due = await session.execute(
            select(Task)
            .where(Task.state == TaskState.QUEUED, Task.next_overflow_at <= now)
            .with_for_update(skip_locked=True)
        )
        count = 0
        for task in due.scalars():
            rules = self._queue(task.queue_id, task.legal_entity).rules
            waited = (now - task.created_at).total_seconds()
            while (
                task.overflow_level < len(rules.overflow)
                and waited >= rules.overflow[task.overflow_level].after_s
            ):
                step = rules.overflow[task.overflow_level]
                task.overflow_level += 1
                session.add(
                    TaskNote(
                        task_id=task.id,
                        at=now,
                        event="overflow",
                        text=f"step {task.overflow_level}: {step.action}",
                    )
                )
                if step.action != "widen" and task.kind == TaskKind.CALL:
                    task.state, task.ended_at = TaskState.VOICEMAIL, now
                    self._outbox.append(
                        ("task.voicemail", {"task_id": task.id, "action": step.action})
                    )
                    break
            task.next_overflow_at = (
                _next_overflow(rules, task.overflow_level, task.created_at)
                if task.state == TaskState.QUEUED
                else None
            )
            count += 1
        return count

    async def _end_wrap_ups(self, session: AsyncSession, now: datetime) -> int:
        ended = await session.execute(
            update(AgentState)
            .where(AgentState.presence == Presence.WRAP_UP, AgentState.wrap_up_until <= now)
            .values(presence=Presence.AVAILABLE, since=now, wrap_up_until=None)
            .returning(AgentState.employee_id)
        )
        return len(ended.all())

    async def _away_returns(self, session: AsyncSession, now: datetime) -> int:
        return await self._return_tickets(session, None, now)

    async def _sla_warnings(self, session: AsyncSession, now: datetime) -> int:
        fired = await _fire(session, "warning", SlaClock.warn_at, SlaClock.warned_at, now)
        self._outbox += [("sla.warning", payload) for payload in fired]
        return len(fired)

    async def _sla_breaches(self, session: AsyncSession, now: datetime) -> int:
        fired = await _fire(session, "breach", SlaClock.due_at, SlaClock.breached_at, now)
        self._outbox += [("sla.breach", payload) for payload in fired]
        return len(fired)

    # The event bus.

    async def on_event(self, event: str, payload: dict[str, Any]) -> None:
        """React to `ticket.opened` and `activity.recorded` from `record_contact`, and
        to `agent.presence` from the workspace's presence switch."""
        if event == "ticket.opened":
            await self.enqueue_ticket(payload["ticket_id"])
            await self.dispatch()
        elif event == "activity.recorded":
            if _concerns_routing(payload):
                await self._on_activity(payload["activity_id"])
        elif event == "agent.presence":
            presence = WORKSPACE_PRESENCE.get(str(payload.get("state")))
            if presence is not None and isinstance(payload.get("employee_id"), int):
                await self.set_presence(payload["employee_id"], presence, payload.get("reason"))

    async def _on_activity(self, activity_id: int) -> None:
        async with self.store.sessions() as session:
            activity = await session.get(Activity, activity_id)
            if activity is None:
                return
            ticket_ids = {activity.ticket_id} - {None}
            number = (activity.meta or {}).get("ticket_number")
            if number:
                linked = await session.scalar(select(Ticket.id).where(Ticket.number == str(number)))
                if linked is not None:
                    ticket_ids.add(linked)
            statuses = (
                {
                    row.id: row.status
                    for row in await session.execute(
                        select(Ticket.id, Ticket.status).where(Ticket.id.in_(ticket_ids))
                    )
                }
                if ticket_ids
                else {}
            )
        if activity.direction == "outbound":
            if (activity.meta or {}).get("automatic"):
                return  # an acknowledgement is no answer: the response clocks run on
            for ticket_id in statuses:
                await self.responded(ticket_id)
            return
        for ticket_id, status in statuses.items():
            if status == TicketStatus.PENDING_CUSTOMER:
                await self.ticket_status(ticket_id, TicketStatus.OPEN, activity.received_at)
        if activity.channel in LIVE_CHANNELS and (activity.meta or {}).get("live"):
            await self.enqueue_call(
                activity.legal_entity or self.store.default_legal_entity,
                await self._call_queue(activity),
                activity_id=activity.id,
                language=activity.language,
                channel=activity.channel,
            )
            await self.dispatch()

    async def _call_queue(self, activity: Activity) -> int | None:
        async with self.store.sessions() as session:
            return await _queue_for(
                session, activity.legal_entity or self.store.default_legal_entity, activity.channel
            )

    # Work moved by a person: the workspace's take, assign, queue and priority changes.

    async def ticket_taken(
        self, ticket_id: int, agent_id: int | None, now: datetime | None = None
    ) -> None:
        """A person gave the ticket to `agent_id`, or back to the queue (None).

        The task follows, so that routing offers it to nobody else: the written capacity
        moves from whoever held it to the new agent (past their limit if need be, since
        a person decided), and it counts as touched. A ticket routing has not seen yet
        gets its clocks and task first.
        """
        now = now or utcnow()
        await self.enqueue_ticket(ticket_id, now, preferred_agent_id=agent_id)
        async with self.store.sessions() as session, session.begin():
            task = await session.scalar(
                select(Task)
                .where(Task.ticket_id == ticket_id, Task.state.in_(OPEN_TASK_STATES))
                .with_for_update()
            )
            if task is None:
                return  # resolved or closed meanwhile: nothing left to route
            held_by = task.agent_id
            if held_by is not None and held_by != agent_id:
                await _release(session, held_by, task.kind)
            if agent_id is None:
                if held_by is not None:
                    await _requeue(session, task, now, "returned to the queue by hand")
            elif held_by != agent_id:
                await _agent_state(session, agent_id, now)
                await session.execute(
                    update(AgentState)
                    .where(AgentState.employee_id == agent_id)
                    .values(written=AgentState.written + 1)
                )
                task.state, task.agent_id, task.assigned_at = TaskState.ASSIGNED, agent_id, now
                task.offered_at = task.offer_expires_at = task.next_overflow_at = None
                session.add(
                    TaskNote(
                        task_id=task.id, at=now, event="taken", agent_id=agent_id, text="by hand"
                    )
                )
            if agent_id is not None:
                task.touched_at = task.touched_at or now
            # A decision routing made between the enqueue above and here is overruled.
            await session.execute(
                update(Ticket).where(Ticket.id == ticket_id).values(assignee_id=agent_id)
            )
            task_id = task.id
        log.info("ticket_taken", ticket_id=ticket_id, agent_id=agent_id, was=held_by)
        if agent_id is None:
            await self.store.bus.publish("task.requeued", {"task_id": task_id, "agent_id": held_by})
            await self.dispatch(now)
        elif held_by != agent_id:
            await self.store.bus.publish(
                "task.assigned", {"task_id": task_id, "agent_id": agent_id, "kind": "ticket"}
            )

    async def ticket_changed(self, ticket_id: int, now: datetime | None = None) -> None:
        """The ticket's queue or priority changed by hand; its open task follows."""
        async with self.store.sessions() as session, session.begin():
            ticket = await session.get(Ticket, ticket_id)
            if ticket is None:
                return
            await session.execute(
                update(Task)
                .where(Task.ticket_id == ticket_id, Task.state.in_(OPEN_TASK_STATES))
                .values(queue_id=ticket.queue_id, priority=ticket.priority)
            )
        await self.dispatch(now)


def _concerns_routing(recorded: dict[str, Any]) -> bool:
    """Whether a recorded contact can touch a ticket or a line; an old-style payload may."""
    if "channel" not in recorded:
        return True
    return bool(
        recorded.get("ticket_id") or recorded.get("refers_to_ticket") or recorded.get("live")
    )


# Statements shared by the engine's methods.


def _queue_view(queue: Queue) -> QueueView:
    try:
        rules = QueueRules.parse(queue.rules)
    except ValueError as exc:
        log.warning("queue_rules_invalid", queue=queue.code, error=str(exc))
        rules = QueueRules()
    return QueueView(queue.id, queue.legal_entity, queue.org_unit, dict(queue.skills or {}), rules)


def _task_view(task: Task) -> TaskView:
    return TaskView(
        id=task.id,
        kind=task.kind,
        legal_entity=task.legal_entity,
        created_at=task.created_at,
        queue_id=task.queue_id,
        priority=task.priority,
        due_at=task.due_at,
        required_skills=dict(task.required_skills or {}),
        language=task.language,
        overflow_level=task.overflow_level,
        preferred_agent_id=task.preferred_agent_id,
        missed_by=tuple(task.missed_by or ()),
    )


def _next_overflow(rules: QueueRules, level: int, since: datetime) -> datetime | None:
    after = rules.next_step_at(level)
    return since + timedelta(seconds=after) if after is not None else None


async def _answer_target(session: AsyncSession, queue_id: int | None) -> float:
    if queue_id is not None:
        seconds = await session.scalar(
            select(SlaPolicy.answer_target_seconds)
            .join(Queue, Queue.sla_policy_id == SlaPolicy.id)
            .where(Queue.id == queue_id)
        )
        if seconds:
            return float(seconds)
    return 20.0


async def _queue_for(session: AsyncSession, legal_entity: str, channel: str) -> int | None:
    """The first queue of the entity that takes `channel`, for work that names none."""
    queues = await session.execute(
        select(Queue.id, Queue.channels)
        .where(Queue.legal_entity == legal_entity)
        .order_by(Queue.id)
    )
    for queue_id, channels in queues:
        if channel in (channels or ()):
            return int(queue_id)
    return None


async def _agent_state(session: AsyncSession, agent_id: int, now: datetime) -> AgentState:
    state = await session.get(AgentState, agent_id, with_for_update=True)
    employee = await session.get(Employee, agent_id)
    if employee is None:
        raise LookupError(f"no employee {agent_id}")
    calls, written, on_call = capacity_limits(employee.capacity)
    if state is None:
        await session.execute(
            insert(AgentState).values(
                employee_id=agent_id,
                presence=Presence.OFFLINE,
                since=now,
                idle_since=now,
                calls=0,
                written=0,
                max_calls=calls,
                max_written=written,
                max_written_on_call=on_call,
            )
        )
        state = await session.get_one(AgentState, agent_id, with_for_update=True)
    state.max_calls, state.max_written, state.max_written_on_call = calls, written, on_call
    return state


async def _reserve(session: AsyncSession, agent_id: int, kind: str, now: datetime) -> bool:
    """Take one unit of the agent's capacity, if it is still free; atomic on both databases."""
    if kind == TaskKind.CALL:
        fits = and_(
            AgentState.presence == Presence.AVAILABLE,
            AgentState.calls < AgentState.max_calls,
            AgentState.written <= AgentState.max_written_on_call,
        )
        values: dict[str, Any] = {"calls": AgentState.calls + 1, "idle_since": now}
    else:
        fits = and_(
            AgentState.presence.in_((Presence.AVAILABLE, Presence.BUSY, Presence.WRAP_UP)),
            or_(
                and_(AgentState.calls == 0, AgentState.written < AgentState.max_written),
                and_(AgentState.calls > 0, AgentState.written < AgentState.max_written_on_call),
            ),
        )
        values = {"written": AgentState.written + 1, "idle_since": now}
    taken = await session.execute(
        update(AgentState)
        .where(AgentState.employee_id == agent_id, fits)
        .values(**values)
        .returning(AgentState.employee_id)
    )
    return taken.first() is not None


async def _release(session: AsyncSession, agent_id: int, kind: str) -> None:
    column = AgentState.calls if kind == TaskKind.CALL else AgentState.written
    await session.execute(
        update(AgentState)
        .where(AgentState.employee_id == agent_id)
        .values(
            {
                column: func.max(column - 1, 0)
                if session.bind.dialect.name == "sqlite"
                else func.greatest(column - 1, 0)
            }
        )
    )


async def _requeue(session: AsyncSession, task: Task, now: datetime, note: str) -> None:
    agent_id = task.agent_id
    task.state, task.agent_id = TaskState.QUEUED, None
    task.offered_at = task.offer_expires_at = task.assigned_at = None
    if task.kind == TaskKind.TICKET and task.ticket_id is not None:
        await session.execute(
            update(Ticket)
            .where(Ticket.id == task.ticket_id, Ticket.assignee_id == agent_id)
            .values(assignee_id=None)
        )
    session.add(TaskNote(task_id=task.id, at=now, event="requeued", agent_id=agent_id, text=note))


async def _fire(
    session: AsyncSession, kind: str, at: Any, done: Any, now: datetime
) -> list[dict[str, Any]]:
    """Fire the due clocks of one kind, a bounded batch per transaction."""
    clocks = await session.execute(
        select(SlaClock)
        .where(SlaClock.state == ClockState.RUNNING, at <= now, done.is_(None))
        .order_by(at)
        .limit(SWEEP_BATCH)
        .with_for_update(skip_locked=True)
    )
    return await sla.fire_clocks(session, list(clocks.scalars()), kind, now)
