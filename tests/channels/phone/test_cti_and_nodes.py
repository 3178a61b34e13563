"""The generic CTI hook for a PBX, two Stik nodes sharing one PostgreSQL, hostile input."""

import asyncio
import hmac
import random
import string
import time
from pathlib import Path

from sqlalchemy import func, select

from interactions.models import Activity
from interactions.store import Store
from tests.agent_ui import factories
from tests.channels.phone.conftest import (
    CTI_SECRET,
    DIALLED,
    KNOWN_CALLER,
    Line,
    add_call_centre,
    call_activity,
    next_event,
    serving,
)
from tests.conftest import _empty as empty
from tests.conftest import postgres_url


async def activities(store: Store) -> int:
    async with store.sessions() as db:
        return int(await db.scalar(select(func.count()).select_from(Activity)) or 0)


async def test_a_pbx_gets_the_same_screen_pop_and_call_record(line: Line) -> None:
    ana = await line.sign_in("ana")
    socket = await ana.socket()
    await ana.available()

    incoming = await line.cti(
        {"event": "incoming", "call_id": "pbx-1001", "from": "041 123 456", "to": DIALLED}
    )
    body = await incoming.json()
    pop = await next_event(socket, "screen_pop")
    answered = await line.cti({"event": "answered", "call_id": "pbx-1001", "agent": "ana"})
    await asyncio.sleep(0.05)
    ended = await line.cti({"event": "ended", "call_id": "pbx-1001", "status": "completed"})

    activity = await call_activity(line.store, "cti:pbx-1001")
    call = activity.meta["call"]
    assert incoming.status == 201
    assert body["plan"] == "queue" and body["queue"] == "sup-calls" and body["offered_to"] == "ana"
    assert pop["payload"]["caller"] == KNOWN_CALLER
    assert pop["payload"]["candidates"][0]["partner_id"] == line.world.partner_id
    assert (answered.status, ended.status) == (200, 200)
    assert call["source"] == "cti" and call["outcome"] == "answered"
    assert call["agent_id"] == ana.id and call["talk_seconds"] >= 0.05


async def test_cti_hook_refuses_forgeries_and_nonsense(line: Line) -> None:
    before = await activities(line.store)
    forged = await line.cti(
        {"event": "incoming", "call_id": "pbx-1", "from": KNOWN_CALLER}, secret="guess"
    )
    wrong = [
        await line.cti(event)
        for event in (
            {"event": "dance", "call_id": "pbx-1"},
            {"event": "incoming", "call_id": ""},
            {"event": "incoming", "call_id": "x" * 500},
            {"event": "incoming", "call_id": "pbx-1", "from": 41},
            {"event": "ended", "call_id": "never-rang"},
        )
    ]
    assert forged.status == 403
    assert [r.status for r in wrong] == [400, 400, 400, 400, 404]
    assert await activities(line.store) == before


async def test_hostile_caller_fields_never_break_the_webhook(line: Line) -> None:
    """Whatever a carrier puts in From, CallerName or unknown fields: TwiML or a 400."""
    pick = random.Random(20261204)
    nasty = [
        "",
        "\x00",
        "+" + "9" * 40,
        "'; DROP TABLE activity; --",
        "</Say><Dial>+38640000000</Dial>",
        "Žnidaršič \U0001f600",
        "client:" + "a" * 300,
        " " * 10,
    ]
    statuses = []
    for n in range(40):
        junk = "".join(pick.choice(string.printable + "čšžćđ") for _ in range(pick.randint(0, 80)))
        fields = {
            "From": pick.choice([*nasty, junk]),
            "CallerName": pick.choice([*nasty, junk]),
            "To": pick.choice([DIALLED, junk, ""]),
            pick.choice(["X", "Future" + junk[:5], "Foo"]): junk,
        }
        status, body = await line.call(f"CA{n:032x}", **fields)
        statuses.append(status)
        assert "<Dial>" not in body  # caller input never becomes TwiML
    assert set(statuses) == {200}
    assert await activities(line.store) == 41  # each call once, beside the world's email
    malformed_sid, _ = await line.call("not a sid\x00")
    assert malformed_sid == 400


async def test_webhook_on_one_node_pops_on_the_agents_socket_at_the_other(
    tmp_path: Path,
) -> None:
    """Several nodes share PostgreSQL (SQLite is one node by design)."""
    store, other = Store.open(await postgres_url()), Store.open(await postgres_url())
    await empty(store)
    world = await factories.world(store)
    queue_id = await add_call_centre(store)
    try:
        async with (
            serving(store, tmp_path / "a", world, queue_id) as node_a,
            serving(other, tmp_path / "b", world, queue_id) as node_b,
        ):
            for node in (node_a, node_b):  # both relays listening before anything happens
                for _ in range(100):
                    if node.store.bus._relay is not None:
                        break
                    await asyncio.sleep(0.05)
            ana = await node_b.sign_in("ana")
            socket = await ana.socket()
            await ana.available()
            await node_a.call("CA" + "e" * 32)
            pop = await asyncio.wait_for(next_event(socket, "screen_pop"), timeout=5)
            accepted = await ana.press(pop["payload"]["task_id"], "accept")
            await node_a.callback("/phone/twilio/status", "CA" + "e" * 32, CallStatus="completed")
            ended = await asyncio.wait_for(next_event(socket, "call_ended"), timeout=5)
        assert pop["payload"]["candidates"][0]["partner_id"] == world.partner_id
        assert accepted.status == 200
        assert ended["payload"]["outcome"] == "answered"
        async with store.sessions() as db:
            calls = await db.scalar(
                select(func.count()).select_from(Activity).where(Activity.channel == "phone")
            )
        assert calls == 1
    finally:
        await other.close()
        await store.close()


async def test_empty_and_deeply_nested_bodies_are_refused_plainly(line: Line) -> None:
    assert line.twilio is not None
    empty = await line.twilio.post(line.url("/phone/cti/events"))
    deep = ("[" * 20_000 + "]" * 20_000).encode()
    stamp = str(int(time.time()))
    signature = hmac.new(CTI_SECRET.encode(), stamp.encode() + b"." + deep, "sha256").hexdigest()
    nested = await line.twilio.post(
        line.url("/phone/cti/events"),
        data=deep,
        headers={
            "Content-Type": "application/json",
            "X-Stik-Timestamp": stamp,
            "X-Stik-Signature": signature,
        },
    )
    web_form = await line.twilio.post(
        line.url("/api/v1/web-forms"), data=deep, headers={"Content-Type": "application/json"}
    )
    assert (empty.status, nested.status) == (400, 400)
    assert web_form.status == 400
