"""What an agent does to a ticket in the workspace reaches routing: clocks, tasks, capacity."""

from datetime import timedelta

from sqlalchemy import select, update

from interactions import InboundContact, record_contact
from interactions.models import Channel, Employee, Queue, Ticket
from interactions.types import utcnow
from routing.engine import RoutingEngine
from routing.models import AgentState, ClockState, SlaClock, SlaRecord, Task, TaskState
from tests.agent_ui.conftest import Web


async def mail_queue(web: Web) -> int:
    """A queue for the supplier's mail, worked by its back office, who read Slovenian.

    The world's own tickets are closed first, so that routing has only this story's.
    """
    async with web.store.sessions() as db, db.begin():
        await db.execute(update(Employee).values(languages=["sl", "en"]))
        await db.execute(update(Ticket).values(status="closed"))
        queue = Queue(
            code="sup-mail",
            name="Supplier mail",
            legal_entity="supplier",
            org_unit="back_office",
            channels=["email"],
        )
        db.add(queue)
        await db.flush()
        return queue.id


async def customer_writes(web: Web, message_id: str) -> int:
    recorded = await record_contact(
        web.store,
        InboundContact(
            channel=Channel.EMAIL,
            external_id=message_id,
            occurred_at=utcnow(),
            legal_entity="supplier",
            sender_address="ana.novak@example.si",
            subject="Račun za marec je previsok",
            text="Pozdravljeni, račun za marec je dvakrat višji kot običajno.",
        ),
    )
    assert recorded.ticket_id is not None
    return recorded.ticket_id


async def routing_of(web: Web, ticket_id: int) -> tuple[Task, list[SlaClock], dict[int, int]]:
    """The ticket's task, its clocks, and every agent's written load."""
    async with web.store.sessions() as db:
        task = await db.scalar(select(Task).where(Task.ticket_id == ticket_id))
        clocks = list(await db.scalars(select(SlaClock).where(SlaClock.ticket_id == ticket_id)))
        loads = dict((await db.execute(select(AgentState.employee_id, AgentState.written))).all())
    assert task is not None
    return task, clocks, loads


async def breaches(web: Web, ticket_id: int) -> list[str]:
    async with web.store.sessions() as db:
        rows = await db.scalars(
            select(SlaRecord.metric).where(
                SlaRecord.ticket_id == ticket_id, SlaRecord.kind == "breach"
            )
        )
        return list(rows)


async def test_reply_and_close_stop_the_clocks_and_free_the_agent(web: Web) -> None:
    await mail_queue(web)
    client, token = await web.signed_in("ana")
    await client.post("/presence", data={"csrf_token": token, "state": "available"})
    ana = web.ids["ana"]

    tid = await customer_writes(web, "<racun-1@example.si>")
    task, clocks, loads = await routing_of(web, tid)
    assert (task.state, task.agent_id, loads[ana]) == (TaskState.ASSIGNED, ana, 1)
    assert {c.metric for c in clocks} == {"first_response", "resolution"}

    await client.post(
        f"/tickets/{tid}/reply",
        data={
            "csrf_token": token,
            "to": "ana.novak@example.si",
            "subject": "Re: Račun",
            "body": "Spoštovana gospa Novak,\nračun preverjamo.",
        },
    )
    _, clocks, _ = await routing_of(web, tid)
    assert {c.metric: c.state for c in clocks}["first_response"] == ClockState.MET

    closed = await client.post(
        f"/tickets/{tid}/close", data={"csrf_token": token, "resolution": "answered"}
    )
    assert closed.status == 200
    task, clocks, loads = await routing_of(web, tid)
    assert task.state == TaskState.DONE and loads[ana] == 0
    assert {c.state for c in clocks} == {ClockState.MET}

    # A sweep long after every due time finds nothing to breach on this ticket.
    await RoutingEngine(web.store).sweep(utcnow() + timedelta(days=60))
    assert await breaches(web, tid) == []
    async with web.store.sessions() as db:
        found = await db.get_one(Ticket, tid)
    assert found.status == "closed" and not found.breaches


async def test_a_ticket_taken_by_hand_is_no_longer_routed_to_others(web: Web) -> None:
    await mail_queue(web)
    bor_client, bor_token = await web.signed_in("bor")
    tid = await customer_writes(web, "<racun-2@example.si>")
    task, _, _ = await routing_of(web, tid)
    assert task.state == TaskState.QUEUED  # nobody is available yet

    client, token = await web.signed_in("ana")
    await client.post(f"/tickets/{tid}/take", data={"csrf_token": token})
    await bor_client.post("/presence", data={"csrf_token": bor_token, "state": "available"})
    await RoutingEngine(web.store).dispatch()

    task, _, loads = await routing_of(web, tid)
    assert (task.state, task.agent_id, task.touched_at is not None) == (
        TaskState.ASSIGNED,
        web.ids["ana"],
        True,
    )
    assert (loads[web.ids["ana"]], loads.get(web.ids["bor"], 0)) == (1, 0)

    supervisor, sara_token = await web.signed_in("sara")
    await supervisor.post(
        f"/tickets/{tid}/fields",
        data={"csrf_token": sara_token, "assignee_id": str(web.ids["bor"]), "priority": "1"},
    )
    task, _, loads = await routing_of(web, tid)
    assert (task.agent_id, task.priority) == (web.ids["bor"], 1)
    assert (loads[web.ids["ana"]], loads[web.ids["bor"]]) == (0, 1)


async def test_pending_customer_pauses_the_clocks_and_open_resumes_them(web: Web) -> None:
    await mail_queue(web)
    client, token = await web.signed_in("ana")
    tid = await customer_writes(web, "<racun-3@example.si>")
    await client.post(f"/tickets/{tid}/take", data={"csrf_token": token})

    await client.post(
        f"/tickets/{tid}/fields", data={"csrf_token": token, "status": "pending_customer"}
    )
    _, clocks, _ = await routing_of(web, tid)
    assert {c.state for c in clocks} == {ClockState.PAUSED}
    await RoutingEngine(web.store).sweep(utcnow() + timedelta(days=60))
    assert await breaches(web, tid) == []

    await client.post(f"/tickets/{tid}/fields", data={"csrf_token": token, "status": "open"})
    _, clocks, _ = await routing_of(web, tid)
    assert {c.state for c in clocks if c.metric != "next_response"} == {ClockState.RUNNING}
    async with web.store.sessions() as db:
        assert (await db.get_one(Ticket, tid)).status == "open"
