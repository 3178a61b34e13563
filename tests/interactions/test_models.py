"""The party-role model and its constraints, on both databases."""

from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from interactions.identifiers import InvalidIdentifier
from interactions.models import (
    ContactKind,
    ContactPoint,
    Contract,
    MeteringPoint,
    Partner,
    PartnerRole,
    RoleKind,
    Ticket,
)
from interactions.store import Store


async def test_one_partner_plays_many_roles(store: Store) -> None:
    async with store.sessions() as session, session.begin():
        owner = Partner(first_name="Marko", last_name="Horvat", tax_number="15012557")
        tenant = Partner(first_name="Nina", last_name="Zupan")
        mp = MeteringPoint(eimm="3-345341", postcode="1000", city="Ljubljana")
        contract = Contract(number="P-2026-1", kind="supply", legal_entity="supplier")
        contract.metering_points.append(mp)
        session.add_all([owner, tenant, mp])
        await session.flush()
        contract.partner_id = tenant.id
        session.add(contract)
        await session.flush()
        session.add_all(
            [
                PartnerRole(partner_id=owner.id, role=RoleKind.OWNER, metering_point_id=mp.id),
                PartnerRole(partner_id=tenant.id, role=RoleKind.CUSTOMER, contract_id=contract.id),
                PartnerRole(partner_id=tenant.id, role=RoleKind.PAYER, metering_point_id=mp.id),
                PartnerRole(
                    partner_id=owner.id,
                    role=RoleKind.CUSTOMER,
                    metering_point_id=mp.id,
                    valid_from=date(2015, 1, 1),
                    valid_to=date(2020, 12, 31),
                ),
            ]
        )

    async with store.sessions() as session:
        roles = (
            await session.execute(
                select(Partner.last_name, PartnerRole.role, PartnerRole.valid_to)
                .join(PartnerRole, PartnerRole.partner_id == Partner.id)
                .order_by(Partner.last_name, PartnerRole.role)
            )
        ).all()
    assert roles == [
        ("Horvat", "customer", date(2020, 12, 31)),
        ("Horvat", "owner", None),
        ("Zupan", "customer", None),
        ("Zupan", "payer", None),
    ]


async def test_role_needs_an_object(store: Store) -> None:
    with pytest.raises(IntegrityError):
        async with store.sessions() as session, session.begin():
            partner = Partner(first_name="Ana", last_name="Kos")
            session.add(partner)
            await session.flush()
            session.add(PartnerRole(partner_id=partner.id, role=RoleKind.PAYER))


async def test_role_period_must_not_end_before_it_starts(store: Store) -> None:
    with pytest.raises(IntegrityError):
        async with store.sessions() as session, session.begin():
            partner = Partner(first_name="Ana", last_name="Kos")
            mp = MeteringPoint(eimm="1-100001")
            session.add_all([partner, mp])
            await session.flush()
            session.add(
                PartnerRole(
                    partner_id=partner.id,
                    role=RoleKind.OWNER,
                    metering_point_id=mp.id,
                    valid_from=date(2024, 1, 1),
                    valid_to=date(2023, 1, 1),
                )
            )


async def test_same_contact_point_twice_for_one_partner_is_refused(store: Store) -> None:
    with pytest.raises(IntegrityError):
        async with store.sessions() as session, session.begin():
            partner = Partner(first_name="Ana", last_name="Kos")
            partner.contact_points += [
                ContactPoint(kind=ContactKind.PHONE, value="+38641123456"),
                ContactPoint(kind=ContactKind.PHONE, value="+38641123456"),
            ]
            session.add(partner)


async def test_two_partners_may_share_a_landline(store: Store) -> None:
    async with store.sessions() as session, session.begin():
        for first in ("Janez", "Marija"):
            partner = Partner(first_name=first, last_name="Kovač")
            partner.contact_points.append(
                ContactPoint(kind=ContactKind.PHONE, value="+38612345678")
            )
            session.add(partner)
    async with store.sessions() as session:
        owners = (
            await session.scalars(
                select(ContactPoint.partner_id).where(ContactPoint.value == "+38612345678")
            )
        ).all()
    assert len(owners) == 2


async def test_tax_number_is_unique(store: Store) -> None:
    with pytest.raises(IntegrityError):
        async with store.sessions() as session, session.begin():
            session.add(Partner(first_name="A", last_name="B", tax_number="15012557"))
            session.add(Partner(first_name="C", last_name="D", tax_number="15012557"))


async def test_times_come_back_aware_utc(store: Store) -> None:
    created = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    async with store.sessions() as session, session.begin():
        session.add(Ticket(number="2026-999999", legal_entity="dso", created_at=created))
    async with store.sessions() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert ticket.created_at == created
    assert ticket.created_at.tzinfo is not None


async def test_naive_times_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        async with store.sessions() as session, session.begin():
            session.add(
                Ticket(number="2026-999998", legal_entity="dso", created_at=datetime(2026, 1, 1))
            )


async def test_phone_written_two_ways_is_one_contact_point(store: Store) -> None:
    with pytest.raises(IntegrityError):
        async with store.sessions() as session, session.begin():
            partner = Partner(first_name="Ana", last_name="Kos")
            partner.contact_points += [
                ContactPoint(kind=ContactKind.PHONE, value="+386 41 123 456"),
                ContactPoint(kind=ContactKind.PHONE, value="041123456"),
            ]
            session.add(partner)


def test_identifiers_are_validated_and_normalised_on_assignment() -> None:
    partner = Partner(first_name="Ana", last_name="Kos", tax_number="SI 15012557")
    assert partner.tax_number == "15012557"
    assert MeteringPoint(eimm="3345341").eimm == "3-345341"
    email = ContactPoint(kind=ContactKind.EMAIL, value="Ana Kos <Ana.Kos@Example.SI>")
    assert (email.value, email.display) == ("ana.kos@example.si", "Ana Kos <Ana.Kos@Example.SI>")

    with pytest.raises(InvalidIdentifier, match="tax number"):
        Partner(first_name="Ana", last_name="Kos", tax_number="15012556")
    with pytest.raises(InvalidIdentifier, match="phone"):
        ContactPoint(kind=ContactKind.PHONE, value="12")
    with pytest.raises(InvalidIdentifier, match="GSRN"):
        MeteringPoint(eimm="3-345341", gsrn="383000000123456789")
