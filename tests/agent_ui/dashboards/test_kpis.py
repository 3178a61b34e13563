"""Every figure's definition, checked on small hand-built days whose values are worked out here."""

from datetime import UTC, datetime, timedelta

import pytest

from agent_ui.dashboards import kpis, queries
from agent_ui.dashboards.facts import refresh_contacts
from agent_ui.dashboards.queries import Filters
from interactions.models import Channel, Partner, TicketKind
from interactions.store import Store
from tests.agent_ui.dashboards import factories as f
from tests.agent_ui.dashboards.factories import DAY, at

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
ANSWERED_WAITS = [2, 5, 8, 10, 12, 15, 20]  # seven within 20 s (20 itself counts)
TALKS = [60, 120, 180, 240, 300, 360, 420, 480]


async def ten_calls(store: Store) -> int:
    """7 answered within 20 s, 1 after 40 s, 1 abandoned after 3 s, 1 after 30 s."""
    queue_id = await f.queue(store)
    waits = [*ANSWERED_WAITS, 40]
    for n, (wait, talk) in enumerate(zip(waits, TALKS, strict=True)):
        wrap = None if n == 0 else 30
        await f.call(store, at(DAY, 9, n), queue_id, "answered", wait=wait, talk=talk, wrap=wrap)
    await f.call(store, at(DAY, 10, 5), queue_id, "abandoned", wait=3)
    await f.call(store, at(DAY, 10, 40), queue_id, "abandoned", wait=30)
    return queue_id


async def figures(store: Store, target_s: int = 20, **narrow: object) -> dict[str, float | None]:
    filters = Filters("supplier", DAY, DAY, params=kpis.Params(target_s=target_s), **narrow)
    async with store.sessions() as db:
        sums = await queries.summary(db, filters, NOW)
    return kpis.values(tuple(kpis.KPIS), sums)


async def test_the_ten_calls_day_by_the_definitions(store: Store) -> None:
    await ten_calls(store)

    found = await figures(store)

    # Offered: the 8 answered and the abandon after 30 s; the 3-second abandon is short.
    assert found["calls"] == 10
    assert found["offered"] == 9
    assert found["answered"] == 8
    assert found["short_abandons"] == 1
    assert found["service_level"] == pytest.approx(7 / 9)
    assert found["abandonment_rate"] == pytest.approx(1 / 9)
    assert found["asa"] == pytest.approx((2 + 5 + 8 + 10 + 12 + 15 + 20 + 40) / 8)
    # Handle time: talk plus wrap-up; the first call has no wrap-up recorded.
    assert found["aht"] == pytest.approx((sum(TALKS) + 7 * 30) / 8)


async def test_a_longer_target_counts_the_forty_second_answer(store: Store) -> None:
    await ten_calls(store)

    assert (await figures(store, target_s=60))["service_level"] == pytest.approx(8 / 9)
    assert (await figures(store, target_s=10))["service_level"] == pytest.approx(4 / 9)


async def test_calls_that_never_queued_are_calls_but_not_offered(store: Store) -> None:
    queue_id = await ten_calls(store)
    await f.call(store, at(DAY, 22), queue_id, "out_of_hours")
    await f.call(store, at(DAY, 11), queue_id, "voicemail", wait=90)
    await f.call(store, at(DAY, 12), queue_id, None)  # still ringing: counted when it ends

    found = await figures(store)

    assert found["calls"] == 13
    assert found["offered"] == 9
    assert found["service_level"] == pytest.approx(7 / 9)


async def test_other_days_queues_and_entities_are_not_counted(store: Store) -> None:
    queue_id = await ten_calls(store)
    other = await f.queue(store, "faults")
    dso_queue = await f.queue(store, "dso-info", entity="dso")
    await f.call(store, at(DAY - timedelta(days=1), 23, 59), queue_id, "abandoned", wait=60)
    await f.call(store, at(DAY, 9), other, "abandoned", wait=60)
    await f.call(store, at(DAY, 9), dso_queue, "abandoned", wait=60, entity="dso")

    assert (await figures(store, queue_id=queue_id))["service_level"] == pytest.approx(7 / 9)
    everything = await figures(store)
    assert everything["offered"] == 10
    assert everything["service_level"] == pytest.approx(7 / 10)


async def test_the_local_day_bounds_follow_ljubljana_time(store: Store) -> None:
    queue_id = await f.queue(store)
    # 23:30 UTC on the 9th is 00:30 on the 10th in Ljubljana (CET, UTC+1).
    await f.call(
        store, datetime(2026, 11, 9, 23, 30, tzinfo=UTC), queue_id, "answered", wait=5, talk=60
    )
    await f.call(
        store, datetime(2026, 11, 10, 23, 30, tzinfo=UTC), queue_id, "answered", wait=5, talk=60
    )

    assert (await figures(store))["answered"] == 1


async def test_first_contact_resolution_looks_seven_days_ahead(store: Store) -> None:
    from tests.agent_ui.factories import world

    w = await world(store)  # a partner, and an email of theirs an hour ago (not on DAY)
    async with store.sessions() as db, db.begin():
        other = Partner(first_name="Bor", last_name="Kos")
        db.add(other)
        await db.flush()
        other_id = other.id
    queue_id = await f.queue(store)
    await f.call(store, at(DAY, 9), queue_id, "answered", wait=5, talk=60, partner_id=w.partner_id)
    await f.contact(store, at(DAY, 9) + timedelta(days=3), partner_id=w.partner_id)  # came back
    await f.call(store, at(DAY, 10), queue_id, "answered", wait=5, talk=60, partner_id=other_id)
    await f.contact(store, at(DAY, 10) + timedelta(days=8), partner_id=other_id)  # too late
    await f.call(store, at(DAY, 11), queue_id, "answered", wait=5, talk=60)  # unknown caller
    # A third customer whose return is recorded before the call it follows.
    async with store.sessions() as db, db.begin():
        third = Partner(first_name="Cene", last_name="Zupan")
        db.add(third)
        await db.flush()
        third_id = third.id
    await f.contact(store, at(DAY, 12) + timedelta(days=6), partner_id=third_id)
    late = await f.call(
        store, at(DAY, 12), queue_id, "answered", wait=5, talk=60, partner_id=third_id
    )

    found = await figures(store)

    assert found["contacts"] == 4
    assert found["fcr"] == pytest.approx(1 / 3)

    async with store.sessions() as db, db.begin():  # counting again changes nothing
        await refresh_contacts(db, [late])
    assert (await figures(store))["fcr"] == pytest.approx(1 / 3)


async def test_ticket_deadlines_count_once_met_or_past(store: Store) -> None:
    created = at(DAY, 9)
    due = created + timedelta(days=1)
    common = {"kind": TicketKind.COMPLAINT, "category": "billing"}
    await f.ticket(
        store,
        created,
        first_response_due=due,
        first_responded_at=due - timedelta(hours=2),
        **common,
    )
    await f.ticket(
        store,
        created,
        first_response_due=due,
        first_responded_at=due + timedelta(hours=2),
        **common,
    )
    await f.ticket(store, created, first_response_due=due, **common)  # never answered, past due
    await f.ticket(
        store, created, first_response_due=NOW + timedelta(days=1), **common
    )  # not yet due
    await f.ticket(
        store,
        created,
        resolution_due=due + timedelta(days=7),
        resolved_at=due,
        kind=TicketKind.REQUEST,
    )

    found = await figures(store)

    assert found["first_response_compliance"] == pytest.approx(1 / 3)
    assert found["resolution_compliance"] == pytest.approx(1.0)


async def test_volume_by_hour_counts_every_channel_in_local_hours(store: Store) -> None:
    queue_id = await f.queue(store)
    await f.call(store, at(DAY, 9, 10), queue_id, "answered", wait=5, talk=60)
    await f.call(store, at(DAY, 9, 50), queue_id, "abandoned", wait=8)
    await f.contact(store, at(DAY, 9, 30), Channel.EMAIL)
    await f.contact(store, at(DAY, 14, 0), Channel.WEB)

    async with store.sessions() as db:
        table = await queries.volume_by_hour(db, Filters("supplier", DAY, DAY))

    assert table.rows == [
        {"hour": 9, "channel": "email", "contacts": 1},
        {"hour": 9, "channel": "phone", "contacts": 2},
        {"hour": 14, "channel": "web", "contacts": 1},
    ]
