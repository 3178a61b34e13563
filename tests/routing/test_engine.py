"""The engine on both databases: offers, ring timeouts, overflow, breaks, restarts."""

from datetime import timedelta

from sqlalchemy import select

from interactions import InboundContact, record_contact
from interactions.models import Channel, Ticket, TicketStatus
from interactions.store import Store
from routing.engine import RoutingEngine
from routing.models import AgentState, Presence, Task, TaskNote, TaskState
from tests.routing.factories import add_agent, add_queue, add_ticket, local

T0 = local(2026, 3, 2, 10, 0)  # a Monday, inside office hours


async def task_row(store: Store, task_id: int) -> Task:
    async with store.sessions() as session:
        return await session.get_one(Task, task_id)


async def presence(store: Store, agent_id: int) -> str:
    async with store.sessions() as session:
        return (await session.get_one(AgentState, agent_id)).presence


async def notes(store: Store, task_id: int) -> list[str]:
    async with store.sessions() as session:
        rows = await session.execute(
            select(TaskNote.text).where(TaskNote.task_id == task_id).order_by(TaskNote.id)
        )
        return [t for t in rows.scalars() if t]


async def call_centre(store: Store, rules: dict | None = None) -> tuple[RoutingEngine, int]:
    queue_id = await add_queue(
        store, "calls", rules=rules or {"ring_timeout_s": 15}, skills={"phone": 1}
    )
    return RoutingEngine(store), queue_id


async def test_call_rings_at_longest_idle_then_next_agent_after_ring_timeout(
    store: Store,
) -> None:
    engine, queue_id = await call_centre(store)
    first = await add_agent(store, skills={"phone": 1})
    second = await add_agent(store, skills={"phone": 1})
    await engine.set_presence(first, Presence.AVAILABLE, now=T0 - timedelta(minutes=10))
    await engine.set_presence(second, Presence.AVAILABLE, now=T0 - timedelta(minutes=2))

    call = await engine.enqueue_call("supplier", queue_id, now=T0)
    [offer] = await engine.dispatch(T0)
    assert (offer.task_id, offer.agent_id, offer.state) == (call, first, "offered")

    assert (await engine.sweep(T0 + timedelta(seconds=14.9))).offers_expired == 0
    report = await engine.sweep(T0 + timedelta(seconds=15))

    assert report.offers_expired == 1
    assert [(d.task_id, d.agent_id) for d in report.decisions] == [(call, second)]
    assert await presence(store, first) == Presence.MISSED
    assert not await engine.accept(call, first, T0 + timedelta(seconds=16))
    assert await engine.accept(call, second, T0 + timedelta(seconds=16))
    assert (await task_row(store, call)).state == TaskState.ASSIGNED
    assert await presence(store, second) == Presence.BUSY


async def test_overflow_to_back_office_at_the_exact_second_then_voicemail(store: Store) -> None:
    rules = {
        "overflow": [
            {"after_s": 60, "org_units": ["back_office"], "skills": {"phone": 1}},
            {"after_s": 300, "action": "voicemail"},
        ]
    }
    engine, queue_id = await call_centre(store, rules)
    back_office = await add_agent(store, org_unit="back_office", skills={"phone": 1})
    no_phone = await add_agent(store, org_unit="back_office")
    await engine.set_presence(no_phone, Presence.AVAILABLE, now=T0 - timedelta(hours=1))
    await engine.set_presence(back_office, Presence.AVAILABLE, now=T0)
    call = await engine.enqueue_call("supplier", queue_id, now=T0)
    waiting = await engine.enqueue_call("supplier", queue_id, now=T0 + timedelta(seconds=1))

    assert await engine.dispatch(T0) == []
    assert (await engine.sweep(T0 + timedelta(seconds=59))).decisions == []
    report = await engine.sweep(T0 + timedelta(seconds=60))

    assert [(d.task_id, d.agent_id) for d in report.decisions] == [(call, back_office)]
    assert await engine.accept(call, back_office, T0 + timedelta(seconds=61))
    await engine.sweep(T0 + timedelta(seconds=300))
    assert (await task_row(store, waiting)).state == TaskState.QUEUED
    await engine.sweep(T0 + timedelta(seconds=301))
    assert (await task_row(store, waiting)).state == TaskState.VOICEMAIL


async def test_agent_going_to_break_has_ringing_call_reoffered_at_once(store: Store) -> None:
    engine, queue_id = await call_centre(store)
    first = await add_agent(store, skills={"phone": 1})
    second = await add_agent(store, skills={"phone": 1})
    await engine.set_presence(first, Presence.AVAILABLE, now=T0 - timedelta(minutes=5))
    await engine.set_presence(second, Presence.AVAILABLE, now=T0)
    call = await engine.enqueue_call("supplier", queue_id, now=T0)
    [offer] = await engine.dispatch(T0)
    assert offer.agent_id == first

    await engine.set_presence(first, Presence.BREAK, "lunch", now=T0 + timedelta(seconds=3))

    row = await task_row(store, call)
    assert (row.state, row.agent_id) == (TaskState.OFFERED, second)
    assert "re-offered: agent went break" in await notes(store, call)


async def test_capacity_one_call_or_four_tickets_not_a_call_and_three(store: Store) -> None:
    engine = RoutingEngine(store)
    queue_id = await add_queue(store, "mail", org_unit="call_centre", channels=("email",))
    agent = await add_agent(store)
    await engine.set_presence(agent, Presence.AVAILABLE, now=T0)
    tickets = [await add_ticket(store, T0, queue_id) for _ in range(5)]
    for ticket_id in tickets:
        await engine.enqueue_ticket(ticket_id, T0)

    assert len(await engine.dispatch(T0)) == 4
    call = await engine.enqueue_call("supplier", queue_id, now=T0)
    assert await engine.dispatch(T0) == []  # four tickets: no call

    await engine.ticket_status(tickets[0], TicketStatus.RESOLVED, T0 + timedelta(minutes=1))
    await engine.ticket_status(tickets[1], TicketStatus.RESOLVED, T0 + timedelta(minutes=1))
    # Two tickets were freed: the fifth ticket came first (earlier), leaving three.
    assert (await task_row(store, call)).state == TaskState.QUEUED
    await engine.ticket_status(tickets[2], TicketStatus.RESOLVED, T0 + timedelta(minutes=2))
    assert (await task_row(store, call)).state == TaskState.OFFERED
    async with store.sessions() as session:
        state = await session.get_one(AgentState, agent)
    assert (state.calls, state.written) == (1, 2)


async def test_untouched_tickets_of_agent_gone_offline_return_after_grace(store: Store) -> None:
    # HARD_CASES 20: five tickets, offline at 14:00, grace 15 minutes.
    engine = RoutingEngine(store)
    queue_id = await add_queue(
        store,
        "back",
        org_unit="back_office",
        channels=("email",),
        rules={"on_away": "return", "away_grace_s": 900},
    )
    a = await add_agent(store, org_unit="back_office", capacity={"written": 5})
    b = await add_agent(store, org_unit="back_office", capacity={"written": 10})
    morning = local(2026, 3, 2, 9, 0)
    await engine.set_presence(a, Presence.AVAILABLE, now=morning)
    tickets = [await add_ticket(store, morning, queue_id) for _ in range(5)]
    tasks = [await engine.enqueue_ticket(t, morning) for t in tickets]
    assert {d.agent_id for d in await engine.dispatch(morning)} == {a}
    await engine.responded(tickets[0], local(2026, 3, 2, 11, 0))  # A worked on one
    await engine.set_presence(b, Presence.AVAILABLE, now=local(2026, 3, 2, 13, 0))

    await engine.set_presence(a, Presence.OFFLINE, "went home", now=local(2026, 3, 2, 14, 0))
    assert (await engine.sweep(local(2026, 3, 2, 14, 14, 59))).returned == 0
    report = await engine.sweep(local(2026, 3, 2, 14, 15))

    assert report.returned == 4
    assert sorted(d.task_id for d in report.decisions) == sorted(tasks[1:])
    assert {d.agent_id for d in report.decisions} == {b}
    assert (await task_row(store, tasks[0])).agent_id == a
    for task_id in tasks[1:]:
        assert any("untouched, agent offline for 15 min" in n for n in await notes(store, task_id))

    # A's resolved ticket is reopened while A is away: it goes to B.
    await engine.ticket_status(tickets[0], TicketStatus.RESOLVED, local(2026, 3, 2, 14, 20))
    await engine.ticket_status(tickets[0], TicketStatus.OPEN, local(2026, 3, 2, 14, 30))
    async with store.sessions() as session:
        assert (await session.get_one(Ticket, tickets[0])).assignee_id == b


async def test_tickets_stay_with_the_agent_when_the_queue_keeps_them(store: Store) -> None:
    engine = RoutingEngine(store)
    queue_id = await add_queue(
        store, "keep", org_unit="back_office", channels=("email",), rules={"on_away": "keep"}
    )
    a = await add_agent(store, org_unit="back_office")
    await engine.set_presence(a, Presence.AVAILABLE, now=T0)
    task_id = await engine.enqueue_ticket(await add_ticket(store, T0, queue_id), T0)
    await engine.dispatch(T0)

    await engine.set_presence(a, Presence.BREAK, now=T0 + timedelta(minutes=1))
    await engine.sweep(T0 + timedelta(hours=3))

    assert (await task_row(store, task_id)).agent_id == a


async def test_higher_priority_and_earlier_deadline_go_first(store: Store) -> None:
    engine = RoutingEngine(store)
    queue_id = await add_queue(store, "mail", org_unit="back_office", channels=("email",))
    agent = await add_agent(store, org_unit="back_office", capacity={"written": 1})
    low = await add_ticket(store, T0 - timedelta(hours=2), queue_id, priority=4)
    urgent = await add_ticket(store, T0, queue_id, priority=1)
    for ticket_id in (low, urgent):
        await engine.enqueue_ticket(ticket_id, T0)
    await engine.set_presence(agent, Presence.AVAILABLE, now=T0)

    async with store.sessions() as session:
        assignee = (await session.get_one(Ticket, urgent)).assignee_id
    assert assignee == agent


async def test_a_restarted_engine_fires_the_timers_of_the_old_one(store: Store) -> None:
    engine, queue_id = await call_centre(store)
    agent = await add_agent(store, skills={"phone": 1})
    other = await add_agent(store, skills={"phone": 1})
    await engine.set_presence(agent, Presence.AVAILABLE, now=T0 - timedelta(minutes=1))
    call = await engine.enqueue_call("supplier", queue_id, now=T0)
    await engine.dispatch(T0)
    ticket = await add_ticket(store, T0, None)
    await engine.enqueue_ticket(ticket, T0)
    # A ticket opened by a node that stopped before it could route it.
    orphan = await record_contact(
        store,
        InboundContact(channel=Channel.EMAIL, external_id="<lost@example.si>", occurred_at=T0),
    )

    url = store.engine.url.render_as_string(hide_password=False)
    reopened = Store.open(url)
    try:
        restarted = RoutingEngine(reopened, node="after-restart")
        await restarted.set_presence(other, Presence.AVAILABLE, now=T0 + timedelta(seconds=5))
        report = await restarted.sweep(T0 + timedelta(days=3))
    finally:
        await reopened.close()

    assert report.offers_expired == 1
    assert report.adopted == 1
    assert (await task_row(store, call)).agent_id == other
    assert report.breaches == 2  # both tickets' first responses (1 business day)
    async with store.sessions() as session:
        adopted = await session.scalar(
            select(Task.id)
            .join(Ticket, Ticket.id == Task.ticket_id)
            .where(Ticket.number == orphan.ticket_number)
        )
    assert adopted is not None


async def test_live_call_recorded_by_the_phone_adapter_rings_an_agent(store: Store) -> None:
    engine, queue_id = await call_centre(store)
    agent = await add_agent(store, skills={"phone": 1})
    await engine.set_presence(agent, Presence.AVAILABLE)
    store.bus.subscribe("activity.recorded", engine.on_event)
    offered: list[dict] = []

    async def keep(event: str, payload: dict) -> None:
        offered.append(payload)

    store.bus.subscribe("task.offered", keep)
    await record_contact(
        store,
        InboundContact(
            channel=Channel.PHONE,
            external_id="CA-live-1",
            occurred_at=T0,
            sender_address="+38612345678",
            meta={"live": True},
        ),
    )

    assert [p["agent_id"] for p in offered] == [agent]
    async with store.sessions() as session:
        call = await session.get_one(Task, offered[0]["task_id"])
    assert (call.kind, call.queue_id, call.state) == ("call", queue_id, TaskState.OFFERED)


async def test_caller_hanging_up_while_ringing_frees_the_agent(store: Store) -> None:
    engine, queue_id = await call_centre(store)
    agent = await add_agent(store, skills={"phone": 1})
    await engine.set_presence(agent, Presence.AVAILABLE, now=T0)
    first = await engine.enqueue_call("supplier", queue_id, now=T0)
    second = await engine.enqueue_call("supplier", queue_id, now=T0 + timedelta(seconds=1))
    await engine.dispatch(T0 + timedelta(seconds=1))

    assert await engine.complete(first, T0 + timedelta(seconds=4), outcome=TaskState.ABANDONED)
    await engine.dispatch(T0 + timedelta(seconds=4))

    assert (await task_row(store, first)).state == TaskState.ABANDONED
    assert (await task_row(store, second)).agent_id == agent
    assert not await engine.complete(first, T0 + timedelta(seconds=5))
