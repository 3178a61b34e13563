"""The event bus: local delivery, failing handlers, and delivery between nodes."""

import asyncio
from typing import Any

import pytest

from interactions.db import plain_dsn
from interactions.events import EventBus, PostgresRelay
from tests.conftest import postgres_url


class Recorder:
    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.arrived = asyncio.Event()

    async def __call__(self, event: str, payload: dict[str, Any]) -> None:
        self.seen.append((event, payload))
        self.arrived.set()


async def test_handlers_get_their_events_and_a_failing_one_harms_none() -> None:
    bus = EventBus()
    ticket_events, all_events = Recorder(), Recorder()

    async def broken(event: str, payload: dict[str, Any]) -> None:
        raise RuntimeError("boom")

    bus.subscribe("ticket.opened", broken)
    bus.subscribe("ticket.opened", ticket_events)
    bus.subscribe("*", all_events)
    await bus.publish("ticket.opened", {"ticket_id": 7})
    await bus.publish("activity.recorded", {"activity_id": 9})

    assert ticket_events.seen == [("ticket.opened", {"ticket_id": 7})]
    assert [e for e, _ in all_events.seen] == ["ticket.opened", "activity.recorded"]


async def test_events_reach_the_other_node_once_over_postgres() -> None:
    dsn = plain_dsn(await postgres_url())
    node_a, node_b = EventBus(), EventBus()
    seen_a, seen_b = Recorder(), Recorder()
    node_a.subscribe("task.offered", seen_a)
    node_b.subscribe("task.offered", seen_b)
    relays = [PostgresRelay(node_a, dsn), PostgresRelay(node_b, dsn)]
    for relay in relays:
        await relay.start()
    try:
        await node_a.publish("task.offered", {"task_id": 42, "agent": "mnovak"})
        await asyncio.wait_for(seen_b.arrived.wait(), timeout=5)
        await asyncio.sleep(0.2)  # room for a wrong echo back to node A
    finally:
        for relay in relays:
            await relay.close()

    assert seen_b.seen == [("task.offered", {"task_id": 42, "agent": "mnovak"})]
    assert seen_a.seen == [("task.offered", {"task_id": 42, "agent": "mnovak"})]


async def test_local_handlers_hear_only_their_own_node() -> None:
    """Work one node must do once (route a call) is not repeated by every node."""
    dsn = plain_dsn(await postgres_url())
    node_a, node_b = EventBus(), EventBus()
    routes_a, routes_b, pages_b = Recorder(), Recorder(), Recorder()
    node_a.subscribe("activity.recorded", routes_a, local=True)
    node_b.subscribe("activity.recorded", routes_b, local=True)
    node_b.subscribe("activity.recorded", pages_b)
    relays = [PostgresRelay(node_a, dsn), PostgresRelay(node_b, dsn)]
    for relay in relays:
        await relay.start()
    try:
        await node_a.publish("activity.recorded", {"activity_id": 5})
        await asyncio.wait_for(pages_b.arrived.wait(), timeout=5)
        await asyncio.sleep(0.2)
    finally:
        for relay in relays:
            await relay.close()

    assert routes_a.seen == [("activity.recorded", {"activity_id": 5})]
    assert routes_b.seen == []
    assert pages_b.seen == [("activity.recorded", {"activity_id": 5})]


@pytest.mark.parametrize("garbage", ["not json", "{}", '{"node": "x"}'])
async def test_relay_ignores_garbage(garbage: str) -> None:
    bus = EventBus()
    relay = PostgresRelay(bus, "postgresql://unused")
    relay._received(None, 0, "stik_events", garbage)
    await asyncio.sleep(0)
