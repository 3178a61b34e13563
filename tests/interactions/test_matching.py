"""Who is calling: the hard cases a Slovenian call centre meets, on both databases."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from interactions import InboundContact, record_contact
from interactions.match_index import resolve
from interactions.matching import install, make_query
from interactions.models import (
    Activity,
    Channel,
    ContactKind,
    ContactPoint,
    MeterDevice,
    MeteringPoint,
    Partner,
    PartnerKind,
    PartnerRole,
    RoleKind,
)
from interactions.resolution import Outcome, Resolution
from interactions.store import Store

WHEN = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


def person(first: str | None, last: str | None, **fields: object) -> Partner:
    return Partner(kind=PartnerKind.PERSON, first_name=first, last_name=last, **fields)


def phone(value: str) -> ContactPoint:
    """A phone stored exactly as some old system typed it."""
    return ContactPoint(kind=ContactKind.PHONE, value=value, display=value)


def email(value: str) -> ContactPoint:
    return ContactPoint(kind=ContactKind.EMAIL, value=value.lower(), display=value)


def address(line: str, valid_to: date | None = None) -> ContactPoint:
    return ContactPoint(kind=ContactKind.ADDRESS, value=line, display=line, valid_to=valid_to)


def metering_point(eimm: str, street: str, number: str, postcode: str, city: str) -> MeteringPoint:
    return MeteringPoint(
        eimm=eimm, street=street, house_number=number, postcode=postcode, city=city
    )


def holds(partner: Partner, mp: MeteringPoint, valid_to: date | None = None) -> PartnerRole:
    return PartnerRole(
        partner=partner, metering_point=mp, role=RoleKind.CUSTOMER, valid_to=valid_to
    )


async def add(store: Store, *objects: object) -> None:
    async with store.sessions() as session, session.begin():
        session.add_all(objects)


async def ask(store: Store, **fields: object) -> Resolution:
    async with store.sessions() as session:
        return await resolve(session, make_query(**fields))


def call(number: str, name: str | None = None, external_id: str = "CA1") -> InboundContact:
    return InboundContact(
        channel=Channel.PHONE,
        external_id=external_id,
        occurred_at=WHEN,
        sender_address=number,
        sender_name=name,
    )


async def ids(store: Store, *partners: Partner) -> list[int]:
    return sorted(p.id for p in partners)


# Phone numbers in every form -------------------------------------------------------


async def test_landline_in_four_forms_and_a_mobile(store: Store) -> None:
    forms = ["01/234 56 78", "+386 (0)1 234-56-78", "00386 1 2345678", "012345678"]
    landlines = [person("Ana", f"Kos{i}", contact_points=[phone(f)]) for i, f in enumerate(forms)]
    mobile = person("Bor", "Zupan", contact_points=[phone("+386 41 123 456")])
    await add(store, *landlines, mobile)

    shared = await ask(store, phone="+38612345678")
    assert shared.outcome is Outcome.AMBIGUOUS
    assert sorted(c.partner_id for c in shared.candidates) == await ids(store, *landlines)

    for form in ("041123456", "041 123 456", "+386 41 123 456", "00386 41123456", "(041) 123-456"):
        found = await ask(store, phone=form)
        assert found.outcome is Outcome.MATCHED, form
        assert found.candidates[0].partner_id == mobile.id
        assert "phone +38641123456 is the customer's mobile" in found.candidates[0].reasons


async def test_single_landline_in_national_form_is_matched(store: Store) -> None:
    partner = person("Ana", "Kos", contact_points=[phone("01/234 56 78")])
    await add(store, partner)

    found = await ask(store, phone="(01) 234 56 78")

    assert found.outcome is Outcome.MATCHED
    assert found.best is not None and found.best.partner_id == partner.id


async def test_partner_with_only_a_phone_number_is_popped(store: Store) -> None:
    partner = Partner(external_id="ERP-17", contact_points=[phone("+386 31 555 666")])
    await add(store, partner)
    install(store)

    recorded = await record_contact(store, call("031555666"))

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert activity.match_outcome == "matched"
    assert activity.partner_id == partner.id


# Shared numbers --------------------------------------------------------------------


async def test_household_landline_is_ambiguous_with_both_metering_points(store: Store) -> None:
    home = metering_point("3-1111111", "Cankarjeva ulica", "5", "4000", "Kranj")
    flat = metering_point("3-2222222", "Cankarjeva ulica", "5a", "4000", "Kranj")
    janez = person("Janez", "Novak", contact_points=[phone("04 234 56 78")])
    marija = person("Marija", "Novak", contact_points=[phone("+386 4 234 56 78")])
    await add(store, home, flat, janez, marija, holds(janez, home), holds(marija, flat))
    install(store)

    recorded = await record_contact(store, call("+38642345678"))

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert activity.match_outcome == "ambiguous"
    assert activity.partner_id is None, "Stik never picks one silently"
    shown = {(c["partner_id"], c["metering_point"]) for c in activity.match_candidates}
    assert shown == {(janez.id, "3-1111111"), (marija.id, "3-2222222")}


async def test_household_caller_who_says_her_name_is_matched(store: Store) -> None:
    janez = person("Janez", "Novak", contact_points=[phone("04 234 56 78")])
    marija = person("Marija", "Novak", contact_points=[phone("04 234 56 78")])
    await add(store, janez, marija)

    found = await ask(store, phone="042345678", name="Marija Novak")

    assert found.outcome is Outcome.MATCHED
    assert found.candidates[0].partner_id == marija.id


async def test_company_switchboard_shared_by_contact_persons(store: Store) -> None:
    company = Partner(
        kind=PartnerKind.ORGANISATION,
        organisation_name="Elektro Gradnje d.o.o.",
        contact_points=[phone("01 400 10 00")],
    )
    petra = person("Petra", "Kos", contact_points=[phone("01 400 10 00")])
    marko = person("Marko", "Zupan", contact_points=[phone("01 400 10 00")])
    await add(store, company, petra, marko)
    await add(
        store,
        *(
            PartnerRole(partner_id=p.id, for_partner_id=company.id, role=RoleKind.CONTACT_PERSON)
            for p in (petra, marko)
        ),
    )

    anyone = await ask(store, phone="+38614001000")
    petra_calls = await ask(store, phone="+38614001000", name="Petra Kos")

    assert anyone.outcome is Outcome.AMBIGUOUS
    assert sorted(c.partner_id for c in anyone.candidates) == await ids(
        store, company, petra, marko
    )
    assert petra_calls.outcome is Outcome.MATCHED
    assert petra_calls.candidates[0].partner_id == petra.id


# Written contacts ------------------------------------------------------------------


async def test_new_email_with_initial_and_quoted_metering_point(store: Store) -> None:
    mp = metering_point("3-1234567", "Prešernova cesta", "10", "1000", "Ljubljana")
    janja = person("Janja", "Novak", contact_points=[email("janja.novak@siol.net")])
    other = person("Jože", "Novak", contact_points=[email("joze.novak@gmail.com")])
    await add(store, mp, janja, other, holds(janja, mp))
    install(store)

    recorded = await record_contact(
        store,
        InboundContact(
            channel=Channel.EMAIL,
            external_id="<n1@gmail.com>",
            occurred_at=WHEN,
            sender_address="Novak J. <jn1985@gmail.com>",
            sender_name="Novak J.",
            subject="Stanje števca",
            text="Pošiljam stanje za merilno mesto 3-1234567: VT 12345, MT 6789.",
        ),
    )

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert activity.match_outcome == "matched"
    assert activity.partner_id == janja.id
    assert activity.metering_point_id == mp.id
    assert activity.match_score is not None and activity.match_score >= 0.8
    assert "metering point 3-1234567 quoted in the text is the customer's" in activity.match_reasons


async def test_plus_tag_email_matches_loosely(store: Store) -> None:
    ana = person("Ana", "Kos", contact_points=[email("ana.kos@example.si")])
    await add(store, ana)

    found = await ask(store, email='"Ana Kos" <Ana.Kos+racuni@Example.SI>')

    assert found.outcome is Outcome.MATCHED
    assert found.candidates[0].partner_id == ana.id
    assert any("tag ignored" in r for r in found.candidates[0].reasons)


async def test_meter_serial_in_text_selects_the_metering_point(store: Store) -> None:
    first = metering_point("2-7000001", "Glavni trg", "1", "2000", "Maribor")
    second = metering_point("2-7000002", "Glavni trg", "3", "2000", "Maribor")
    meter = MeterDevice(metering_point=second, serial="ISK-88123456")
    owner = person("Tina", "Horvat", contact_points=[email("tina@horvat.si")])
    await add(store, first, second, meter, owner, holds(owner, first), holds(owner, second))

    found = await ask(store, email="tina@horvat.si", text="Števec ISK-88123456 ne dela.")

    assert found.outcome is Outcome.MATCHED
    assert found.candidates[0].metering_point == "2-7000002"


# Names and addresses ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "asked"),
    [
        (("Šime", "Đurić"), "Sime Djuric"),
        (("Žiga", "Čeč"), "CEC ZIGA"),
        (("Janez", "Novak"), "dr. Novak Janez"),
    ],
)
async def test_names_with_and_without_diacritics_and_in_any_order(
    store: Store, stored: tuple[str, str], asked: str
) -> None:
    partner = person(*stored, contact_points=[address("Slovenska cesta 12a, 1000 Ljubljana")])
    decoy = person(
        stored[0], "Kovač", contact_points=[address("Slovenska cesta 14, 1000 Ljubljana")]
    )
    await add(store, partner, decoy)

    found = await ask(store, name=asked, address="Slovenska c. 12 A, 1000 Ljubljana")

    assert found.outcome is Outcome.MATCHED
    assert found.candidates[0].partner_id == partner.id
    assert any(r.startswith(f"name '{asked}' ≈ ") for r in found.candidates[0].reasons)


async def test_typo_in_the_street(store: Store) -> None:
    partner = person(
        "Maja", "Potočnik", contact_points=[address("Slovenska cesta 12, 1000 Ljubljana")]
    )
    await add(store, partner)

    found = await ask(store, name="Maja Potočnik", address="Slovesnka cesta 12, 1000 Ljubljana")

    assert found.outcome is Outcome.MATCHED
    assert found.candidates[0].partner_id == partner.id


async def test_partner_who_moved(store: Store) -> None:
    old = metering_point("4-1000001", "Kidričeva ulica", "3", "3000", "Celje")
    new = metering_point("4-1000002", "Ljubljanska cesta", "20", "3000", "Celje")
    partner = person(
        "Luka",
        "Kralj",
        contact_points=[
            address("Kidričeva ulica 3, 3000 Celje", valid_to=date(2025, 6, 30)),
            address("Ljubljanska cesta 20, 3000 Celje"),
        ],
    )
    await add(store, old, new, partner, holds(partner, old, date(2025, 6, 30)), holds(partner, new))

    now = await ask(store, name="Luka Kralj", address="Ljubljanska c. 20, 3000 Celje")
    before = await ask(store, name="Luka Kralj", address="Kidričeva ul. 3, 3000 Celje")

    assert now.outcome is Outcome.MATCHED
    assert now.candidates[0].metering_point == "4-1000002"
    assert before.candidates[0].partner_id == partner.id
    assert before.candidates[0].metering_point == "4-1000001"
    assert any("former" in r for r in before.candidates[0].reasons)


async def test_name_alone_is_never_linked_automatically(store: Store) -> None:
    await add(store, person("Janez", "Novak"))

    found = await ask(store, name="Janez Novak")

    assert found.outcome is Outcome.AMBIGUOUS
    assert found.best is None


async def test_withheld_number_is_unknown(store: Store) -> None:
    await add(store, person("Ana", "Kos", contact_points=[phone("041 123 456")]))
    install(store)

    for number in ("anonymous", "", "Restricted", "+"):
        recorded = await record_contact(store, call(number, external_id=f"w{number}"))
        async with store.sessions() as session:
            activity = await session.get_one(Activity, recorded.activity_id)
        assert activity.match_outcome == "unknown"
        assert activity.match_candidates == []


# The index follows changes ---------------------------------------------------------


async def test_changed_phone_is_found_under_the_new_number_only(store: Store) -> None:
    partner = person("Ana", "Kos", contact_points=[phone("041 123 456")])
    await add(store, partner)

    async with store.sessions() as session, session.begin():
        point = await session.scalar(
            select(ContactPoint).where(ContactPoint.partner_id == partner.id)
        )
        assert point is not None
        point.value = point.display = "+386 51 999 888"

    assert (await ask(store, phone="041123456")).outcome is Outcome.UNKNOWN
    assert (await ask(store, phone="051999888")).outcome is Outcome.MATCHED


async def test_a_rolled_back_partner_leaves_no_trace(store: Store) -> None:
    async with store.sessions() as session, session.begin():
        session.add(person("Ana", "Kos", contact_points=[phone("041 123 456")]))
        await session.flush()
        assert (await resolve(session, make_query(phone="041123456"))).outcome is Outcome.MATCHED
        await session.rollback()

    assert (await ask(store, phone="041123456")).outcome is Outcome.UNKNOWN


async def test_partner_added_by_another_node_is_found(store: Store) -> None:
    other_node = Store.open(store.engine.url.render_as_string(hide_password=False))
    try:
        partner = person("Nina", "Breznik", contact_points=[phone("040 111 222")])
        await add(other_node, partner)
        found = await ask(store, phone="+38640111222")
        async with other_node.sessions() as session, session.begin():
            await session.delete(await session.get_one(Partner, partner.id))
        gone = await ask(store, phone="+38640111222")
    finally:
        await other_node.close()

    assert found.outcome is Outcome.MATCHED
    assert gone.outcome is Outcome.UNKNOWN
