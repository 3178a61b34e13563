"""SLA clocks in the store: due times, pauses, warnings, breaches and notifications."""

import pytest
from sqlalchemy import select

from interactions import InboundContact, record_contact
from interactions.models import Channel, Direction, SlaPolicy, Ticket, TicketStatus
from interactions.store import Store
from routing.engine import RoutingEngine
from routing.models import ClockMetric, Notification, Presence, SlaClock, SlaRecord, Task
from routing.sla import choose_policy, explain_ticket
from tests.routing.factories import add_agent, add_queue, add_ticket, local


async def clocks(store: Store, ticket_id: int) -> dict[str, SlaClock]:
    async with store.sessions() as session:
        rows = await session.execute(select(SlaClock).where(SlaClock.ticket_id == ticket_id))
        return {c.metric: c for c in rows.scalars()}


async def ticket(store: Store, ticket_id: int) -> Ticket:
    async with store.sessions() as session:
        return await session.get_one(Ticket, ticket_id)


async def add_policy(store: Store, **values: object) -> str:
    async with store.sessions() as session, session.begin():
        session.add(SlaPolicy(**values))
    return str(values["code"])


async def test_complaint_on_friday_evening_before_easter_monday(store: Store) -> None:
    engine = RoutingEngine(store)
    queue_id = await add_queue(store, "complaints", org_unit="back_office", channels=("email",))
    ticket_id = await add_ticket(store, local(2026, 4, 3, 16, 55), queue_id, kind="complaint")

    await engine.enqueue_ticket(ticket_id, local(2026, 4, 3, 16, 55))

    found = await ticket(store, ticket_id)
    # Shipped default: first response in 1 business day, answer in 8, in open days.
    assert found.first_response_due == local(2026, 4, 8, 8, 0)
    assert found.resolution_due == local(2026, 4, 17, 8, 0)


async def test_eight_business_hours_across_reformation_day(store: Store) -> None:
    await add_policy(store, code="8h", name="8 h", first_response_minutes=480)
    queue_id = await add_queue(store, "q", org_unit="back_office", channels=("email",), policy="8h")
    ticket_id = await add_ticket(store, local(2025, 10, 30, 12, 0), queue_id, kind="request")
    async with store.sessions() as session, session.begin():
        session.add(
            SlaPolicy(
                code="other",
                name="x",
                ticket_kind="request",
                category="x",
                first_response_minutes=1,
            )
        )

    await RoutingEngine(store).enqueue_ticket(ticket_id, local(2025, 10, 30, 12, 0))

    assert (await ticket(store, ticket_id)).first_response_due == local(2025, 11, 3, 12, 0)
    async with store.sessions() as session:
        explained = await explain_ticket(session, ticket_id)
    assert [str(day) for day in explained["first_response"]] == [
        "2025-10-31 (public holiday: Reformation Day)",
        "2025-11-01 (Saturday, public holiday: Day of Remembrance for the Dead)",
        "2025-11-02 (Sunday)",
    ]


async def test_paused_three_days_pending_the_customer_resumes_with_what_was_left(
    store: Store,
) -> None:
    await add_policy(store, code="8h", name="8 h", resolution_minutes=480)
    queue_id = await add_queue(store, "q", org_unit="back_office", channels=("email",), policy="8h")
    ticket_id = await add_ticket(store, local(2025, 11, 10, 9, 0), queue_id)
    engine = RoutingEngine(store)
    await engine.enqueue_ticket(ticket_id, local(2025, 11, 10, 9, 0))
    assert (await clocks(store, ticket_id))["resolution"].due_at == local(2025, 11, 11, 9, 0)

    await engine.ticket_status(ticket_id, TicketStatus.PENDING_CUSTOMER, local(2025, 11, 10, 10, 0))
    report = await engine.sweep(local(2025, 11, 12, 10, 0))  # past the old due time
    assert report.breaches == 0
    await engine.ticket_status(ticket_id, TicketStatus.OPEN, local(2025, 11, 13, 10, 0))

    clock = (await clocks(store, ticket_id))["resolution"]
    assert clock.due_at == local(2025, 11, 14, 9, 0)  # 6 h on Thursday, 1 h on Friday
    assert clock.paused_seconds == 3 * 24 * 3600
    assert (await ticket(store, ticket_id)).resolution_due == local(2025, 11, 14, 9, 0)


async def test_calendar_time_policy_beside_a_business_hours_one(store: Store) -> None:
    await add_policy(
        store,
        code="cal",
        name="8 h elapsed",
        ticket_kind="request",
        resolution_minutes=480,
        business_hours=False,
    )
    await add_policy(
        store, code="biz", name="8 business h", ticket_kind="question", resolution_minutes=480
    )
    queue_id = await add_queue(store, "q", org_unit="back_office", channels=("email",))
    engine = RoutingEngine(store)
    friday = local(2025, 11, 14, 15, 0)
    elapsed = await add_ticket(store, friday, queue_id, kind="request")
    business = await add_ticket(store, friday, queue_id, kind="question")
    for ticket_id in (elapsed, business):
        await engine.enqueue_ticket(ticket_id, friday)

    assert (await ticket(store, elapsed)).resolution_due == local(2025, 11, 14, 23, 0)
    assert (await ticket(store, business)).resolution_due == local(2025, 11, 17, 15, 0)


async def test_supplier_switch_counts_21_calendar_days_across_dst(store: Store) -> None:
    engine = RoutingEngine(store)
    queue_id = await add_queue(store, "switch", org_unit="back_office", channels=("email",))
    ticket_id = await add_ticket(
        store, local(2026, 10, 15, 11, 0), queue_id, kind="change", category="supplier_switch"
    )

    await engine.enqueue_ticket(ticket_id, local(2026, 10, 15, 11, 0))

    assert (await ticket(store, ticket_id)).resolution_due == local(2026, 11, 5, 11, 0)


async def test_warning_and_breach_notify_raise_priority_and_are_recorded_once(
    store: Store,
) -> None:
    await add_policy(store, code="8h", name="8 h", first_response_minutes=480)
    queue_id = await add_queue(store, "q", org_unit="back_office", channels=("email",), policy="8h")
    agent = await add_agent(store, org_unit="back_office")
    supervisor = await add_agent(store, org_unit="back_office", role="supervisor")
    elsewhere = await add_agent(store, org_unit="call_centre", role="supervisor")
    engine = RoutingEngine(store)
    heard: list[tuple[str, dict]] = []

    async def listen(event: str, payload: dict) -> None:
        heard.append((event, payload))

    store.bus.subscribe("sla.warning", listen)
    store.bus.subscribe("sla.breach", listen)
    await engine.set_presence(agent, Presence.AVAILABLE, now=local(2026, 3, 2, 8, 0))
    ticket_id = await add_ticket(store, local(2026, 3, 2, 8, 0), queue_id, priority=3)
    await engine.enqueue_ticket(ticket_id, local(2026, 3, 2, 8, 0))
    await engine.dispatch(local(2026, 3, 2, 8, 0))

    assert (await engine.sweep(local(2026, 3, 2, 14, 23))).warnings == 0
    assert (await engine.sweep(local(2026, 3, 2, 14, 24))).warnings == 1  # 80 % of 8 h
    assert (await engine.sweep(local(2026, 3, 2, 15, 59))).breaches == 0
    assert (await engine.sweep(local(2026, 3, 2, 16, 0))).breaches == 1
    again = await engine.sweep(local(2026, 3, 3, 9, 0))
    assert (again.warnings, again.breaches) == (0, 0)

    assert [(e, p["ticket_id"], p["assignee_id"], p["metric"]) for e, p in heard] == [
        ("sla.warning", ticket_id, agent, "first_response"),
        ("sla.breach", ticket_id, agent, "first_response"),
    ]
    assert heard[1][1]["recipients"] == [agent, supervisor]
    found = await ticket(store, ticket_id)
    assert found.priority == 1
    assert found.breaches == ["first_response"]
    async with store.sessions() as session:
        records = (await session.execute(select(SlaRecord.kind))).scalars().all()
        told = (
            await session.execute(
                select(Notification.employee_id, Notification.channel, Notification.kind)
            )
        ).all()
        task_priority = await session.scalar(
            select(Task.priority).where(Task.ticket_id == ticket_id)
        )
    assert sorted(records) == ["breach", "warning"]
    assert {(e, c) for e, c, _ in told} == {
        (agent, "ui"),
        (agent, "email"),
        (supervisor, "ui"),
        (supervisor, "email"),
    }
    assert elsewhere not in {e for e, _, _ in told}
    assert task_priority == 1


@pytest.mark.parametrize("channel", [Channel.WEB, Channel.EMAIL, Channel.PHONE])
async def test_customer_answer_by_any_channel_reopens_and_resumes(
    store: Store, channel: Channel
) -> None:
    # HARD_CASES 19: web form, email or phone; in every case open again, clock running.
    engine = RoutingEngine(store)
    store.bus.subscribe("ticket.opened", engine.on_event)
    store.bus.subscribe("activity.recorded", engine.on_event)
    opened = await record_contact(
        store,
        InboundContact(
            channel=Channel.EMAIL,
            external_id="<q1@example.si>",
            occurred_at=local(2026, 3, 2, 9, 0),
            subject="Vprašanje",
            text="Kdaj bo odčitek?",
        ),
    )
    async with store.sessions() as session:
        ticket_id = await session.scalar(
            select(Ticket.id).where(Ticket.number == opened.ticket_number)
        )
    await engine.ticket_status(ticket_id, TicketStatus.PENDING_CUSTOMER, local(2026, 3, 2, 10, 0))
    assert {c.state for c in (await clocks(store, ticket_id)).values()} == {"paused"}

    await record_contact(
        store,
        InboundContact(
            channel=channel,
            direction=Direction.INBOUND,
            external_id=f"reply-{channel}",
            occurred_at=local(2026, 3, 4, 9, 0),
            text="Tukaj so podatki.",
            meta={"ticket_number": opened.ticket_number},
        ),
    )

    found = await ticket(store, ticket_id)
    assert found.status == TicketStatus.OPEN
    running = await clocks(store, ticket_id)
    assert running[ClockMetric.RESOLUTION].state == "running"
    assert running[ClockMetric.RESOLUTION].paused_at is None


@pytest.mark.parametrize(
    ("kind", "category", "segment", "channel", "expected"),
    [
        ("complaint", None, None, "email", "complaint"),
        ("question", None, None, "email", "written"),
        ("change", "supplier_switch", "household", "web", "supplier-switch"),
        ("change", "final_bill", None, "post", "final-bill"),
    ],
)
async def test_the_most_specific_shipped_policy_applies(
    store: Store,
    kind: str,
    category: str | None,
    segment: str | None,
    channel: str,
    expected: str,
) -> None:
    async with store.sessions() as session:
        policies = list((await session.execute(select(SlaPolicy).order_by(SlaPolicy.id))).scalars())

    chosen = choose_policy(policies, kind, category, segment, channel)

    assert chosen is not None and chosen.code == expected


async def test_our_acknowledgement_is_no_first_response(store: Store) -> None:
    """An automatic "we received it" leaves the first-response clock running; a reply stops it."""
    engine = RoutingEngine(store)
    store.bus.subscribe("ticket.opened", engine.on_event)
    store.bus.subscribe("activity.recorded", engine.on_event)
    opened = await record_contact(
        store,
        InboundContact(
            channel=Channel.EMAIL,
            external_id="<ack1@example.si>",
            occurred_at=local(2026, 3, 2, 9, 0),
            subject="Vprašanje o računu",
            text="Zakaj je račun višji?",
        ),
    )
    assert opened.ticket_id is not None

    async def reply(external_id: str, automatic: bool) -> None:
        await record_contact(
            store,
            InboundContact(
                channel=Channel.EMAIL,
                direction=Direction.OUTBOUND,
                external_id=external_id,
                occurred_at=local(2026, 3, 2, 9, 1),
                text="Prejeli smo vaše sporočilo.",
                ticket_id=opened.ticket_id,
                automatic=automatic,
            ),
        )

    await reply("<auto@stik>", automatic=True)
    after_ack = await clocks(store, opened.ticket_id)
    await reply("<person@stik>", automatic=False)
    after_reply = await clocks(store, opened.ticket_id)

    assert after_ack[ClockMetric.FIRST_RESPONSE].state == "running"
    assert after_reply[ClockMetric.FIRST_RESPONSE].state == "met"
