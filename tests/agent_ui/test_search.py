"""The search box: identifiers found exactly, names and addresses by their words."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent_ui.search import classify, search
from agent_ui.users import Role, User
from interactions.store import Store
from tests.agent_ui import factories

SUPPLIER_AGENT = User(1, "ana", "Ana", Role.AGENT, "supplier", "back_office")
DSO_AGENT = User(2, "dan", "Dan", Role.AGENT, "dso", "back_office")


@pytest.mark.parametrize(
    ("typed", "kind", "value"),
    [
        ("2026-000401", "ticket", "2026-000401"),
        ("ana.novak@EXAMPLE.si", "email", "ana.novak@example.si"),
        ("3-345341", "metering_point", "3-345341"),
        ("3345341", "metering_point", "3-345341"),
        ("SI 15012557", "tax_number", "15012557"),
        ("041 123 456", "phone", "+38641123456"),
        ("01/234 56 78", "phone", "+38612345678"),
        ("Šmartinska 12", "name", "Šmartinska 12"),
        ("Novak", "name", "Novak"),
    ],
)
def test_what_was_typed(typed: str, kind: str, value: str) -> None:
    assert classify(typed) == (kind, value)


@given(st.text(max_size=300))
def test_classify_takes_anything(typed: str) -> None:
    kind, _value = classify(typed)
    assert kind in {"ticket", "email", "metering_point", "tax_number", "phone", "name"}


async def names(store: Store, typed: str, user: User = SUPPLIER_AGENT) -> list[str]:
    async with store.sessions() as db:
        result = await search(db, user, typed)
    return [h.partner.display_name for h in result.partners]


async def test_finds_the_customer_by_every_key(store: Store) -> None:
    world = await factories.world(store)
    for typed in (
        "Ana Novak",
        "novak",
        "3-345341",
        "3345341",
        "15012557",
        "041 123 456",
        "+386 41 123 456",
        "ANA.NOVAK@example.si",
        "šmartinska 12",
        world.supplier_ticket_number,
    ):
        assert await names(store, typed) == ["Ana Novak"], typed
    assert await names(store, "Kovač") == []
    assert await names(store, "a") == []


async def test_tickets_only_of_ones_own_entity(store: Store) -> None:
    world = await factories.world(store)
    async with store.sessions() as db:
        own = await search(db, SUPPLIER_AGENT, world.supplier_ticket_number)
        other = await search(db, DSO_AGENT, world.supplier_ticket_number)
    assert [t.number for t in own.tickets] == [world.supplier_ticket_number]
    assert other.tickets == [] and other.partners == []


async def test_wildcards_are_taken_literally(store: Store) -> None:
    await factories.world(store)
    assert await names(store, "%%") == []
    assert await names(store, "__") == []
