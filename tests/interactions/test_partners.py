"""Duplicates at the door, duplicate listing and merging, on both databases."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from interactions import InboundContact, record_contact
from interactions.match_index import resolve
from interactions.matching import install, make_query
from interactions.models import (
    Activity,
    AuditEntry,
    Channel,
    ContactPoint,
    MeteringPoint,
    Partner,
    PartnerRole,
    RoleKind,
    Ticket,
)
from interactions.partners import (
    LikelyDuplicate,
    NewPartner,
    create_partner,
    find_duplicates,
    merge_partners,
)
from interactions.resolution import Outcome
from interactions.store import Store

ANA = NewPartner(
    first_name="Ana",
    last_name="Kovačič",
    phones=("041 123 456",),
    emails=("ana.kovacic@example.si",),
    addresses=("Tržaška cesta 15, 1000 Ljubljana",),
)


async def create(store: Store, new: NewPartner, confirm: bool = False) -> Partner:
    async with store.sessions() as session, session.begin():
        return await create_partner(session, new, confirm=confirm)


async def test_likely_duplicate_is_refused_with_candidates(store: Store) -> None:
    ana = await create(store, ANA)
    again = NewPartner(
        first_name="Ana",
        last_name="Kovacic",
        addresses=("Tržaška c. 15, 1000 Ljubljana",),
    )

    with pytest.raises(LikelyDuplicate) as refused:
        await create(store, again)

    assert [c.partner_id for c in refused.value.candidates] == [ana.id]
    assert any("name" in r for r in refused.value.candidates[0].reasons)
    confirmed = await create(store, again, confirm=True)
    assert confirmed.id != ana.id


async def test_different_person_is_created_without_confirmation(store: Store) -> None:
    await create(store, ANA)

    other = await create(
        store,
        NewPartner(
            first_name="Boris", last_name="Kralj", addresses=("Celovška 5, 1000 Ljubljana",)
        ),
    )
    namesake = await create(
        store,
        NewPartner(
            first_name="Ana", last_name="Kovačič", addresses=("Glavni trg 1, 2000 Maribor",)
        ),
    )

    assert other.id is not None and namesake.id is not None


async def test_duplicates_are_listed_with_scores_and_reasons(store: Store) -> None:
    ana = await create(store, ANA)
    copy = await create(
        store,
        NewPartner(
            first_name="ANA",
            last_name="KOVACIC",
            phones=("+386 41 123 456",),
            addresses=("Trzaska 15, 1000 Ljubljana",),
        ),
        confirm=True,
    )
    await create(store, NewPartner(first_name="Boris", last_name="Kralj"))

    async with store.sessions() as session:
        pairs = [p async for p in find_duplicates(session)]

    assert [(p.first_id, p.second_id) for p in pairs] == [(ana.id, copy.id)]
    assert pairs[0].score >= 0.8
    assert any("phone +38641123456" in r for r in pairs[0].reasons)


async def test_a_household_sharing_phone_and_address_is_not_a_duplicate(store: Store) -> None:
    home = ("Cankarjeva ulica 5, 4000 Kranj",)
    await create(store, NewPartner("Janez", "Novak", phones=("04 234 56 78",), addresses=home))
    marija = await create(
        store, NewPartner("Marija", "Novak", phones=("04 234 56 78",), addresses=home)
    )

    async with store.sessions() as session:
        pairs = [p async for p in find_duplicates(session)]

    assert marija.id is not None
    assert pairs == []


async def test_merge_moves_everything_and_keeps_an_audit_entry(store: Store) -> None:
    ana = await create(store, ANA)
    copy = await create(
        store,
        NewPartner(first_name="Ana", last_name="Kovačič", phones=("031 222 333", "041 123 456")),
        confirm=True,
    )
    async with store.sessions() as session, session.begin():
        mp = MeteringPoint(eimm="1-5555555")
        session.add(mp)
        await session.flush()
        session.add(PartnerRole(partner_id=copy.id, metering_point_id=mp.id, role=RoleKind.OWNER))
    install(store)
    call = InboundContact(
        channel=Channel.WEB,
        external_id="form-1",
        occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
        sender_address="031 222 333",
        subject="Vprašanje",
    )
    recorded = await record_contact(store, call)

    async with store.sessions() as session, session.begin():
        moved = await merge_partners(session, ana.id, copy.id, actor="agent7")

    assert moved["roles"] == 1 and moved["activities"] == 1 and moved["tickets"] == 1
    assert moved["contact_points"] == 1, "the shared mobile is not copied twice"
    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
        assert activity.partner_id == ana.id
        ticket = await session.scalar(select(Ticket).where(Ticket.id == activity.ticket_id))
        assert ticket is not None and ticket.partner_id == ana.id
        dropped = await session.get_one(Partner, copy.id)
        assert dropped.merged_into_id == ana.id
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "merge"))
        assert audit is not None and audit.actor == "agent7" and audit.partner_id == ana.id
        points = await session.scalar(
            select(func.count()).select_from(ContactPoint).where(ContactPoint.partner_id == ana.id)
        )
        assert points == 4
        found = await resolve(session, make_query(phone="031222333"))
    assert found.outcome is Outcome.MATCHED
    assert found.candidates[0].partner_id == ana.id
    assert found.candidates[0].metering_point == "1-5555555"


async def test_merge_refuses_a_partner_into_itself_or_a_missing_one(store: Store) -> None:
    ana = await create(store, ANA)

    async with store.sessions() as session:
        with pytest.raises(ValueError):
            await merge_partners(session, ana.id, ana.id)
        with pytest.raises(LookupError):
            await merge_partners(session, ana.id, ana.id + 999)
