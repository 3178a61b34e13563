"""Staffing by Erlang C: agents needed per queue and interval, and what the logged-in give.

Erlang C models a queue with Poisson arrivals, exponential handle times, `n`
identical agents and callers who wait as long as it takes. With offered load
`a = arrivals × handle time / interval` (in Erlangs) and `n > a`:

    P(wait) = C(n, a),  service level = 1 − C · exp(−(n − a) · t / aht),
    average speed of answer = C · aht / (n − a).

C is computed from the Erlang B recursion, which stays exact for hundreds of agents.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from routing.models import AWAY, AgentState, Task, TaskKind, TaskState

INTERVAL_S = 1800.0


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of `agents` servers offered `load` Erlangs."""
    if agents < 0 or load < 0:
        raise ValueError("agents and load must not be negative")
    blocking = 1.0
    for k in range(1, agents + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits, with `agents` agents and `load` Erlangs."""
    if agents <= load:
        return 1.0
    blocking = erlang_b(agents, load)
    return agents * blocking / (agents - load * (1 - blocking))


@dataclass(frozen=True)
class Staffing:
    """What Erlang C says of one queue and interval."""

    arrivals: float
    handle_s: float
    load: float
    agents: int
    service_level: float
    asa_s: float
    occupancy: float


def evaluate(
    agents: int, arrivals: float, handle_s: float, target_s: float, interval_s: float = INTERVAL_S
) -> Staffing:
    """Service level (share answered within `target_s`) and ASA with `agents` agents."""
    load = arrivals * handle_s / interval_s
    if agents <= load:
        return Staffing(arrivals, handle_s, load, agents, 0.0, math.inf, 1.0)
    waits = erlang_c(agents, load)
    level = 1 - waits * math.exp(-(agents - load) * target_s / handle_s)
    asa = waits * handle_s / (agents - load)
    return Staffing(arrivals, handle_s, load, agents, level, asa, load / agents)


def agents_needed(
    arrivals: float,
    handle_s: float,
    target_s: float,
    target_level: float,
    interval_s: float = INTERVAL_S,
) -> Staffing:
    """The fewest agents whose service level reaches `target_level`."""
    if not 0 < target_level < 1:
        raise ValueError("target_level is a share between 0 and 1")
    if arrivals <= 0:
        return evaluate(0, 0.0, handle_s, target_s, interval_s)
    agents = max(1, math.floor(arrivals * handle_s / interval_s) + 1)
    while True:
        result = evaluate(agents, arrivals, handle_s, target_s, interval_s)
        if result.service_level >= target_level:
            return result
        agents += 1


@dataclass(frozen=True)
class QueueStaffing:
    queue_id: int | None
    interval_start: datetime
    needed: Staffing
    logged_in: Staffing


async def queue_staffing(
    session: AsyncSession,
    queue_id: int | None,
    interval_start: datetime,
    target_s: float = 20,
    target_level: float = 0.8,
    interval_s: float = INTERVAL_S,
) -> QueueStaffing:
    """Agents needed in one interval from its measured calls, and what those logged in give."""
    end = interval_start + timedelta(seconds=interval_s)
    calls = select(Task).where(
        Task.kind == TaskKind.CALL, Task.created_at >= interval_start, Task.created_at < end
    )
    if queue_id is not None:
        calls = calls.where(Task.queue_id == queue_id)
    arrivals = await session.scalar(select(func.count()).select_from(calls.subquery())) or 0

    handled = calls.where(Task.state == TaskState.DONE, Task.assigned_at.is_not(None))
    rows = (await session.execute(handled.with_only_columns(Task.assigned_at, Task.ended_at))).all()
    durations = [(ended - began).total_seconds() for began, ended in rows if ended]
    handle_s = sum(durations) / len(durations) if durations else 180.0

    # TODO(#8): count only agents who can take this queue's calls (skills, org unit).
    logged_in = await session.scalar(
        select(func.count()).select_from(AgentState).where(AgentState.presence.not_in(AWAY))
    )
    return QueueStaffing(
        queue_id,
        interval_start,
        agents_needed(arrivals, handle_s, target_s, target_level, interval_s),
        evaluate(logged_in or 0, arrivals, handle_s, target_s, interval_s),
    )
