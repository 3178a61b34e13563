"""How fast the customer view assembles for a partner with 1000 activities, on PostgreSQL.

Builds its own database (`stik_bench_agentui` beside the test database unless
--database-url is given), seeds background partners and one busy partner, then times the
view as an agent gets it: assembled, audited, committed and serialised to JSON.
The last line is one JSON object; the target is p95 <= 50 ms.
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

# This script shares its name with the package it measures: when run as a file, its own
# folder comes first on sys.path and would hide the package, so it is taken off.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from datetime import UTC, date, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy import insert, select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import agent_ui.models  # noqa: E402, F401  (the workspace tables must exist)
from agent_ui.security import audit  # noqa: E402
from agent_ui.users import Role, User  # noqa: E402
from customer_view.service import assemble_view, viewer_for  # noqa: E402
from interactions import schema  # noqa: E402
from interactions.contacts import keep_blob  # noqa: E402
from interactions.models import (  # noqa: E402
    Activity,
    ContactPoint,
    Contract,
    Document,
    MeterDevice,
    MeteringPoint,
    Offer,
    Partner,
    PartnerRole,
    Ticket,
    contract_metering_point,
)
from interactions.store import Store  # noqa: E402

TARGET_P95_MS = 50.0
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/stik_bench_agentui"


async def ensure_database(url: str) -> None:
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", parsed.database):
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


async def seed(store: Store, background: int, activities: int) -> int:
    """Fill the database; return the id of the busy partner."""
    await schema.downgrade(store.engine, "base")
    await schema.upgrade(store.engine)
    now = datetime.now(UTC)
    async with store.sessions() as db, db.begin():
        await db.execute(
            insert(Partner),
            [
                {
                    "first_name": f"Ime{i}",
                    "last_name": f"Priimek{i}",
                    "kind": "person",
                    "segment": "household",
                    "language": "sl",
                }
                for i in range(background)
            ],
        )
        others = list((await db.scalars(select(Partner.id))).all())
        await db.execute(
            insert(Activity),
            [
                {
                    "channel": "email",
                    "direction": "inbound",
                    "external_id": f"bg-{i}",
                    "occurred_at": now - timedelta(minutes=i),
                    "received_at": now,
                    "legal_entity": "supplier",
                    "partner_id": others[i % len(others)],
                    "subject": "Vprašanje",
                    "text": "Besedilo " * 30,
                    "state": "processed",
                    "match_reasons": [],
                    "match_candidates": [],
                    "meta": {},
                }
                for i in range(background * 3)
            ],
        )

        busy = Partner(first_name="Ana", last_name="Novak", tax_number="15012557")
        db.add(busy)
        await db.flush()
        points = [
            MeteringPoint(
                eimm=f"3-{345000 + n}",
                street="Šmartinska",
                house_number=str(n),
                postcode="1000",
                city="Ljubljana",
                connection_power_kw=7,
            )
            for n in range(2)
        ]
        db.add_all(points)
        await db.flush()
        for point in points:
            db.add(PartnerRole(partner_id=busy.id, role="customer", metering_point_id=point.id))
            db.add(PartnerRole(partner_id=busy.id, role="payer", metering_point_id=point.id))
            db.add(
                MeterDevice(
                    metering_point_id=point.id,
                    serial=f"M{point.id}",
                    registers=["VT", "MT"],
                    last_reading={"VT": 1, "MT": 2},
                    last_reading_on=date.today(),
                )
            )
        contract = Contract(
            number="S-1",
            kind="supply",
            legal_entity="supplier",
            partner_id=busy.id,
            product="Zelena",
        )
        db.add(contract)
        await db.flush()
        await db.execute(
            insert(contract_metering_point),
            [{"contract_id": contract.id, "metering_point_id": p.id} for p in points],
        )
        db.add_all(
            [
                ContactPoint(partner_id=busy.id, kind="email", value="ana.novak@example.si"),
                ContactPoint(partner_id=busy.id, kind="phone", value="041 123 456"),
                Offer(
                    partner_id=busy.id,
                    legal_entity="supplier",
                    product="Fiksna",
                    price_eur_kwh=0.12,
                ),
            ]
        )
        tickets = [
            Ticket(
                number=f"2026-{n:06d}",
                legal_entity="supplier",
                partner_id=busy.id,
                subject="Zahtevek",
                status="open" if n % 3 else "closed",
                resolution_due=now + timedelta(days=n),
            )
            for n in range(1, 31)
        ]
        db.add_all(tickets)
        await db.flush()
        await db.execute(
            insert(Activity),
            [
                {
                    "channel": ("email", "phone", "web", "post")[i % 4],
                    "direction": "inbound",
                    "external_id": f"busy-{i}",
                    "occurred_at": now - timedelta(hours=i),
                    "received_at": now,
                    "legal_entity": "supplier",
                    "partner_id": busy.id,
                    "ticket_id": tickets[i % len(tickets)].id,
                    "subject": f"Stik {i}",
                    "text": "Pozdravljeni, " * 40,
                    "duration_seconds": 120 if i % 4 == 1 else None,
                    "state": "processed",
                    "match_reasons": [],
                    "match_candidates": [],
                    "meta": {},
                }
                for i in range(activities)
            ],
        )
        sha = await keep_blob(db, b"%PDF scan")
        first = (
            await db.scalars(select(Activity.id).where(Activity.partner_id == busy.id).limit(50))
        ).all()
        await db.execute(
            insert(Document),
            [
                {
                    "sha256": sha,
                    "size": 9,
                    "filename": f"scan-{a}.pdf",
                    "activity_id": a,
                    "content_type": "application/pdf",
                    "kind": "scan",
                    "created_at": now,
                }
                for a in first
            ],
        )
        partner_id = busy.id
    async with store.engine.begin() as conn:
        await conn.execute(text("ANALYZE"))
    return partner_id


async def one_view(store: Store, partner_id: int, user: User) -> dict[str, Any]:
    async with store.sessions() as db, db.begin():
        viewer = await viewer_for(db, user.legal_entity)
        view = await assemble_view(db, partner_id, viewer)
        assert view is not None
        audit(db, user, "view", "partner", partner_id, partner_id=partner_id)
    json.dumps(view)
    return view


async def floor(store: Store, partner_id: int) -> None:
    async with store.sessions() as db, db.begin():
        await db.get(Partner, partner_id)


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a run of well under a minute")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    background, samples = (2_000, 200) if args.quick else (50_000, 1_000)

    await ensure_database(args.database_url)
    store = Store.open(args.database_url)
    started = time.perf_counter()
    partner_id = await seed(store, background, activities=1000)
    print(
        f"seeded {background} partners + 1 with 1000 activities "
        f"in {time.perf_counter() - started:.1f} s"
    )
    user = User(
        id=0,
        login="bench",
        full_name="Bench",
        role=Role.AGENT,
        legal_entity="supplier",
        org_unit="back_office",
    )

    view = await one_view(store, partner_id, user)
    for _ in range(20):
        await one_view(store, partner_id, user)
    timings, floors = [], []
    for _ in range(samples):
        t0 = time.perf_counter()
        await one_view(store, partner_id, user)
        timings.append((time.perf_counter() - t0) * 1000)
        t0 = time.perf_counter()
        await floor(store, partner_id)
        floors.append((time.perf_counter() - t0) * 1000)
    await store.close()

    figures = {
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(percentile(timings, 0.95), 2),
        "p99_ms": round(percentile(timings, 0.99), 2),
        "target_p95_ms": TARGET_P95_MS,
        "floor_p95_ms": round(percentile(floors, 0.95), 2),
        "activities": view["timeline"]["total"],
        "timeline_page": len(view["timeline"]["items"]),
        "background_partners": background,
        "samples": samples,
        "database": "postgresql",
    }
    print(
        f"customer view: p50 {figures['p50_ms']} ms, p95 {figures['p95_ms']} ms, "
        f"p99 {figures['p99_ms']} ms (target p95 <= {TARGET_P95_MS} ms); "
        f"one-row read p95 {figures['floor_p95_ms']} ms"
    )
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
