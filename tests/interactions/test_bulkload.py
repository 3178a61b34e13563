"""The bulk path: same rows as the upsert, every index back, nothing lost on failure."""

from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from interactions.demo import write_demo_files
from interactions.importer import METERING_POINTS, PARTNERS, import_file
from interactions.store import Store
from tests.conftest import _empty

#: Every imported row by its natural keys (no surrogate ids), table by table.
SNAPSHOT = {
    "partner": "SELECT external_id, kind, first_name, last_name, organisation_name,"
    " tax_number, registration_number, segment, language FROM partner",
    "contact_point": "SELECT p.external_id, c.kind, c.value, c.display, c.is_primary,"
    " c.street, c.house_number, c.postcode, c.city FROM contact_point c"
    " JOIN partner p ON p.id = c.partner_id",
    "partner_role": "SELECT p.external_id, r.role, m.eimm, o.external_id, r.valid_to"
    " FROM partner_role r JOIN partner p ON p.id = r.partner_id"
    " LEFT JOIN metering_point m ON m.id = r.metering_point_id"
    " LEFT JOIN partner o ON o.id = r.for_partner_id",
    "metering_point": "SELECT eimm, gsrn, street, house_number, postcode, city, dso_area,"
    " connection_power_kw, tariff_model, status FROM metering_point",
    "meter_device": "SELECT m.eimm, d.serial, d.type, d.registers, d.installed_on"
    " FROM meter_device d JOIN metering_point m ON m.id = d.metering_point_id",
    "contract": "SELECT c.number, c.kind, c.legal_entity, p.external_id, c.product,"
    " c.status, c.source FROM contract c JOIN partner p ON p.id = c.partner_id",
    "contract_metering_point": "SELECT c.number, m.eimm FROM contract_metering_point x"
    " JOIN contract c ON c.id = x.contract_id JOIN metering_point m"
    " ON m.id = x.metering_point_id",
}
STRUCTURES = (
    "SELECT tablename, indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) FROM pg_constraint"
    " WHERE connamespace = 'public'::regnamespace",
)


async def snapshot(store: Store) -> dict[str, list[tuple]]:
    async with store.engine.connect() as conn:
        return {
            table: sorted((await conn.execute(text(query))).all(), key=repr)
            for table, query in SNAPSHOT.items()
        }


async def schema_structures(store: Store) -> set[tuple]:
    async with store.engine.connect() as conn:
        return {row for query in STRUCTURES for row in (await conn.execute(text(query))).all()}


async def load(store: Store, folder: Path, bulk_rows: int) -> list[str]:
    partners, mps, _, _ = write_demo_files(folder, 400, seed=5)
    with mps.open("a", encoding="utf-8") as fh:  # a number named as network and supply
        fh.write(
            "9-9999999,,,,,,,,,,P00000001,,,,,,,NET-SHARED,,\n"
            "9-9999998,,,,,,,,,,P00000002,,P00000001,,,,,SUP-1,NET-SHARED,Osnovna\n"
            "9-9999997,,,,,,,,,,P00000404,,,,,,,,,\n"
        )
    paths = []
    for entity, path in ((PARTNERS, partners), (METERING_POINTS, mps)):
        report = await import_file(store, entity, path, bulk_rows=bulk_rows)
        assert [r.line for r in report.rejections] == (
            [] if entity is PARTNERS else [report.rows + 1]
        )
        paths.append(report.path)
    return paths


async def test_bulk_path_gives_the_rows_the_upsert_gives(store: Store, tmp_path: Path) -> None:
    before = await schema_structures(store) if store.dialect == "postgresql" else set()

    paths = await load(store, tmp_path / "bulk", bulk_rows=1)
    bulk = await snapshot(store)
    await _empty(store)
    assert await load(store, tmp_path / "upsert", bulk_rows=10**9) == ["upsert", "upsert"]
    upsert = await snapshot(store)

    expected = "bulk" if store.dialect == "postgresql" else "upsert"
    assert paths == [expected, expected]
    assert all(bulk[table] for table in SNAPSHOT)
    for table in SNAPSHOT:
        assert bulk[table] == upsert[table], table
    if store.dialect == "postgresql":
        assert await schema_structures(store) == before


async def test_rerun_after_a_bulk_load_changes_nothing(store: Store, tmp_path: Path) -> None:
    partners, mps, n_partners, n_mps = write_demo_files(tmp_path, 300, seed=9)
    await import_file(store, PARTNERS, partners, bulk_rows=1)
    await import_file(store, METERING_POINTS, mps, bulk_rows=1)
    first = await snapshot(store)

    again = [
        await import_file(store, PARTNERS, partners, bulk_rows=1),
        await import_file(store, METERING_POINTS, mps, bulk_rows=1),
    ]

    assert [(r.path, r.inserted, r.updated, r.unchanged) for r in again] == [
        ("upsert", 0, 0, n_partners),
        ("upsert", 0, 0, n_mps),
    ]
    assert await snapshot(store) == first

    # rows added later draw ids past the ones the bulk load reserved
    more = tmp_path / "more.csv"
    more.write_text(
        "external_id,first_name,phone,email,postcode\nX1,Ana,041 123 456,a@b.si,1000\n",
        encoding="utf-8",
    )
    added = await import_file(store, PARTNERS, more)
    assert (added.path, added.inserted) == ("upsert", 1)


async def test_failed_bulk_load_leaves_tables_and_indexes_as_they_were(
    store: Store, tmp_path: Path
) -> None:
    if store.dialect != "postgresql":
        pytest.skip("the bulk path is PostgreSQL's")
    # a later migration's unique index that the file violates: the rebuild fails
    async with store.engine.begin() as conn:
        await conn.execute(text("CREATE UNIQUE INDEX ix_test_one_segment ON partner (segment)"))
    try:
        before = await schema_structures(store)
        partners, _, _, _ = write_demo_files(tmp_path, 50, seed=1)

        with pytest.raises(IntegrityError):
            await import_file(store, PARTNERS, partners, bulk_rows=1)

        assert await schema_structures(store) == before
        async with store.engine.connect() as conn:
            assert (await conn.execute(text("SELECT count(*) FROM partner"))).scalar() == 0
    finally:
        async with store.engine.begin() as conn:
            await conn.execute(text("DROP INDEX IF EXISTS ix_test_one_segment"))
