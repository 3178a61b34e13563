"""Two Stik nodes on one PostgreSQL: never a double assignment, never a timer twice.

Each node is its own store (engine, connection pool) and routing engine; they run
at the same time against the same rows. SQLite installs run one node (documented
in routing.engine), so these tests are PostgreSQL's alone.
"""

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from interactions.store import Store
from routing.engine import RoutingEngine
from routing.models import AgentState, Presence, SlaRecord, Task, TaskState
from tests.conftest import _empty, postgres_url
from tests.routing.factories import add_agent, add_queue, add_ticket, local

T0 = local(2026, 3, 2, 10, 0)


@pytest.fixture
async def nodes() -> AsyncIterator[tuple[Store, RoutingEngine, RoutingEngine]]:
    url = await postgres_url()
    first, second = Store.open(url), Store.open(url)
    await _empty(first)
    yield first, RoutingEngine(first, node="a"), RoutingEngine(second, node="b")
    await first.close()
    await second.close()


async def test_one_call_two_nodes_exactly_one_offer(nodes) -> None:
    store, a, b = nodes
    queue_id = await add_queue(store, "calls", skills={"phone": 1})
    agents = [await add_agent(store, skills={"phone": 1}) for _ in range(2)]
    for agent in agents:
        await a.set_presence(agent, Presence.AVAILABLE, now=T0)

    for round_ in range(15):
        now = T0 + timedelta(minutes=round_)
        call = await a.enqueue_call("supplier", queue_id, now=now)
        decisions = await asyncio.gather(a.assign_next(now), b.assign_next(now))

        made = [d for d in decisions if d is not None]
        assert [d.task_id for d in made] == [call]
        assert await a.accept(call, made[0].agent_id, now)
        assert await b.complete(call, now + timedelta(seconds=30))

    async with store.sessions() as session:
        loads = (await session.execute(select(AgentState.calls))).scalars().all()
    assert loads == [0, 0]


async def test_one_free_ticket_slot_many_tickets_two_nodes(nodes) -> None:
    store, a, b = nodes
    queue_id = await add_queue(store, "mail", org_unit="back_office", channels=("email",))
    agent = await add_agent(store, org_unit="back_office", capacity={"written": 3})
    for _ in range(12):
        await a.enqueue_ticket(await add_ticket(store, T0, queue_id), T0)
    await a.set_presence(agent, Presence.OFFLINE, now=T0)
    async with store.sessions() as session, session.begin():
        await session.execute(AgentState.__table__.update().values(presence=Presence.AVAILABLE))

    results = await asyncio.gather(a.dispatch(T0), b.dispatch(T0), a.dispatch(T0), b.dispatch(T0))

    assigned = [d.task_id for batch in results for d in batch]
    assert len(assigned) == len(set(assigned)) == 3
    async with store.sessions() as session:
        written = await session.scalar(select(AgentState.written))
        held = await session.scalar(
            select(func.count()).select_from(Task).where(Task.state == TaskState.ASSIGNED)
        )
    assert (written, held) == (3, 3)


async def test_timers_fire_once_when_both_nodes_sweep(nodes) -> None:
    store, a, b = nodes
    queue_id = await add_queue(store, "calls", skills={"phone": 1})
    agent = await add_agent(store, skills={"phone": 1})
    await a.set_presence(agent, Presence.AVAILABLE, now=T0)
    call = await a.enqueue_call("supplier", queue_id, now=T0)
    await a.dispatch(T0)
    tickets = [await add_ticket(store, T0, None) for _ in range(5)]
    for ticket_id in tickets:
        await a.enqueue_ticket(ticket_id, T0)

    later = T0 + timedelta(days=15)
    reports = await asyncio.gather(a.sweep(later), b.sweep(later))
    reports += await asyncio.gather(a.sweep(later), b.sweep(later))

    assert sum(r.offers_expired for r in reports) == 1
    async with store.sessions() as session:
        missed = await session.scalar(select(Task.missed_by).where(Task.id == call))
        breaches = await session.scalar(
            select(func.count()).select_from(SlaRecord).where(SlaRecord.kind == "breach")
        )
    assert missed == [agent]
    assert breaches == 5 * 2  # first response and resolution of each ticket, once each
    assert sum(r.breaches for r in reports) == 10
