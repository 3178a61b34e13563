"""Migration 0006 both ways on both databases; staffing from measured calls."""

from datetime import timedelta

import asyncpg
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from interactions import schema
from interactions.models import Calendar, SlaPolicy
from interactions.store import Store
from routing.engine import RoutingEngine
from routing.models import Presence
from routing.staffing import queue_staffing
from tests.conftest import POSTGRES_ADMIN_URL, TEST_DATABASE, missing
from tests.routing.factories import add_agent, add_queue, local


async def migrate_both_ways(store: Store) -> None:
    await schema.upgrade(store.engine)
    async with store.sessions() as session:
        codes = set((await session.execute(select(Calendar.code))).scalars())
        policies = set((await session.execute(select(SlaPolicy.code))).scalars())
    assert {"office", "info-line", "always"} <= codes
    assert {"written", "complaint", "calls-20s", "supplier-switch"} <= policies

    await schema.downgrade(store.engine, "0001")
    async with store.engine.connect() as conn:
        left = await conn.scalar(text("SELECT count(*) FROM calendar"))
    assert left == 0
    await schema.upgrade(store.engine)
    assert await schema.is_current(store.engine)


async def test_migration_up_and_down_on_sqlite(tmp_path) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        await migrate_both_ways(store)
    finally:
        await store.close()


async def test_migration_up_and_down_on_postgresql() -> None:
    admin = make_url(POSTGRES_ADMIN_URL)
    name = f"{TEST_DATABASE}_migrate"
    try:
        conn = await asyncpg.connect(
            admin.set(drivername="postgresql").render_as_string(hide_password=False), timeout=5
        )
    except (OSError, asyncpg.PostgresError) as exc:
        missing(f"PostgreSQL is not reachable: {exc}")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    store = Store.open(admin.set(database=name).render_as_string(hide_password=False))
    try:
        await migrate_both_ways(store)
    finally:
        await store.close()


async def test_staffing_from_the_calls_of_one_interval(store: Store) -> None:
    engine = RoutingEngine(store)
    queue_id = await add_queue(store, "calls", skills={"phone": 1})
    agents = [await add_agent(store, skills={"phone": 1}) for _ in range(3)]
    start = local(2026, 3, 2, 10, 0)
    for agent in agents:
        await engine.set_presence(agent, Presence.AVAILABLE, now=start)
    for n in range(6):  # six calls of 240 s each, answered at once
        at = start + timedelta(minutes=4 * n)
        call = await engine.enqueue_call("supplier", queue_id, now=at)
        [offer] = await engine.dispatch(at)
        await engine.accept(call, offer.agent_id, at)
        await engine.complete(call, at + timedelta(seconds=240))

    async with store.sessions() as session:
        staffing = await queue_staffing(session, queue_id, start)

    assert staffing.needed.arrivals == 6
    assert staffing.needed.handle_s == 240
    assert staffing.needed.load == 6 * 240 / 1800
    # 0.8 Erlang: two agents answer only 79.3 % within 20 s, three reach 95.7 %.
    assert staffing.needed.agents == 3
    assert round(staffing.needed.service_level, 3) == 0.957
    assert staffing.logged_in.agents == 3  # logged in now, whatever their presence
    assert staffing.logged_in.service_level == staffing.needed.service_level


async def test_wrap_up_ends_by_itself_then_the_next_call_comes(store: Store) -> None:
    engine = RoutingEngine(store)
    queue_id = await add_queue(store, "calls", rules={"wrap_up_s": 30}, skills={"phone": 1})
    agent = await add_agent(store, skills={"phone": 1})
    start = local(2026, 3, 2, 10, 0)
    await engine.set_presence(agent, Presence.AVAILABLE, now=start)
    first = await engine.enqueue_call("supplier", queue_id, now=start)
    await engine.dispatch(start)
    await engine.accept(first, agent, start)
    await engine.complete(first, start + timedelta(minutes=3))
    await engine.enqueue_call("supplier", queue_id, now=start + timedelta(minutes=3))

    assert (await engine.sweep(start + timedelta(minutes=3, seconds=29))).decisions == []
    report = await engine.sweep(start + timedelta(minutes=3, seconds=30))

    assert report.wrap_ups_ended == 1
    assert [d.agent_id for d in report.decisions] == [agent]
