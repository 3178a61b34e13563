"""Whole calls through the webhooks, as Twilio drives them, seen on an agent's screen."""

import asyncio
import xml.etree.ElementTree as ET
from datetime import datetime

from sqlalchemy import func, select

from interactions.models import Activity, Ticket
from routing.models import AgentState, Task
from tests.channels.phone.conftest import KNOWN_CALLER, Line, call_activity, next_event

SID = "CA" + "0" * 31 + "1"


def verbs(body: str) -> list[str]:
    return [child.tag for child in ET.fromstring(body)]


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def test_call_pops_the_caller_is_answered_and_its_life_is_recorded(line: Line) -> None:
    ana = await line.sign_in("ana")
    socket = await ana.socket()
    await ana.available()

    status, twiml = await line.call(SID)
    pop = await next_event(socket, "screen_pop")

    assert status == 200 and verbs(twiml) == ["Say", "Enqueue"]
    enqueue = ET.fromstring(twiml).find("Enqueue")
    assert enqueue is not None and enqueue.text == "sup-calls"
    assert enqueue.get("waitUrl") == "/phone/twilio/wait"
    assert ET.fromstring(twiml).find("Say").get("language") == "sl-SI"  # type: ignore[union-attr]

    payload = pop["payload"]
    assert payload["caller"] == KNOWN_CALLER
    assert payload["outcome"] == "matched"
    assert [c["partner_id"] for c in payload["candidates"]] == [line.world.partner_id]
    assert payload["candidates"][0]["name"] == "Ana Novak"
    assert payload["candidates"][0]["metering_point"] == "3-345341"
    assert "phone" in " ".join(payload["candidates"][0]["reasons"])
    # The supplier's open ticket and last contact; never the DSO's (unbundling).
    assert [t["number"] for t in payload["open_tickets"]] == [line.world.supplier_ticket_number]
    assert payload["open_tickets"][0]["sla"] == "on_time"
    assert [c["id"] for c in payload["recent_contacts"]] == [line.world.email_activity]
    assert payload["view_url"] == f"/partners/{line.world.partner_id}"

    # While the phone rings at Ana, the caller hears where they are in line.
    _, hold = await line.callback("/phone/twilio/wait", SID, QueuePosition="1", AvgQueueTime="0")
    assert "Say" in verbs(hold) and "1. v vrsti" in hold

    await asyncio.sleep(0.05)
    accepted = await ana.press(payload["task_id"], "accept")
    assert accepted.status == 200
    # Accepted: the caller leaves the line and is put through to Ana's phone.
    _, leave = await line.callback("/phone/twilio/wait", SID, QueuePosition="1")
    _, dial = await line.callback("/phone/twilio/queue-result", SID, QueueResult="leave")
    assert verbs(leave) == ["Leave"]
    assert verbs(dial) == ["Dial"] and "<Client>ana</Client>" in dial

    await line.callback("/phone/twilio/status", SID, CallStatus="in-progress", SequenceNumber="1")
    await asyncio.sleep(0.05)
    await line.callback(
        "/phone/twilio/status", SID, CallStatus="completed", SequenceNumber="2", CallDuration="9"
    )
    ended = await next_event(socket, "call_ended")

    activity = await call_activity(line.store, SID)
    call = activity.meta["call"]
    assert ended["payload"]["outcome"] == "answered"
    assert call["outcome"] == "answered"
    assert activity.partner_id == line.world.partner_id
    assert activity.metering_point_id == line.world.point_id
    assert activity.employee_id == ana.id
    assert call["agent_id"] == ana.id
    arrived, queued = at(call["arrived_at"]), at(call["queued_at"])
    offered, answered, finished = (
        at(call["offered_at"]),
        at(call["answered_at"]),
        at(call["ended_at"]),
    )
    assert arrived <= queued <= offered <= answered < finished
    assert call["wait_seconds"] == round((answered - queued).total_seconds(), 3)
    assert call["talk_seconds"] == round((finished - answered).total_seconds(), 3)
    assert call["talk_seconds"] >= 0.05 and activity.duration_seconds == round(call["talk_seconds"])
    async with line.store.sessions() as db:
        task = await db.scalar(select(Task).where(Task.activity_id == activity.id))
        state = await db.get(AgentState, ana.id)
    assert task is not None and task.state == "done" and task.agent_id == ana.id
    assert state is not None and state.calls == 0  # Ana's line is free again


async def test_retried_webhooks_and_late_callbacks_change_nothing(line: Line) -> None:
    ana = await line.sign_in("ana")
    socket = await ana.socket()
    await ana.available()
    first = await line.call(SID)
    pop = await next_event(socket, "screen_pop")
    again = await line.call(SID)  # Twilio retries the voice URL
    await ana.press(pop["payload"]["task_id"], "accept")
    await line.callback("/phone/twilio/status", SID, CallStatus="completed", SequenceNumber="2")
    before = (await call_activity(line.store, SID)).meta["call"]
    await line.callback("/phone/twilio/status", SID, CallStatus="completed", SequenceNumber="2")
    await line.callback("/phone/twilio/status", SID, CallStatus="in-progress", SequenceNumber="1")
    after = (await call_activity(line.store, SID)).meta["call"]

    assert first == again
    async with line.store.sessions() as db:
        calls = await db.scalar(select(func.count()).select_from(Activity))
        tasks = await db.scalar(select(func.count()).select_from(Task).where(Task.kind == "call"))
    assert calls == 2  # the world's email and this one call
    assert tasks == 1
    assert after == before
    assert after["status"] == "completed" and after["outcome"] == "answered"


async def test_caller_who_hangs_up_in_line_is_an_abandoned_call(line: Line) -> None:
    await line.call(SID)  # nobody is available
    await asyncio.sleep(0.05)
    _, gone = await line.callback("/phone/twilio/queue-result", SID, QueueResult="hangup")
    await line.callback("/phone/twilio/status", SID, CallStatus="completed", SequenceNumber="1")

    activity = await call_activity(line.store, SID)
    call = activity.meta["call"]
    assert verbs(gone) == []
    assert call["outcome"] == "abandoned"
    assert call["answered_at"] is None and call["talk_seconds"] is None
    waited = (at(call["ended_at"]) - at(call["queued_at"])).total_seconds()
    assert call["wait_seconds"] == round(waited, 3) and waited >= 0.05
    assert activity.duration_seconds is None
    async with line.store.sessions() as db:
        task = await db.scalar(select(Task).where(Task.activity_id == activity.id))
    assert task is not None and task.state == "abandoned"


async def test_unknown_withheld_and_foreign_callers_are_queued_and_shown(line: Line) -> None:
    ana = await line.sign_in("ana")
    socket = await ana.socket()
    await ana.available()

    await line.call("CA" + "a" * 32, caller="+38640999888")
    unknown = (await next_event(socket, "screen_pop"))["payload"]
    await ana.press(unknown["task_id"], "decline")
    await line.call("CA" + "b" * 32, caller="anonymous")
    await line.call("CA" + "c" * 32, caller="+4930123456")
    _, foreign_twiml = await line.call("CA" + "c" * 32, caller="+4930123456")

    withheld = await call_activity(line.store, "CA" + "b" * 32)
    foreign = await call_activity(line.store, "CA" + "c" * 32)
    assert unknown["outcome"] == "unknown" and unknown["candidates"] == []
    assert unknown["caller"] == "+38640999888" and unknown["view_url"] is None
    assert withheld.meta["call"]["caller_kind"] == "withheld"
    assert withheld.meta["call"]["from"] is None and withheld.match_outcome == "unknown"
    assert foreign.meta["call"]["from"] == "+4930123456"
    assert foreign.meta["call"]["language"] == "en"
    assert 'language="en-GB"' in foreign_twiml and "Welcome" in foreign_twiml
    async with line.store.sessions() as db:
        queued = await db.scalar(
            select(func.count())
            .select_from(Task)
            .where(Task.kind == "call", Task.state.in_(["queued", "offered"]))
        )
    assert queued == 3  # every caller waits in line, known or not


async def test_declined_call_rings_at_the_next_agent(line: Line) -> None:
    ana, bor = await line.sign_in("ana"), await line.sign_in("bor")
    ana_ws, bor_ws = await ana.socket(), await bor.socket()
    await ana.available()
    await bor.available()

    await line.call(SID)
    offers = await asyncio.wait_for(
        asyncio.gather(_first_or_none(ana_ws, "screen_pop"), _first_or_none(bor_ws, "screen_pop")),
        timeout=6,
    )
    first, first_ws, other, other_ws = (
        (ana, ana_ws, bor, bor_ws) if offers[0] else (bor, bor_ws, ana, ana_ws)
    )
    pop = (offers[0] or offers[1])["payload"]  # type: ignore[index]
    declined = await first.press(pop["task_id"], "decline")
    withdrawn = await next_event(first_ws, "call_withdrawn")
    second = await next_event(other_ws, "screen_pop")
    late = await first.press(pop["task_id"], "accept")

    assert declined.status == 200
    assert withdrawn["payload"] == {"task_id": pop["task_id"], "reason": "declined"}
    assert second["payload"]["task_id"] == pop["task_id"]
    assert late.status == 409
    assert (await other.press(pop["task_id"], "accept")).status == 200


async def _first_or_none(ws, kind):  # type: ignore[no-untyped-def]
    try:
        return await asyncio.wait_for(next_event(ws, kind), timeout=2)
    except TimeoutError:
        return None


async def test_voicemail_opens_a_call_back_ticket_with_the_transcript(line: Line) -> None:
    record = {
        "RecordingUrl": "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1",
        "RecordingDuration": "42",
        "RecordingSid": "RE00112233445566778899aabbccddeeff",
        "Digits": "hangup",
    }
    await line.call(SID)
    _, busy = await line.callback("/phone/twilio/queue-result", SID, QueueResult="queue-full")
    status, thanks = await line.callback("/phone/twilio/voicemail", SID, **record)
    await line.callback("/phone/twilio/voicemail", SID, **record)  # retried
    await line.callback(
        "/phone/twilio/transcription",
        SID,
        TranscriptionText="Prosim, pokličite me glede računa.",
        TranscriptionStatus="completed",
    )
    await line.callback("/phone/twilio/status", SID, CallStatus="completed", SequenceNumber="3")

    activity = await call_activity(line.store, SID)
    async with line.store.sessions() as db:
        tickets = list(
            await db.scalars(select(Ticket).where(Ticket.subject.like("Povratni klic%")))
        )
    assert verbs(busy) == ["Say", "Record", "Hangup"]
    assert status == 200 and verbs(thanks) == ["Say", "Hangup"]
    assert activity.meta["call"]["outcome"] == "voicemail"
    assert activity.meta["call"]["recording"]["url"] == record["RecordingUrl"]
    assert activity.meta["call"]["recording"]["seconds"] == 42
    assert activity.text == "Prosim, pokličite me glede računa."
    assert len(tickets) == 1 and activity.ticket_id == tickets[0].id
    assert tickets[0].partner_id == line.world.partner_id


async def test_a_shared_household_number_shows_every_candidate(line: Line) -> None:
    from interactions.models import ContactKind, ContactPoint, Partner

    async with line.store.sessions() as db, db.begin():
        for first in ("Marko", "Mojca"):
            partner = Partner(first_name=first, last_name="Kranjc")
            partner.contact_points = [ContactPoint(kind=ContactKind.PHONE, value="01 234 56 78")]
            db.add(partner)
    ana = await line.sign_in("ana")
    socket = await ana.socket()
    await ana.available()

    await line.call(SID, caller="+38612345678")
    pop = (await next_event(socket, "screen_pop"))["payload"]

    assert pop["outcome"] == "ambiguous"
    assert sorted(c["name"] for c in pop["candidates"]) == ["Marko Kranjc", "Mojca Kranjc"]
    assert pop["view_url"] is None  # the agent chooses; nobody is opened for them


async def test_every_tab_pops_and_a_reconnecting_tab_catches_up(line: Line) -> None:
    ana = await line.sign_in("ana")
    first_tab, second_tab = await ana.socket(), await ana.socket()
    await ana.available()

    await line.call(SID)
    one = await next_event(first_tab, "screen_pop")
    two = await next_event(second_tab, "screen_pop")
    await second_tab.close()
    await ana.press(one["payload"]["task_id"], "accept")
    await line.callback("/phone/twilio/status", SID, CallStatus="completed", SequenceNumber="2")
    back = await ana.socket(after=two["id"])  # the page remembers the last event it saw
    missed = await next_event(back, "call_ended")

    assert one == two
    assert missed["payload"]["activity_id"] == one["payload"]["activity_id"]
    assert missed["payload"]["outcome"] == "answered"


async def test_callers_in_line_count_in_the_workspace_queues(line: Line) -> None:
    ana = await line.sign_in("ana")  # signed in, not available: the caller waits
    socket = await ana.socket()

    await line.call(SID)
    changed = await next_event(socket, "queues.changed")
    page = await (await ana.session.get("/fragments/queues")).text()

    assert changed["payload"] == {}
    calls_line = page.split("Klicni center dobavitelja")[1].split("</li>")[0]
    assert 'class="count waiting"' in calls_line and ">1<" in calls_line
