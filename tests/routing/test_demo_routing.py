"""The demo installation routes written work: triage's queues are real, its staff can take it."""

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from interactions import InboundContact, record_contact
from interactions.demo import seed_routing_defaults
from interactions.models import Channel, Employee, Queue, Ticket
from interactions.store import Store
from interactions.triage import install
from routing.assignment import capacity_limits
from routing.engine import RoutingEngine
from routing.models import Presence

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # Monday 10:30 in Ljubljana


async def write_in(store: Store, n: int, subject: str, text: str, entity: str) -> Ticket:
    recorded = await record_contact(
        store,
        InboundContact(
            channel=Channel.EMAIL,
            external_id=f"<demo-{n}@example.si>",
            occurred_at=WHEN,
            legal_entity=entity,
            sender_address="ana.novak@example.si",
            subject=subject,
            text=text,
        ),
    )
    async with store.sessions() as session:
        return await session.get_one(Ticket, recorded.ticket_id)


async def queue_codes(store: Store) -> dict[int, str]:
    async with store.sessions() as session:
        return dict((await session.execute(select(Queue.id, Queue.code))).all())


async def test_triaged_contacts_land_in_the_demo_queues(store: Store, tmp_path: Path) -> None:
    await seed_routing_defaults(store)
    install(store, tmp_path / "triage")

    complaint = await write_in(
        store,
        1,
        "Pritožba nad obravnavo",
        "Pozdravljeni, pritožujem se nad neprijaznim odnosom vaše uslužbenke na klicnem centru.",
        "supplier",
    )
    switch = await write_in(
        store,
        2,
        "Menjava dobavitelja",
        "Želim zamenjati dobavitelja električne energije. Kako poteka menjava?",
        "supplier",
    )
    billing = await write_in(
        store,
        5,
        "Reklamacija računa",
        "Pozdravljeni, prejel sem račun za marec v znesku 412,36 €, kar je trikrat več kot "
        "običajno. Prosim za preverbo in popravek.",
        "supplier",
    )
    question = await write_in(
        store,
        6,
        "Vprašanje o računu",
        "Zanima me, zakaj je na računu postavka za omrežnino višja kot lani?",
        "supplier",
    )
    outage = await write_in(
        store,
        3,
        "Ni elektrike",
        "Od jutra nimamo elektrike v celi ulici, prosim za pomoč.",
        "dso",
    )

    codes = await queue_codes(store)
    assert codes[complaint.queue_id] == "sup-complaints"
    assert codes[switch.queue_id] == "sup-switching"
    assert (billing.kind, codes[billing.queue_id]) == ("complaint", "sup-complaints")
    assert codes[question.queue_id] == "sup-back-office"
    assert codes[outage.queue_id] == "dso-back-office"


async def test_a_demo_back_office_agent_is_given_the_complaint(
    store: Store, tmp_path: Path
) -> None:
    await seed_routing_defaults(store)
    install(store, tmp_path / "triage")
    async with store.sessions() as session:
        staff = {e.login: e for e in await session.scalars(select(Employee))}
    assert capacity_limits(staff["supplier.back2"].capacity)[1] > 0
    assert capacity_limits(staff["supplier.call2"].capacity) == (1, 0, 0)

    engine = RoutingEngine(store)
    await engine.set_presence(staff["supplier.back2"].id, Presence.AVAILABLE, now=WHEN)
    ticket = await write_in(
        store,
        4,
        "Pritožba",
        "Na klic čakam po 40 minut, nihče se ne oglasi. Pritožujem se nad vašo storitvijo.",
        "supplier",
    )
    await engine.enqueue_ticket(ticket.id, now=WHEN)
    [decision] = await engine.dispatch(now=WHEN)

    assert decision.agent_id == staff["supplier.back2"].id
    assert (await queue_codes(store))[ticket.queue_id] == "sup-complaints"
