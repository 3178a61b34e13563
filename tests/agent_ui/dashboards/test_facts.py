"""Keeping `dash_contact` current: events, repeats, missed events and bad call JSON."""

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm.attributes import flag_modified

from agent_ui.dashboards.facts import FactKeeper
from agent_ui.dashboards.models import ContactFact
from interactions.models import Activity, ActivityState, Channel, Direction
from interactions.store import Store
from tests.agent_ui.dashboards import factories as f
from tests.agent_ui.dashboards.factories import DAY, at


async def write_call(store: Store, meta: dict, direction: str = Direction.INBOUND) -> int:
    async with store.sessions() as db, db.begin():
        activity = Activity(
            channel=Channel.PHONE,
            direction=direction,
            external_id=str(meta.get("sid") or "CA-bad"),
            occurred_at=at(DAY, 9),
            legal_entity="supplier",
            state=ActivityState.PROCESSED,
            match_reasons=[],
            match_candidates=[],
            meta={"call": meta},
        )
        db.add(activity)
        await db.flush()
        return activity.id


async def fact(store: Store, activity_id: int) -> ContactFact | None:
    async with store.sessions() as db:
        return await db.get(ContactFact, activity_id)


async def test_every_node_hearing_an_event_counts_the_call_once(store: Store) -> None:
    queue_id = await f.queue(store)
    call_id = await write_call(
        store, f.call_meta(at(DAY, 9), queue_id, "answered", wait=7, talk=60)
    )
    nodes = [FactKeeper(store), FactKeeper(store)]  # the same event relayed to two nodes

    for keeper in nodes:
        for _ in range(2):
            await keeper.on_event("call.ended", {"activity_id": call_id})

    async with store.sessions() as db:
        rows = await db.scalar(select(func.count()).select_from(ContactFact))
    found = await fact(store, call_id)
    assert rows == 1
    assert found is not None
    assert (found.outcome, found.wait_seconds, found.queue_id) == ("answered", 7, queue_id)
    assert (found.local_day, found.local_hour, found.local_slot) == (DAY, 9, 18)


async def test_a_call_is_recounted_as_it_moves_from_queued_to_ended(store: Store) -> None:
    queue_id = await f.queue(store)
    done = f.call_meta(at(DAY, 9), queue_id, "answered", wait=7, talk=60)
    live = {**done, "outcome": None, "answered_at": None, "ended_at": None, "wait_seconds": None}
    call_id = await write_call(store, live)
    keeper = FactKeeper(store)
    await keeper.on_event("call.queued", {"activity_id": call_id})
    queued = await fact(store, call_id)
    assert queued is not None and (queued.outcome, queued.answered_at) == (None, None)

    async with store.sessions() as db, db.begin():
        activity = await db.get_one(Activity, call_id)
        activity.meta = {"call": done}
        flag_modified(activity, "meta")
    await keeper.on_event("call.ended", {"activity_id": call_id})

    ended = await fact(store, call_id)
    assert ended is not None and ended.outcome == "answered"
    assert ended.answered_at is not None


async def test_catch_up_counts_what_no_event_announced(store: Store) -> None:
    queue_id = await f.queue(store)
    keeper = FactKeeper(store)
    await keeper.catch_up()
    missed = await write_call(store, f.call_meta(at(DAY, 10), queue_id, "abandoned", wait=12))
    email = await f.contact(store, at(DAY, 11))
    outbound = await write_call(store, {"sid": "CA-out"}, direction=Direction.OUTBOUND)

    await keeper.catch_up()

    assert (await fact(store, missed)) is not None
    assert (await fact(store, email)) is not None
    assert (await fact(store, outbound)) is None  # only inbound contacts are counted


async def test_a_live_call_whose_end_was_missed_is_repaired(store: Store) -> None:
    from interactions.types import utcnow

    queue_id = await f.queue(store)
    now = utcnow() - timedelta(minutes=2)
    done = f.call_meta(now, queue_id, "answered", wait=3, talk=30)
    async with store.sessions() as db, db.begin():
        activity = f.activity_of(now, {**done, "outcome": None, "ended_at": None})
        db.add(activity)
    keeper = FactKeeper(store)
    await keeper.catch_up()
    assert (await fact(store, activity.id)).outcome is None  # type: ignore[union-attr]

    async with store.sessions() as db, db.begin():
        found = await db.get_one(Activity, activity.id)
        found.meta = {"call": done}
    await keeper.catch_up()  # no call.ended heard: the live call is re-read anyway

    assert (await fact(store, activity.id)).outcome == "answered"  # type: ignore[union-attr]


async def test_bad_call_json_is_counted_without_its_figures(store: Store) -> None:
    call_id = await write_call(
        store,
        {
            "sid": "CA-bad",
            "queue_id": "seven",
            "outcome": "exploded",
            "queued_at": "2026-11-10T08:00:00Z",
            "answered_at": "not a time",
            "wait_seconds": -4,
            "talk_seconds": 1e12,
            "wrap_up_seconds": True,
            "agent_id": 10**30,
        },
    )
    await FactKeeper(store).on_event("call.ended", {"activity_id": call_id})
    await FactKeeper(store).on_event("call.ended", {"activity_id": "DROP TABLE"})

    found = await fact(store, call_id)
    assert found is not None
    assert (found.queue_id, found.outcome, found.answered_at) == (None, None, None)
    assert (found.wait_seconds, found.talk_seconds, found.wrap_up_seconds) == (None, None, None)
    assert found.employee_id is None
