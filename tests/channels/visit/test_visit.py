"""The info office finds a walk-in customer and records the visit in the timeline."""

import re
from pathlib import Path

from sqlalchemy import select

from channels.visit.service import find_partners, register_visit
from interactions.models import (
    Activity,
    AuditEntry,
    ContactKind,
    ContactPoint,
    Employee,
    MeteringPoint,
    Partner,
    PartnerRole,
)
from interactions.store import Store
from tests.channels.web.helpers import running_app, signed_in_agent


async def add_customers(store: Store) -> tuple[int, int]:
    async with store.sessions() as session, session.begin():
        janez = Partner(first_name="Janez", last_name="Kranjc", tax_number="15012557")
        janez.contact_points.append(ContactPoint(kind=ContactKind.PHONE, value="041 222 333"))
        point = MeteringPoint(eimm="3-345341", city="Kranj")
        session.add_all([janez, point])
        await session.flush()
        session.add(PartnerRole(partner_id=janez.id, role="customer", metering_point_id=point.id))
        other = Partner(first_name="Jana", last_name="Krajnc")
        session.add(other)
    return janez.id, other.id


async def test_search_by_each_key(store: Store) -> None:
    janez, jana = await add_customers(store)
    for query in ("15012557", "SI 15012557", "3345341", "041 222 333", "Kranjc", "janez kr"):
        found = await find_partners(store, query)
        assert [f.partner_id for f in found] == [janez], query
        assert found[0].metering_points == ("3-345341",)
    assert {f.partner_id for f in await find_partners(store, "Kr")} == {janez, jana}
    assert await find_partners(store, "%") == []
    assert await find_partners(store, "Novak") == []


async def test_visit_is_recorded_for_the_confirmed_partner(store: Store) -> None:
    janez, _ = await add_customers(store)
    recorded = await register_visit(store, janez, "Prijava novega plačnika", "Prinesel pogodbo.")
    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert (activity.channel, activity.partner_id, activity.match_outcome) == (
        "visit",
        janez,
        "matched",
    )
    assert activity.subject == "Prijava novega plačnika"


async def test_desk_page_in_a_few_steps(store: Store, tmp_path: Path) -> None:
    janez, _ = await add_customers(store)
    async with running_app(store, tmp_path) as client:
        await signed_in_agent(client, store)
        found = await (await client.get("/visit", params={"q": "3-345341"})).text()
        assert f'href="/visit/{janez}"' in found
        form = await (await client.get(f"/visit/{janez}")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
        empty = await client.post(f"/visit/{janez}", data={"csrf_token": token, "subject": ""})
        assert empty.status == 422
        done = await client.post(
            f"/visit/{janez}", data={"csrf_token": token, "subject": "Vprašanje o računu"}
        )
        assert done.status == 200
        assert "Obisk je zabeležen kot aktivnost" in await done.text()
        forged = await client.post(f"/visit/{janez}", data={"csrf_token": "x", "subject": "x"})
        assert forged.status == 403
        assert (await client.get("/visit/999999")).status == 404
    async with store.sessions() as session:
        [activity] = (await session.scalars(select(Activity))).all()
        desk = await session.scalar(select(Employee.id).where(Employee.login == "desk"))
        audited = (
            await session.execute(
                select(AuditEntry.actor, AuditEntry.action, AuditEntry.partner_id).where(
                    AuditEntry.entity == "partner"
                )
            )
        ).all()
    assert (activity.partner_id, activity.employee_id) == (janez, desk)
    assert activity.meta["registered_by"] == "desk" and activity.legal_entity == "supplier"
    assert ("desk", "search", janez) in audited and ("desk", "view", janez) in audited


async def test_desk_page_needs_a_signed_in_agent(store: Store, tmp_path: Path) -> None:
    janez, _ = await add_customers(store)
    async with running_app(store, tmp_path) as client:
        search = await client.get("/visit", params={"q": "Kranjc"}, allow_redirects=False)
        show = await client.get(f"/visit/{janez}", allow_redirects=False)
        post = await client.post(
            f"/visit/{janez}", data={"subject": "Vprašanje"}, allow_redirects=False
        )
        hx = await client.get("/visit", params={"q": "Kranjc"}, headers={"HX-Request": "true"})
        assert "Kranjc" not in await search.text() + await hx.text()
    assert (search.status, show.status, post.status) == (302, 302, 302)
    assert search.headers["Location"] == "/login" and hx.status == 401
    async with store.sessions() as session:
        assert (await session.scalars(select(Activity))).all() == []
        assert (await session.scalars(select(AuditEntry))).all() == []
