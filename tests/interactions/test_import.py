"""The ERP importer: good rows in, bad rows reported with line numbers, re-runs idempotent."""

import json
import os
from pathlib import Path

from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from interactions.importer import (
    METERING_POINTS,
    PARTNERS,
    Chunk,
    ChunkResult,
    import_file,
    read_chunk,
)
from interactions.models import ContactPoint, MeterDevice, MeteringPoint, Partner, PartnerRole
from interactions.places import is_postcode, post_office
from interactions.store import Store
from tests.conftest import _empty

HEADER = (
    "external_id;kind;first_name;last_name;organisation_name;tax_number;registration_number;"
    "segment;language;phone;phone2;email;street;house_number;postcode;city\n"
)
PARTNER_LINES = [
    # line 2: good, national phone forms, mixed-case email, city from the post office
    "P1;person;Ana;Novak;;10000003;;household;sl;041 123 456;01 234 56 78;"
    "Ana.Novak@Example.SI;Slovenska cesta;1;1000;\n",
    # line 3: bad tax number (check digit)
    "P2;person;Janez;Kranjc;;12345678;;;;;;;Glavni trg;2;2000;Maribor\n",
    # line 4: unknown postcode
    "P3;organisation;;;Elektro d.o.o.;;;business;;;;;Ulica;3;9999;\n",
    # line 5: malformed (unterminated quote)
    'P4;"broken;\n',
    # line 6: good, shares the landline of P1
    "P5;person;Marko;Kovačič;;12345679;;;;+38641999888;012345678;;Slovenska cesta;1;1000;"
    "Ljubljana\n",
    # line 7: duplicate of line 2
    "P1;person;Ana;Novak;;;;;;;;;;;;\n",
]
WINDOWS_1250_LINE = "P6;person;Špela;Žagar;;55555551;;;;;;;Šmartinska cesta;5;1000;\n"


def write_partner_file(folder: Path, extra: bytes = b"") -> Path:
    path = folder / "partners.csv"
    path.write_bytes((HEADER + "".join(PARTNER_LINES)).encode() + extra)
    return path


async def count(store: Store, model: type) -> int:
    async with store.sessions() as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def test_good_rows_in_bad_rows_reported_rerun_changes_nothing(
    store: Store, tmp_path: Path
) -> None:
    # a windows-1250 line inside a UTF-8 file cannot be decoded: refused, not fatal
    path = write_partner_file(tmp_path, WINDOWS_1250_LINE.encode("cp1250"))

    report = await import_file(store, PARTNERS, path)

    assert (report.inserted, report.updated, report.unchanged) == (2, 0, 0)
    reasons = {r.line: r.reason for r in report.rejections}
    assert set(reasons) == {3, 4, 5, 7, 8}
    assert "check digit" in reasons[3]
    assert "unknown postcode '9999'" in reasons[4]
    assert reasons[5].startswith("malformed line")
    assert "already on line 2" in reasons[7]
    assert "not valid utf-8" in reasons[8]
    assert report.rows == 7
    async with store.sessions() as session:
        ana = await session.scalar(select(Partner).where(Partner.external_id == "P1"))
        assert ana is not None and ana.tax_number == "10000003"
        values = set(
            (
                await session.scalars(
                    select(ContactPoint.value).where(ContactPoint.partner_id == ana.id)
                )
            ).all()
        )
        assert {"+38641123456", "+38612345678", "ana.novak@example.si"} <= values
        assert "slovenska cesta 1, 1000 ljubljana" in values
        sharing = await session.scalar(
            select(func.count(func.distinct(ContactPoint.partner_id))).where(
                ContactPoint.value == "+38612345678"
            )
        )
        assert sharing == 2

    again = await import_file(store, PARTNERS, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
    assert await count(store, Partner) == 2
    assert await count(store, ContactPoint) == 7


async def test_windows_1250_file_is_decoded(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "erp.csv"
    path.write_bytes((HEADER + WINDOWS_1250_LINE).encode("cp1250"))

    report = await import_file(store, PARTNERS, path)

    assert report.encoding == "windows-1250"
    assert (report.inserted, report.rejected) == (1, 0)
    async with store.sessions() as session:
        spela = await session.scalar(select(Partner).where(Partner.external_id == "P6"))
        assert spela is not None and (spela.first_name, spela.last_name) == ("Špela", "Žagar")


async def test_changed_partner_is_updated_once(store: Store, tmp_path: Path) -> None:
    path = write_partner_file(tmp_path)
    await import_file(store, PARTNERS, path)
    moved = HEADER + "P1;person;Ana;Novak-Kovač;;10000003;;;;041 123 456;;;Glavni trg;7;2000;\n"
    path.write_text(moved, encoding="utf-8")

    first = await import_file(store, PARTNERS, path)
    second = await import_file(store, PARTNERS, path)

    assert (first.updated, first.unchanged) == (1, 0)
    assert (second.updated, second.unchanged) == (0, 1)
    async with store.sessions() as session:
        ana = await session.scalar(select(Partner).where(Partner.external_id == "P1"))
        assert ana is not None and ana.last_name == "Novak-Kovač"
        primary = (
            await session.scalars(
                select(ContactPoint.value).where(
                    ContactPoint.partner_id == ana.id,
                    ContactPoint.kind == "address",
                    ContactPoint.is_primary.is_(True),
                )
            )
        ).all()
        assert primary == ["glavni trg 7, 2000 maribor"]


MP_HEADER = (
    "eimm,gsrn,street,house_number,postcode,city,dso_area,connection_power_kw,tariff_model,"
    "status,customer,owner,payer,meter_serial,meter_type,registers,installed_on,"
    "network_contract,supply_contract,supply_product\n"
)


async def test_metering_points_with_roles_meters_and_contracts(
    store: Store, tmp_path: Path
) -> None:
    await import_file(store, PARTNERS, write_partner_file(tmp_path))
    path = tmp_path / "mp.jsonl"
    rows = [
        # owner P5 is not the payer P1
        {"eimm": "1123456", "gsrn": "383000000000000011", "postcode": "1000",
         "street": "Slovenska cesta", "house_number": "1", "connection_power_kw": "11,0",
         "customer": "P1", "owner": "P5", "payer": "P1", "meter_serial": "60000001",
         "registers": "VT/MT", "network_contract": "POD-1", "supply_contract": "DOB-1",
         "supply_product": "Osnovna"},
        {"eimm": "2-000001", "customer": "P404"},  # unknown partner
        {"eimm": "2-000002", "gsrn": "383000000000000029", "customer": "P1"},  # check digit
        ["not", "an", "object"],
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n{broken\n", encoding="utf-8")

    report = await import_file(store, METERING_POINTS, path)

    assert report.file_format == "jsonl"
    assert report.inserted == 1
    reasons = {r.line: r.reason for r in report.rejections}
    assert set(reasons) == {2, 3, 4, 5}
    assert "'P404' is not a known partner" in reasons[2]
    assert "check digit" in reasons[3]
    async with store.sessions() as session:
        mp = await session.scalar(select(MeteringPoint).where(MeteringPoint.eimm == "1-123456"))
        assert mp is not None and mp.city == "Ljubljana"
        roles = (
            await session.execute(
                select(PartnerRole.role, Partner.external_id)
                .join(Partner, Partner.id == PartnerRole.partner_id)
                .where(PartnerRole.metering_point_id == mp.id)
            )
        ).all()
        assert sorted(roles) == [("customer", "P1"), ("owner", "P5"), ("payer", "P1")]
        device = await session.scalar(select(MeterDevice))
        assert device is not None and device.registers == ["VT", "MT"]

    again = await import_file(store, METERING_POINTS, path)
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 1)
    assert await count(store, PartnerRole) == 3


def test_cli_import_reports_on_stderr(tmp_path: Path, monkeypatch) -> None:
    from stik.cli import main

    monkeypatch.setenv("STIK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("STIK_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0
    path = write_partner_file(tmp_path)

    result = runner.invoke(main, ["import", "partners", str(path), "--json", "--no-progress"])

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["inserted"], summary["rejected"]) == (2, 4)
    assert "line 4: unknown postcode" in result.stderr


def test_postcodes_are_real() -> None:
    assert post_office("1000").name == "Ljubljana"
    assert post_office("SI-2000").name == "Maribor"
    assert post_office("6320").name == "Portorož - Portorose"
    assert not is_postcode("9999")
    assert not post_office("1001").delivers


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(payload=st.binary(max_size=400), jsonl=st.booleans())
async def test_importer_never_raises_on_arbitrary_bytes(
    tmp_path_factory, payload: bytes, jsonl: bool
) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    store = Store.open(f"sqlite:///{folder / 'stik.db'}")
    from interactions import schema

    await schema.upgrade(store.engine)
    path = folder / ("f.jsonl" if jsonl else "f.csv")
    path.write_bytes((b"" if jsonl else HEADER.encode()) + payload)
    try:
        report = await import_file(store, PARTNERS, path)
    finally:
        await store.close()
    assert report.inserted + report.rejected + report.unchanged <= report.rows + 1


async def test_worker_processes_give_the_same_report(
    store: Store, tmp_path: Path, monkeypatch
) -> None:
    import interactions.importer as importer

    monkeypatch.setattr(importer, "CHUNK_LINES", 2)  # duplicates across chunks, too
    path = write_partner_file(tmp_path, WINDOWS_1250_LINE.encode("cp1250") + b"\n\n")

    inline = await import_file(store, PARTNERS, path, workers=0)
    await _empty(store)
    parallel = await import_file(store, PARTNERS, path, workers=2)

    assert parallel.rejections == inline.rejections
    assert [r.line for r in parallel.rejections] == [3, 4, 5, 7, 8]
    for report in (inline, parallel):
        assert (report.rows, report.inserted, report.rejected) == (7, 2, 5)


PARENT = os.getpid()


def die_in_workers(chunk: Chunk) -> ChunkResult:
    """Validate here, but end a worker process abruptly, as the kernel's OOM killer would."""
    if os.getpid() != PARENT:
        os._exit(1)
    return read_chunk(chunk)


async def test_import_goes_on_when_a_worker_process_dies(
    store: Store, tmp_path: Path, monkeypatch
) -> None:
    import interactions.importer as importer

    monkeypatch.setattr(importer, "read_chunk", die_in_workers)
    monkeypatch.setattr(importer, "CHUNK_LINES", 2)
    path = write_partner_file(tmp_path)

    report = await import_file(store, PARTNERS, path, workers=2)

    assert [r.line for r in report.rejections] == [3, 4, 5, 7]
    assert (report.rows, report.inserted) == (6, 2)
