"""The matcher is what production runs: the app factory installs it; 0003 migrates both ways."""

from datetime import UTC, datetime

from sqlalchemy import inspect

from interactions import InboundContact, record_contact, schema
from interactions.models import Activity, Channel, ContactKind, ContactPoint, Partner
from interactions.store import Store
from stik.app import create_app
from stik.config import Settings


async def test_app_factory_installs_the_matcher(store: Store) -> None:
    create_app(Settings(extra={"matching": {"auto_link": 0.95}}), store=store)
    async with store.sessions() as session, session.begin():
        session.add(
            Partner(
                first_name="Ana",
                last_name="Kos",
                contact_points=[ContactPoint(kind=ContactKind.PHONE, value="+38641123456")],
            )
        )

    recorded = await record_contact(
        store,
        InboundContact(
            channel=Channel.WEB,
            external_id="form-9",
            occurred_at=datetime(2026, 3, 2, tzinfo=UTC),
            sender_address="ana@example.si",
            sender_name="Ana Kos",
            text="Kličite me na 041 123 456",
            meta={"address": "Celovška 5, 1000 Ljubljana"},
        ),
    )

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert store.resolver is not None
    assert activity.match_outcome == "matched"
    assert activity.match_reasons == [
        "phone +38641123456 in the text is the customer's mobile",
        "name 'Ana Kos' ≈ 'Ana Kos' 1.00",
    ]


async def test_migration_0003_downgrades_and_upgrades(store: Store) -> None:
    def tables(connection: object) -> set[str]:
        return set(inspect(connection).get_table_names())

    await schema.downgrade(store.engine, "0001")
    async with store.engine.connect() as conn:
        before = await conn.run_sync(tables)
    await schema.upgrade(store.engine)
    async with store.engine.connect() as conn:
        after = await conn.run_sync(tables)

    assert "match_key" not in before and "match_record" not in before
    assert {"match_key", "match_record"} <= after
    assert await schema.is_current(store.engine)
