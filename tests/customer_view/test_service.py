"""The customer view: what each legal entity sees, and one answer on every database."""

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from customer_view.service import (
    TIMELINE_PAGE,
    Viewer,
    assemble_portable,
    assemble_view,
    parse_cursor,
)
from interactions.models import (
    Activity,
    ActivityState,
    Blob,
    Channel,
    Contract,
    Document,
    MeteringPoint,
    Opportunity,
    Partner,
    PartnerRole,
    Ticket,
)
from interactions.store import Store
from tests.agent_ui import factories

SUPPLIER = Viewer("supplier", "supplier")
DSO = Viewer("dso", "dso")


async def busy_partner(store: Store) -> factories.World:
    """The world's customer with more of everything: contacts, roles, a second site."""
    world = await factories.world(store)
    now = datetime.now(UTC)
    async with store.sessions() as db, db.begin():
        other_site = MeteringPoint(
            eimm="3-999001", street="Celovška", city="Ljubljana", connection_power_kw=11
        )
        husband = Partner(first_name="Marko", last_name="Novak")
        db.add_all([other_site, husband])
        await db.flush()
        db.add_all(
            [
                PartnerRole(
                    partner_id=world.partner_id,
                    role="owner",
                    metering_point_id=other_site.id,
                    valid_to=date(2020, 1, 1),
                ),
                PartnerRole(
                    partner_id=husband.id, role="contact_person", for_partner_id=world.partner_id
                ),
                Opportunity(
                    partner_id=world.partner_id,
                    legal_entity="supplier",
                    stage="lead",
                    expected_value_eur=250,
                ),
                Contract(
                    number="S-0",
                    kind="supply",
                    legal_entity="supplier",
                    partner_id=world.partner_id,
                    status="ended",
                    starts_on=date(2019, 1, 1),
                ),
            ]
        )
        db.add(Blob(sha256="b" * 64, size=4, data=b"scan"))
        for n in range(TIMELINE_PAGE + 5):
            activity = Activity(
                channel=(Channel.PHONE, Channel.POST)[n % 2],
                external_id=f"a{n}",
                occurred_at=now - timedelta(days=n + 1),
                legal_entity="supplier",
                partner_id=world.partner_id,
                duration_seconds=60 + n if n % 2 == 0 else None,
                text="x" * 500,
                state=ActivityState.PROCESSED,
                match_reasons=[],
                match_candidates=[],
                meta={},
                ticket_id=world.supplier_ticket,
            )
            db.add(activity)
            await db.flush()
            if n < 3:
                db.add(
                    Document(
                        sha256="b" * 64,
                        size=4,
                        filename=f"scan{n}.pdf",
                        activity_id=activity.id,
                        created_at=now - timedelta(days=n),
                    )
                )
        closed = await db.get_one(Ticket, world.dso_ticket)
        closed.status = "closed"
    return world


async def test_one_answer_on_every_database(store: Store) -> None:
    """On PostgreSQL the database builds the view; it must equal the portable build."""
    world = await busy_partner(store)
    for viewer in (SUPPLIER, DSO):
        async with store.sessions() as db:
            fast = await assemble_view(db, world.partner_id, viewer)
            portable = await assemble_portable(db, world.partner_id, viewer)
            assert portable is not None and fast is not None
            fast.pop("viewer")
            portable["timeline"]["next_before"] = fast["timeline"]["next_before"]
            for group in ("open", "recent"):
                for ticket in fast["tickets"][group]:
                    ticket.pop("sla_state")
            assert fast == portable


async def test_what_each_legal_entity_sees(store: Store) -> None:
    world = await busy_partner(store)
    async with store.sessions() as db:
        supplier = await assemble_view(db, world.partner_id, SUPPLIER)
        dso = await assemble_view(db, world.partner_id, DSO)
    assert supplier is not None and dso is not None

    assert supplier["partner"]["display_name"] == "Ana Novak"
    assert supplier["partner"]["tax_number"] == "15012557"
    assert "emso" not in supplier["partner"]
    assert [r["role"] for r in supplier["roles"]] == ["customer", "owner"]
    assert [r["current"] for r in supplier["roles"]] == [True, False]
    assert supplier["acting_for_this_partner"][0]["partner"]["name"] == "Marko Novak"
    assert {c["kind"] for c in supplier["contact_points"]} == {"email", "phone", "address"}

    by_eimm = {mp["eimm"]: mp for mp in supplier["metering_points"]}
    assert by_eimm["3-345341"]["grid_data_visible"] is True  # the supplier supplies it
    assert by_eimm["3-345341"]["meters"][0]["last_reading"] == {"VT": 12345, "MT": 6789}
    assert by_eimm["3-999001"]["grid_data_visible"] is False  # someone else's site
    assert (
        by_eimm["3-999001"]["meters"] == [] and by_eimm["3-999001"]["connection_power_kw"] is None
    )
    assert {mp["eimm"] for mp in dso["metering_points"]} == set(by_eimm)
    assert all(mp["grid_data_visible"] for mp in dso["metering_points"])

    assert [c["number"] for c in supplier["contracts"]] == ["S-0", "S-1"]  # undated last
    assert [o["stage"] for o in supplier["opportunities"]] == ["lead"]
    assert dso["offers"] == [] and dso["opportunities"] == []
    assert supplier["tickets"]["open"][0]["sla_state"] == "on_time"
    assert dso["tickets"]["recent"][0]["sla_state"] == "done"
    assert supplier["timeline"]["total"] == TIMELINE_PAGE + 6
    assert len(supplier["timeline"]["items"]) == TIMELINE_PAGE
    assert len(supplier["timeline"]["items"][0]["excerpt"]) <= 240
    assert [d["filename"] for d in supplier["documents"]] == ["scan0.pdf", "scan1.pdf", "scan2.pdf"]
    assert dso["timeline"]["total"] == 0 and dso["documents"] == []


async def test_timeline_pages_back_to_the_first_contact(store: Store) -> None:
    world = await busy_partner(store)
    seen: list[int] = []
    before = None
    async with store.sessions() as db:
        while True:
            view = await assemble_view(db, world.partner_id, SUPPLIER, before=before)
            assert view is not None
            seen += [item["id"] for item in view["timeline"]["items"]]
            if view["timeline"]["next_before"] is None:
                break
            before = parse_cursor(view["timeline"]["next_before"])
        total = await db.scalar(
            select(Activity.id).where(Activity.partner_id == world.partner_id).limit(1)
        )
    assert total is not None
    assert len(seen) == len(set(seen)) == TIMELINE_PAGE + 6


async def test_no_such_partner(store: Store) -> None:
    async with store.sessions() as db:
        assert await assemble_view(db, 424242, SUPPLIER) is None


@given(st.text(max_size=60))
def test_any_cursor_text_is_read_or_refused(value: str) -> None:
    cursor = parse_cursor(value)
    assert cursor is None or (cursor[0].tzinfo is UTC and cursor[1] >= 0)
