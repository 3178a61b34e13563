"""Triage through `record_contact`, on SQLite and PostgreSQL: what the back office sees."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from interactions import InboundContact, record_contact, schema
from interactions.models import (
    Activity,
    Channel,
    ContactKind,
    ContactPoint,
    Partner,
    Queue,
    Ticket,
)
from interactions.store import Store
from interactions.triage import defaults, install
from interactions.triage.models import TriageCategory, TriageReview, TriageRule
from interactions.triage.review import (
    UnknownCategory,
    decide,
    labelled_examples,
    pending_reviews,
    retrain,
)

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)  # Monday 10:30 in Ljubljana
QUEUES = ("metering", "billing", "faults", "collections", "complaints", "triage", "heating")


def mail(n: int, subject: str, text: str, sender: str = "ana.novak@example.si", **kw):
    return InboundContact(
        channel=Channel.EMAIL,
        external_id=f"<m{n}@example.si>",
        occurred_at=WHEN,
        sender_address=sender,
        subject=subject,
        text=text,
        **kw,
    )


async def add_queues(store: Store) -> dict[str, int]:
    async with store.sessions() as session, session.begin():
        queues = [
            Queue(code=code, name=code, legal_entity="supplier", org_unit="back_office")
            for code in QUEUES
        ]
        session.add_all(queues)
    return {queue.code: queue.id for queue in queues}


async def add_partner(store: Store, email: str, vulnerable: bool = False) -> int:
    async with store.sessions() as session, session.begin():
        partner = Partner(first_name="Ana", last_name="Novak", vulnerable=vulnerable)
        partner.contact_points.append(ContactPoint(kind=ContactKind.EMAIL, value=email))
        session.add(partner)
    return partner.id


async def activity_and_ticket(store: Store, activity_id: int) -> tuple[Activity, Ticket | None]:
    async with store.sessions() as session:
        activity = await session.get_one(Activity, activity_id)
        ticket = await session.get(Ticket, activity.ticket_id) if activity.ticket_id else None
    return activity, ticket


@pytest.fixture
async def triaged(store: Store, tmp_path: Path) -> AsyncIterator[Store]:
    """A store with triage installed; the seeded code list and rules are put back after."""
    install(store, tmp_path / "triage")
    yield store
    async with store.sessions() as session, session.begin():
        await session.execute(delete(TriageCategory))
        await session.execute(delete(TriageRule))
        session.add_all(TriageCategory(**row) for row in defaults.CATEGORIES)
        session.add_all(TriageRule(**row, active=True) for row in defaults.RULES)


async def test_meter_reading_is_stored_as_structured_data(triaged: Store) -> None:
    queues = await add_queues(triaged)
    text = "Pozdravljeni, stanje števca na dan 28. 2. 2026: VT 12456, MT 7834. MM 3-345341."
    recorded = await record_contact(triaged, mail(1, "Stanje števca", text))

    activity, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    triage = activity.meta["triage"]
    assert (activity.category, activity.language) == ("meter_reading", "sl")
    assert triage["priority"] == 4 and triage["urgent"] is False
    assert triage["confidence"] >= 0.5 and triage["model_version"].startswith("tfidf")
    assert triage["extracted"]["readings"] == [
        {"register": "VT", "value": 12456},
        {"register": "MT", "value": 7834},
    ]
    assert triage["extracted"]["reading_date"] == "2026-02-28"
    assert triage["extracted"]["metering_points"] == ["3-345341"]
    assert triage["meter_reading"] == {
        "metering_point": "3-345341",
        "gsrn": None,
        "meter_serial": None,
        "read_on": "2026-02-28",
        "read_on_given": True,
        "registers": {"VT": 12456, "MT": 7834},
    }
    assert ticket is not None
    assert (ticket.category, ticket.priority, ticket.kind) == ("meter_reading", 4, "meter_reading")
    assert ticket.queue_id == queues["metering"]


async def test_no_power_with_oxygen_concentrator_is_urgent(triaged: Store) -> None:
    queues = await add_queues(triaged)
    text = "No electricity since 6 am and my father is on an oxygen concentrator. Please hurry!"
    recorded = await record_contact(triaged, mail(1, "URGENT", text))

    activity, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert (activity.category, activity.language) == ("outage", "en")
    assert activity.meta["triage"]["urgent"] is True
    assert "no_supply_medical" in [r["rule"] for r in activity.meta["triage"]["reasons"]]
    assert ticket is not None and (ticket.priority, ticket.queue_id) == (1, queues["faults"])


async def test_disconnection_dated_tomorrow_is_urgent(triaged: Store) -> None:
    text = "Prejel sem obvestilo, da nas izklopite 3. 3. 2026 zaradi dolga. Račun je plačan!"
    recorded = await record_contact(triaged, mail(1, "Izklop", text))

    activity, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert activity.category == "debt_disconnection"
    assert ticket is not None and (ticket.priority, ticket.kind) == (1, "debt_collection")


async def test_vulnerable_customer_raises_priority(triaged: Store) -> None:
    await add_partner(triaged, "ana.novak@example.si", vulnerable=True)
    question = "Kaj pomeni postavka omrežnina na računu? Lahko pojasnite?"
    recorded = await record_contact(triaged, mail(1, "Vprašanje", question))

    activity, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert activity.category == "billing_question"
    assert ticket is not None and ticket.priority == 2
    assert "vulnerable" in [r["rule"] for r in activity.meta["triage"]["reasons"]]


async def test_writing_again_about_an_open_ticket_raises_priority(triaged: Store) -> None:
    await add_partner(triaged, "ana.novak@example.si")
    first = await record_contact(
        triaged, mail(1, "Reklamacija", "Račun je previsok, prosim za popravek.")
    )
    again = await record_contact(
        triaged, mail(2, "Reklamacija", "Še vedno čakam, račun je še vedno previsok!")
    )
    quoted = await record_contact(
        triaged,
        mail(3, "Re: dodatni podatki", f"Glede zadeve {first.ticket_number}: prilagam sliko.",
             sender="someone.else@example.com"),
    )  # fmt: skip

    _, first_ticket = await activity_and_ticket(triaged, first.activity_id)
    second, second_ticket = await activity_and_ticket(triaged, again.activity_id)
    third, _ = await activity_and_ticket(triaged, quoted.activity_id)
    assert first_ticket is not None and first_ticket.priority == 3
    assert second_ticket is not None and second_ticket.priority == 2
    reasons = {r["rule"]: r["why"] for r in second.meta["triage"]["reasons"]}
    assert reasons["repeat_contact"] == f"open ticket {first.ticket_number}"
    assert "repeat_contact" in [r["rule"] for r in third.meta["triage"]["reasons"]]


async def test_robot_mail_is_kept_but_opens_no_ticket(triaged: Store) -> None:
    robot = mail(
        1, "Automatic reply: Stanje", "I am out of the office.",
        meta={"headers": {"Auto-Submitted": "auto-replied"}},
    )  # fmt: skip
    recorded = await record_contact(triaged, robot)

    activity, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert recorded.ticket_number is None and ticket is None
    assert activity.category == "not_for_us"
    assert activity.meta["triage"]["model_version"] == "rules"


async def test_unsure_contact_waits_for_a_person_whose_decision_sticks(triaged: Store) -> None:
    queues = await add_queues(triaged)
    recorded = await record_contact(triaged, mail(1, "", "..."))

    activity, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert activity.meta["triage"]["needs_review"] is True
    assert ticket is not None and ticket.queue_id == queues["triage"]
    pending = await pending_reviews(triaged)
    assert [p.activity_id for p in pending] == [recorded.activity_id]

    await decide(triaged, recorded.activity_id, "billing_complaint", "agent.maja")

    activity, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert activity.category == "billing_complaint"
    assert ticket is not None
    assert (ticket.category, ticket.kind, ticket.queue_id) == (
        "billing_complaint", "complaint", queues["billing"],
    )  # fmt: skip
    assert await pending_reviews(triaged) == []
    labels = await labelled_examples(triaged)
    assert [(e.category, e.body) for e in labels] == [("billing_complaint", "...")]
    with pytest.raises(UnknownCategory):
        await decide(triaged, recorded.activity_id, "no_such_category", "agent.maja")


async def test_a_new_category_needs_no_code(triaged: Store, tmp_path: Path) -> None:
    """An administrator adds a category; people label contacts; retraining learns it."""
    queues = await add_queues(triaged)
    async with triaged.sessions() as session, session.begin():
        session.add(
            TriageCategory(
                code="heat_pump_tariff", name_sl="Tarifa za toplotno črpalko",
                name_en="Heat pump tariff", ticket_kind="request", queue_code="heating",
                priority=3, opens_ticket=True,
            )
        )  # fmt: skip
    texts = [
        "Zanima me posebna tarifa za toplotno črpalko, ki ste jo oglaševali.",
        "Ali imate ugodnejšo tarifo za ogrevanje s toplotno črpalko?",
        "Kakšna je cena elektrike za toplotno črpalko v paketu Toplota?",
        "Heat pump tariff: what does it cost and how do I apply?",
        "Do you offer a special heat pump tariff for heating?",
    ]
    for n, text in enumerate(texts):
        recorded = await record_contact(triaged, mail(n, "Toplotna črpalka", text))
        await decide(triaged, recorded.activity_id, "heat_pump_tariff", "agent.maja")

    model, figures = await retrain(triaged, tmp_path / "triage")

    assert figures["labels"] == len(texts)
    assert "heat_pump_tariff" in model.categories
    assert (tmp_path / "triage" / "model.joblib").exists()
    engine = install(triaged, tmp_path / "triage")
    result = engine.triage("Črpalka", "Prosim za ponudbo tarife za toplotno črpalko.", WHEN.date())
    assert result.category == "heat_pump_tariff"
    assert result.model_version == model.version
    recorded = await record_contact(
        triaged, mail(99, "Toplotna črpalka", "Kakšna je tarifa za toplotno črpalko?")
    )
    _, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert ticket is not None and ticket.queue_id == queues["heating"]


async def test_supervisor_changes_a_rule_without_code(triaged: Store) -> None:
    async with triaged.sessions() as session, session.begin():
        rule = await session.get_one(TriageRule, "regulator")
        rule.priority = 1
    text = "Če ne odgovorite, se obrnem na varuha človekovih pravic."
    recorded = await record_contact(triaged, mail(1, "Pritožba", text))

    _, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert ticket is not None and ticket.priority == 1


async def test_migration_seeds_the_code_list_and_goes_down_and_up(store: Store) -> None:
    async with store.sessions() as session:
        codes = (await session.execute(select(TriageCategory.code))).scalars().all()
        rules = await session.scalar(select(func.count()).select_from(TriageRule))
    assert len(codes) == 16 and {"meter_reading", "not_for_us"} <= set(codes)
    assert rules and rules >= 8

    await schema.downgrade(store.engine, "0001")
    assert await schema.current_revision(store.engine) == "0001"
    await schema.upgrade(store.engine)
    async with store.sessions() as session:
        assert await session.scalar(select(func.count()).select_from(TriageReview)) == 0
        assert await session.scalar(select(func.count()).select_from(TriageCategory)) == 16


HOSTILE_TEXTS = [
    "",
    " \n\t ",
    "€" * 5000,
    "1" * 20_000,
    "VT " * 3000,
    "\u202eRačun\u202c je previsok 😡🔥",
    "'; DROP TABLE activity; -- stanje VT 1",
    "İstanbul ǅ ﬁ ß ÆØÅ",
    "Re: Re: Re: [#2026-999999] SI56 " + "9" * 40,
    "x" * 300_000,
    "1 " * 10_000,
    "1." * 10_000,
    "12,5 " * 5_000,
]


@pytest.mark.parametrize("text", HOSTILE_TEXTS, ids=range(len(HOSTILE_TEXTS)))
async def test_hostile_text_is_triaged_never_parked(triaged: Store, text: str) -> None:
    recorded = await record_contact(triaged, mail(1, text[:200], text))

    activity, _ = await activity_and_ticket(triaged, recorded.activity_id)
    assert recorded.state == "processed", recorded.failure_reason
    assert activity.category is not None and activity.language in {"sl", "en"}
    assert 1 <= activity.meta["triage"]["priority"] <= 4


async def test_a_category_taken_off_the_list_goes_to_people(triaged: Store) -> None:
    queues = await add_queues(triaged)
    async with triaged.sessions() as session, session.begin():
        category = await session.get_one(TriageCategory, "portal_access")
        category.active = False
    text = "Ne morem se prijaviti v portal, geslo ne dela."
    recorded = await record_contact(triaged, mail(1, "Portal", text))

    activity, ticket = await activity_and_ticket(triaged, recorded.activity_id)
    assert activity.meta["triage"]["needs_review"] is True
    assert ticket is not None and ticket.queue_id == queues["triage"]
    assert [p.activity_id for p in await pending_reviews(triaged)] == [recorded.activity_id]
