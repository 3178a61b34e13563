"""Queue rules and calendars as callers meet them: closed lines, overflow, ring timeouts."""

import asyncio
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from channels.phone.views import PHONE
from interactions.models import Calendar, Queue
from interactions.store import Store
from routing.models import AgentState, Task
from routing.tasks import ENGINE
from tests.agent_ui import factories
from tests.channels.phone.conftest import Line, add_call_centre, call_activity, next_event, serving

SID = "CA" + "d" * 32
LJUBLJANA = ZoneInfo("Europe/Ljubljana")


def verbs(body: str) -> list[str]:
    return [child.tag for child in ET.fromstring(body)]


async def configure(line: Line, **values: object) -> None:
    """Change the call-centre queue, and have routing read it now rather than in 5 s."""
    async with line.store.sessions() as db, db.begin():
        queue = await db.get_one(Queue, line.queue_id)
        for name, value in values.items():
            setattr(queue, name, value)
    line.server.app[ENGINE].forget()
    line.server.app[PHONE].desk.forget()


async def test_closed_line_takes_a_message_and_says_when_it_opens(line: Line) -> None:
    today = datetime.now(LJUBLJANA).date()
    async with line.store.sessions() as db, db.begin():
        calendar = Calendar(
            code="test-closed",
            name="Zaprto do pojutrišnjem",
            hours={str(d): [["08:00", "16:00"]] for d in range(7)},
            holiday_country=None,
            closed_days=[str(today), str(today + timedelta(days=1))],
        )
        db.add(calendar)
        await db.flush()
        calendar_id = calendar.id
    await configure(line, calendar_id=calendar_id)
    ana = await line.sign_in("ana")
    await ana.available()

    status, twiml = await line.call(SID)

    reopens = today + timedelta(days=2)
    activity = await call_activity(line.store, SID)
    async with line.store.sessions() as db:
        tasks = await db.scalar(select(func.count()).select_from(Task).where(Task.kind == "call"))
    assert status == 200 and verbs(twiml) == ["Say", "Record", "Hangup"]
    assert f"{reopens.day}. {reopens.month}. ob 08:00" in twiml
    assert activity.meta["call"]["outcome"] == "out_of_hours"
    assert activity.meta["call"]["queued_at"] is None
    assert tasks == 0  # nobody is rung for a closed line


async def test_overflow_sends_a_long_wait_to_voicemail(line: Line) -> None:
    await configure(line, rules={"overflow": [{"after_s": 1, "action": "voicemail"}]})
    await line.call(SID)  # nobody is available

    leave = ""
    for _ in range(40):  # the app's routing sweep runs every second
        _, leave = await line.callback("/phone/twilio/wait", SID, QueuePosition="1")
        if verbs(leave) == ["Leave"]:
            break
        await asyncio.sleep(0.1)
    _, record = await line.callback("/phone/twilio/queue-result", SID, QueueResult="leave")

    activity = await call_activity(line.store, SID)
    async with line.store.sessions() as db:
        task = await db.scalar(select(Task).where(Task.activity_id == activity.id))
    assert verbs(leave) == ["Leave"]
    assert verbs(record) == ["Say", "Record", "Hangup"] and "zasedeni" in record
    assert activity.meta["call"]["outcome"] == "voicemail"
    assert task is not None and task.state == "voicemail"


async def test_unanswered_offer_moves_to_the_next_agent(line: Line) -> None:
    await configure(line, rules={"ring_timeout_s": 1})
    ana, bor = await line.sign_in("ana"), await line.sign_in("bor")
    await bor.available()
    bor_ws = await bor.socket()
    await line.call(SID)
    first = await next_event(bor_ws, "screen_pop")  # only Bor is available
    await ana.available()
    ana_ws = await ana.socket()

    withdrawn = await asyncio.wait_for(next_event(bor_ws, "call_withdrawn"), timeout=6)
    second = await asyncio.wait_for(next_event(ana_ws, "screen_pop"), timeout=6)

    async with line.store.sessions() as db:
        bor_state = await db.get(AgentState, bor.id)
    assert withdrawn["payload"] == {
        "task_id": first["payload"]["task_id"],
        "reason": "ring timeout",
    }
    assert second["payload"]["task_id"] == first["payload"]["task_id"]
    assert bor_state is not None and bor_state.presence == "missed"
    # Bor's workspace says why no calls come, and lets them come back.
    page = await (await bor.session.get("/")).text()
    assert 'id="presence-missed"' in page
    assert 'value="available" id="go-available" >' in page or 'id="go-available" >' in page
    await bor.available()
    async with line.store.sessions() as db:
        back = await db.get(AgentState, bor.id)
    assert back is not None and back.presence == "available"
    for _ in range(50):  # the pop goes out first; its offer is noted right after
        activity = await call_activity(line.store, SID)
        if len(activity.meta["call"]["offered_to"]) == 2:
            break
        await asyncio.sleep(0.02)
    assert activity.meta["call"]["offered_to"] == [bor.id, ana.id]


async def test_calls_of_the_other_company_never_reach_its_agents(
    store: Store, tmp_path: Path
) -> None:
    world = await factories.world(store)
    queue_id = await add_call_centre(store)
    lines = [{"number": "080 21 40", "legal_entity": "dso"}]
    async with serving(store, tmp_path, world, queue_id, lines=lines) as here:
        ana, dan = await here.sign_in("ana"), await here.sign_in("dan")
        await ana.available()
        await dan.available()
        ana_ws = await ana.socket()
        params = {"To": "+386802140", "Called": "+386802140"}
        await here.call(SID, **params)

        activity = await call_activity(store, SID)
        async with store.sessions() as db:
            task = await db.scalar(select(Task).where(Task.activity_id == activity.id))
        assert activity.legal_entity == "dso"
        assert task is not None and task.legal_entity == "dso" and task.agent_id != ana.id
        try:
            await asyncio.wait_for(next_event(ana_ws, "screen_pop"), timeout=0.5)
            raise AssertionError("a supplier agent was shown a DSO call")
        except TimeoutError:
            pass


async def test_database_outage_answers_503_and_keeps_nothing(tmp_path: Path) -> None:
    dead = Store.open("postgresql://nobody@127.0.0.1:1/none")
    world = factories.World(0, 0, 0, "", 0, 0, 0, 0)
    try:
        async with serving(dead, tmp_path, world, 0) as here:
            status, body = await here.call(SID)
        assert status == 503 and "try again" in body
    finally:
        await dead.close()


def test_withheld_numbers_are_not_matched_by_accident() -> None:
    from channels.phone.calls import caller_number

    assert caller_number("anonymous") == (None, "withheld")
    assert caller_number("+266696687") == (None, "withheld")
    assert caller_number("client:ana") == (None, "client")
    assert caller_number("041 123 456") == ("+38641123456", "number")
    assert caller_number("0038641123456") == ("+38641123456", "number")
    assert caller_number("+4930123456") == ("+4930123456", "number")
    assert caller_number("12") == (None, "invalid")


async def test_a_caller_gone_without_a_callback_is_ended_not_rung_for_ever(line: Line) -> None:
    """Twilio stops asking for wait music when the caller is gone; no callback came."""
    desk = line.server.app[PHONE].desk
    await line.call(SID)
    await line.callback("/phone/twilio/wait", SID, QueuePosition="1")
    heard = datetime.fromisoformat((await call_activity(line.store, SID)).meta["call"]["heard_at"])
    await line.call("CA" + "f" * 32)
    await desk.waiting("CA" + "f" * 32, 1, None, now=heard + timedelta(minutes=9))  # still there

    assert await desk.sweep_gone(now=heard + timedelta(minutes=5)) == 0
    swept = await desk.sweep_gone(now=heard + timedelta(minutes=11))

    gone = await call_activity(line.store, SID)
    still = await call_activity(line.store, "CA" + "f" * 32)
    assert swept == 1
    assert gone.meta["call"]["outcome"] == "abandoned"
    assert datetime.fromisoformat(gone.meta["call"]["ended_at"]) == heard
    assert still.meta["call"]["outcome"] is None
