"""Factories for workspace tests: employees who sign in, customers, tickets and contacts."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

from agent_ui.users import Role, add_employee
from interactions.models import (
    Activity,
    ActivityState,
    Channel,
    ContactKind,
    ContactPoint,
    Contract,
    Direction,
    MeterDevice,
    MeteringPoint,
    Offer,
    OrgUnit,
    Partner,
    PartnerRole,
    Queue,
    Ticket,
    TicketStatus,
)
from interactions.store import Store
from interactions.tickets import allocate_ticket_number
from stik.app import create_app
from stik.config import Settings

PASSWORD = "correct horse battery"


async def employee(
    store: Store,
    login: str,
    role: Role = Role.AGENT,
    entity: str = "supplier",
    language: str = "en",
) -> int:
    async with store.sessions() as db, db.begin():
        added = await add_employee(
            db,
            login=login,
            password=PASSWORD,
            role=role,
            legal_entity=entity,
            org_unit=OrgUnit.BACK_OFFICE,
            full_name=login.title(),
            languages=[language],
        )
        return added.id


async def client(store: Store, data_dir: Path) -> TestClient:
    app = create_app(Settings(data_dir=data_dir), store=store)
    test_client = TestClient(TestServer(app))
    await test_client.start_server()
    return test_client


def csrf_from(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(test_client: TestClient, login: str, password: str = PASSWORD) -> str:
    """Sign in through the form; return the CSRF token of the signed-in session."""
    page = await test_client.get("/login")
    token = csrf_from(await page.text())
    response = await test_client.post(
        "/login", data={"login": login, "password": password, "csrf_token": token}
    )
    assert response.status == 200, await response.text()
    return csrf_from(await response.text())


@dataclass
class World:
    """A customer with a metering point, and tickets of both legal entities."""

    partner_id: int
    point_id: int
    supplier_ticket: int
    supplier_ticket_number: str
    dso_ticket: int
    email_activity: int
    queue_id: int
    dso_queue_id: int


async def world(store: Store, *, subject: str = "Števec 3-345341 ne dela") -> World:
    now = datetime.now(UTC)
    async with store.sessions() as db, db.begin():
        partner = Partner(first_name="Ana", last_name="Novak", tax_number="SI 15012557")
        partner.contact_points = [
            ContactPoint(kind=ContactKind.EMAIL, value="ana.novak@example.si", is_primary=True),
            ContactPoint(kind=ContactKind.PHONE, value="041 123 456"),
            ContactPoint(kind=ContactKind.ADDRESS, value="Šmartinska cesta 12, 1000 Ljubljana"),
        ]
        point = MeteringPoint(
            eimm="3-345341",
            street="Šmartinska cesta",
            house_number="12",
            postcode="1000",
            city="Ljubljana",
            tariff_model="two-tariff",
            connection_power_kw=7,
        )
        db.add_all([partner, point])
        await db.flush()
        db.add(PartnerRole(partner_id=partner.id, role="customer", metering_point_id=point.id))
        db.add(
            MeterDevice(
                metering_point_id=point.id,
                serial="M-778899",
                registers=["VT", "MT"],
                last_reading={"VT": 12345, "MT": 6789},
                last_reading_on=date.today(),
            )
        )
        supply = Contract(
            number="S-1",
            kind="supply",
            legal_entity="supplier",
            partner_id=partner.id,
            product="Zelena",
        )
        supply.metering_points = [point]
        access = Contract(
            number="D-1", kind="network_access", legal_entity="dso", partner_id=partner.id
        )
        db.add_all([supply, access])
        db.add(
            Offer(
                partner_id=partner.id, legal_entity="supplier", product="Fiksna", price_eur_kwh=0.12
            )
        )
        queue = Queue(
            code="sup-back",
            name="Supplier back office",
            legal_entity="supplier",
            org_unit="back_office",
        )
        dso_queue = Queue(
            code="dso-back", name="DSO back office", legal_entity="dso", org_unit="back_office"
        )
        db.add_all([queue, dso_queue])
        await db.flush()
        supplier_ticket = Ticket(
            number=await allocate_ticket_number(db, now.year),
            legal_entity="supplier",
            subject=subject,
            partner_id=partner.id,
            metering_point_id=point.id,
            queue_id=queue.id,
            status=TicketStatus.NEW,
            first_response_due=now + timedelta(hours=3),
            resolution_due=now + timedelta(days=8),
        )
        dso_ticket = Ticket(
            number=await allocate_ticket_number(db, now.year),
            legal_entity="dso",
            subject="Izpad elektrike",
            partner_id=partner.id,
            queue_id=dso_queue.id,
        )
        db.add_all([supplier_ticket, dso_ticket])
        await db.flush()
        email = Activity(
            channel=Channel.EMAIL,
            direction=Direction.INBOUND,
            external_id="<m1@example.si>",
            occurred_at=now - timedelta(hours=1),
            legal_entity="supplier",
            sender_address="ana.novak@example.si",
            sender_name="Ana Novak",
            subject=subject,
            text="Pozdravljeni,\nštevec ne dela.\n\n> prejšnje sporočilo\n> še ena vrstica",
            partner_id=partner.id,
            ticket_id=supplier_ticket.id,
            state=ActivityState.PROCESSED,
            match_outcome="matched",
            match_score=1.0,
            match_reasons=["email"],
            match_candidates=[],
            meta={},
        )
        db.add(email)
        await db.flush()
        return World(
            partner.id,
            point.id,
            supplier_ticket.id,
            supplier_ticket.number,
            dso_ticket.id,
            email.id,
            queue.id,
            dso_queue.id,
        )
