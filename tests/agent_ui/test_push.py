"""Live events: presence, the push API, catch-up after a drop, other nodes, wrap-up."""

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from agent_ui.models import AgentPresence
from agent_ui.push import push_to_agent
from interactions.db import plain_dsn
from interactions.events import EventBus, PostgresRelay
from interactions.models import Activity, ActivityState, Channel, Ticket
from interactions.store import Store
from routing.models import Task
from tests.agent_ui import factories
from tests.agent_ui.conftest import Web

POP = {
    "activity_id": 1,
    "caller": "+38641123456",
    "candidates": [{"partner_id": 1, "name": "Ana Novak", "metering_point": "3-345341"}],
}


async def test_presence_is_stored_and_a_break_needs_a_reason(web: Web) -> None:
    client, token = await web.signed_in("ana")

    available = await client.post("/presence", data={"csrf_token": token, "state": "available"})
    lunch = await client.post(
        "/presence", data={"csrf_token": token, "state": "break", "reason": "lunch"}
    )
    nonsense = await client.post(
        "/presence", data={"csrf_token": token, "state": "break", "reason": "nap"}
    )

    assert available.status == 200 and "state-available" in await available.text()
    assert lunch.status == 200 and nonsense.status == 400
    async with web.store.sessions() as db:
        row = await db.get_one(AgentPresence, web.ids["ana"])
    assert (row.state, row.reason) == ("break", "lunch")


async def test_pushed_events_arrive_and_missed_ones_are_resent(web: Web) -> None:
    client, _ = await web.signed_in("ana")
    socket = await client.ws_connect("/ws")
    hello = await socket.receive_json(timeout=5)

    first = await push_to_agent(web.store, web.ids["ana"], "screen_pop", POP)
    received = await socket.receive_json(timeout=5)
    await socket.close()
    missed = await push_to_agent(web.store, web.ids["ana"], "ticket.assigned", {"number": "x"})
    await push_to_agent(web.store, web.ids["bor"], "ticket.assigned", {"number": "not yours"})

    again = await client.ws_connect(f"/ws?after={first}")
    resent = await again.receive_json(timeout=5)
    hello_again = await again.receive_json(timeout=5)
    await again.close()

    assert hello == {"kind": "hello", "last_id": 0}
    assert received == {"id": first, "kind": "screen_pop", "payload": POP}
    assert resent == {"id": missed, "kind": "ticket.assigned", "payload": {"number": "x"}}
    assert hello_again["last_id"] == missed


async def test_socket_refuses_strangers_and_other_sites(web: Web) -> None:
    anonymous = await web.client()
    refused = await anonymous.get(
        "/ws",
        headers={
            "Upgrade": "websocket",
            "Connection": "Upgrade",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    client, _ = await web.signed_in("ana")
    cross = await client.get("/ws", headers={"Origin": "https://evil.example"})
    assert refused.status == 401
    assert cross.status == 403


async def test_a_new_ticket_refreshes_the_queues_of_its_entity_only(web: Web) -> None:
    supplier, _ = await web.signed_in("ana")
    dso, _ = await web.signed_in("dan")
    supplier_socket = await supplier.ws_connect("/ws")
    dso_socket = await dso.ws_connect("/ws")
    await supplier_socket.receive_json(timeout=5)
    await dso_socket.receive_json(timeout=5)

    await web.store.bus.publish("ticket.opened", {"ticket_id": web.world.supplier_ticket})

    assert (await supplier_socket.receive_json(timeout=5))["kind"] == "queues.changed"
    try:
        extra = await dso_socket.receive_json(timeout=0.5)
    except TimeoutError:
        extra = None
    assert extra is None
    await supplier_socket.close()
    await dso_socket.close()


async def test_a_push_on_one_node_reaches_a_socket_on_another(web: Web) -> None:
    """Two Stik nodes on one PostgreSQL: the screen-pop crosses over LISTEN/NOTIFY."""
    if web.store.dialect != "postgresql":
        return  # one SQLite file is one node
    url = web.store.engine.url.render_as_string(hide_password=False)
    other = Store.open(url, bus=EventBus())
    relays = [PostgresRelay(other.bus, plain_dsn(url))]  # node A's app starts its own
    for relay in relays:
        await relay.start()
    try:
        client = await factories.client(web.store, web.data_dir)  # node A holds the socket
        for _ in range(100):
            if web.store.bus._relay is not None:
                break
            await asyncio.sleep(0.05)
        await factories.sign_in(client, "ana")
        socket = await client.ws_connect("/ws")
        await socket.receive_json(timeout=5)

        event_id = await push_to_agent(other, web.ids["ana"], "screen_pop", POP)  # node B
        received = await socket.receive_json(timeout=5)
        assert received == {"id": event_id, "kind": "screen_pop", "payload": POP}
        big = {"caller": "+38641123456", "notes": "x" * 9000}
        big_id = await push_to_agent(other, web.ids["ana"], "screen_pop", big)
        assert await socket.receive_json(timeout=5) == {
            "id": big_id,
            "kind": "screen_pop",
            "payload": big,
        }
        await socket.close()
        await client.close()
    finally:
        for relay in relays:
            await relay.close()
        await other.close()


async def phone_call(web: Web, entity: str = "supplier") -> int:
    async with web.store.sessions() as db, db.begin():
        call = Activity(
            channel=Channel.PHONE,
            external_id=f"call-{entity}",
            occurred_at=datetime.now(UTC),
            legal_entity=entity,
            partner_id=web.world.partner_id,
            duration_seconds=95,
            state=ActivityState.PROCESSED,
            match_reasons=[],
            match_candidates=[],
            meta={},
        )
        db.add(call)
        await db.flush()
        return call.id


async def test_wrap_up_saves_the_outcome_and_opens_a_follow_up(web: Web) -> None:
    call_id = await phone_call(web)
    client, token = await web.signed_in("ana")
    headers = {"X-CSRF-Token": token}

    no_outcome = await client.post(
        f"/activities/{call_id}/wrap-up", data={"notes": "x"}, headers=headers
    )
    saved = await client.post(
        f"/activities/{call_id}/wrap-up",
        data={"outcome": "follow_up", "notes": "Preveri račun za oktober", "follow_up": "1"},
        headers=headers,
    )
    answer = await saved.json()

    assert no_outcome.status == 400
    assert saved.status == 200 and answer["ticket"]
    async with web.store.sessions() as db:
        call = await db.get_one(Activity, call_id)
        follow_up = await db.scalar(select(Ticket).where(Ticket.number == answer["ticket"]))
    assert call.meta["wrap_up"]["outcome"] == "follow_up"
    assert call.ticket_id == follow_up.id
    assert (follow_up.assignee_id, follow_up.subject) == (
        web.ids["ana"],
        "Preveri račun za oktober",
    )
    assert follow_up.partner_id == web.world.partner_id
    async with web.store.sessions() as db:
        task = await db.scalar(select(Task).where(Task.ticket_id == follow_up.id))
    assert task is not None and (task.state, task.agent_id) == ("assigned", web.ids["ana"])


async def test_concurrent_pushes_keep_their_order(web: Web) -> None:
    client, _ = await web.signed_in("ana")
    socket = await client.ws_connect("/ws")
    await socket.receive_json(timeout=5)
    ids = [await push_to_agent(web.store, web.ids["ana"], "n", {"i": i}) for i in range(5)]
    got = [await socket.receive_json(timeout=5) for _ in ids]
    await socket.close()
    assert [g["id"] for g in got] == ids
    await asyncio.sleep(0)


async def test_wrap_up_times_itself_from_the_end_of_the_call(web: Web) -> None:
    call_id = await phone_call(web)
    ended = datetime.now(UTC) - timedelta(seconds=42)
    async with web.store.sessions() as db, db.begin():
        call = await db.get_one(Activity, call_id)
        call.meta = {"call": {"ended_at": ended.isoformat(), "agent_id": web.ids["ana"]}}
    heard: list[dict[str, object]] = []

    async def hear(event: str, payload: dict[str, object]) -> None:
        async with web.store.sessions() as db:  # published after the commit: it is stored
            stored = (await db.get_one(Activity, call_id)).meta["call"]
        heard.append({**payload, "stored": stored.get("wrap_up_seconds")})

    web.store.bus.subscribe("call.wrapped_up", hear)
    client, token = await web.signed_in("ana")
    saved = await client.post(
        f"/activities/{call_id}/wrap-up",
        data={"outcome": "resolved", "notes": "Pojasnil račun."},
        headers={"X-CSRF-Token": token},
    )

    assert saved.status == 200
    [event] = heard
    assert event["activity_id"] == call_id
    assert 42 <= event["wrap_up_seconds"] < 72 and event["stored"] == event["wrap_up_seconds"]
    async with web.store.sessions() as db:
        meta = (await db.get_one(Activity, call_id)).meta
    assert meta["call"]["agent_id"] == web.ids["ana"]  # the phone channel's fields stay
    assert meta["wrap_up"]["outcome"] == "resolved"


async def test_wrap_up_of_a_call_without_an_end_has_no_timing(web: Web) -> None:
    call_id = await phone_call(web)
    heard: list[dict[str, object]] = []

    async def hear(event: str, payload: dict[str, object]) -> None:
        heard.append(payload)

    web.store.bus.subscribe("call.wrapped_up", hear)
    client, token = await web.signed_in("ana")
    await client.post(
        f"/activities/{call_id}/wrap-up",
        data={"outcome": "other"},
        headers={"X-CSRF-Token": token},
    )

    assert heard == [{"activity_id": call_id, "wrap_up_seconds": None}]
    async with web.store.sessions() as db:
        assert "call" not in (await db.get_one(Activity, call_id)).meta
