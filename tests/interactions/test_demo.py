"""Demo data: valid identifiers, real post offices, shared landlines, roles, determinism."""

import csv
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import delete, func, select

from interactions import InboundContact, record_contact
from interactions.demo import load_demo_data, write_demo_files
from interactions.identifiers import (
    normalize_gsrn,
    normalize_metering_point,
    normalize_phone,
    normalize_tax_number,
)
from interactions.matching import install as install_matching
from interactions.models import (
    Activity,
    Channel,
    ContactPoint,
    Employee,
    MeteringPoint,
    Partner,
    PartnerRole,
    Queue,
    SlaPolicy,
)
from interactions.places import post_office
from interactions.store import Store


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def test_generated_rows_are_valid_and_unique(tmp_path: Path) -> None:
    partner_file, mp_file, n_partners, n_mps = write_demo_files(tmp_path, 1500, seed=3)
    partners, mps = read(partner_file), read(mp_file)

    assert n_partners == len(partners) >= 1500
    taxes = [normalize_tax_number(p["tax_number"]) for p in partners]
    assert len(set(taxes)) == len(taxes)
    assert len({normalize_metering_point(m["eimm"]) for m in mps}) == n_mps
    assert len({normalize_gsrn(m["gsrn"]) for m in mps}) == n_mps
    assert all(m["gsrn"].startswith("383") for m in mps)
    addressed = [row for row in partners + mps if row["postcode"]]
    assert len(addressed) > 0.9 * len(partners + mps)
    for row in addressed:
        assert post_office(row["postcode"]).name == row["city"]
    for p in partners:
        assert normalize_phone(p["phone"]).startswith("+386")
    surnames = [p["last_name"] for p in partners if p["last_name"]]
    assert surnames.count("Novak") >= 3  # the most frequent surname recurs
    assert any(not p["email"] for p in partners if p["kind"] == "person")
    assert any(p["registration_number"] for p in partners)
    names = " ".join(p["organisation_name"] for p in partners)
    assert " s.p." in names and " d.o.o." in names


def test_same_seed_same_book(tmp_path: Path) -> None:
    first = write_demo_files(tmp_path / "a", 300, seed=7)
    second = write_demo_files(tmp_path / "b", 300, seed=7)
    other = write_demo_files(tmp_path / "c", 300, seed=8)

    assert first[0].read_bytes() == second[0].read_bytes()
    assert first[1].read_bytes() == second[1].read_bytes()
    assert first[0].read_bytes() != other[0].read_bytes()


async def test_loaded_book_has_roles_shared_landlines_and_routing(
    store: Store, tmp_path: Path
) -> None:
    partner_report, mp_report = await load_demo_data(store, tmp_path, 600, seed=2)

    assert partner_report.rejected == mp_report.rejected == 0
    async with store.sessions() as session:
        shared = await session.scalar(
            select(func.count()).select_from(
                select(ContactPoint.value)
                .where(ContactPoint.kind == "phone")
                .group_by(ContactPoint.value)
                .having(func.count(func.distinct(ContactPoint.partner_id)) > 1)
                .subquery()
            )
        )
        assert shared and shared > 0
        owner_not_payer = await session.scalar(
            select(func.count())
            .select_from(PartnerRole)
            .join(
                payer := PartnerRole.__table__.alias("payer"),
                payer.c.metering_point_id == PartnerRole.metering_point_id,
            )
            .where(
                PartnerRole.role == "owner",
                payer.c.role == "payer",
                payer.c.partner_id != PartnerRole.partner_id,
            )
        )
        assert owner_not_payer and owner_not_payer > 0
        contact_people = (
            await session.execute(
                select(Partner.kind, func.count())
                .join(PartnerRole, PartnerRole.for_partner_id == Partner.id)
                .where(PartnerRole.role == "contact_person")
                .group_by(Partner.kind)
            )
        ).all()
        assert [kind for kind, _ in contact_people] == ["organisation"]
        units = set((await session.execute(select(Employee.legal_entity, Employee.org_unit))).all())
        assert {(e, u) for e in ("dso", "supplier") for u in
                ("info_office", "back_office", "call_centre")} <= units  # fmt: skip
        answer = await session.scalar(
            select(SlaPolicy).where(SlaPolicy.code == "calls-call-centre")
        )
        assert answer is not None and answer.answer_target_seconds == 20
        assert await session.scalar(select(func.count()).select_from(Queue)) >= 8
        assert await session.scalar(select(func.count()).select_from(MeteringPoint)) > 500

    again = await load_demo_data(store, tmp_path, 600, seed=2)
    assert [r.unchanged for r in again] == [partner_report.inserted, mp_report.inserted]


def test_cli_demo_data_if_empty(tmp_path: Path, monkeypatch) -> None:
    from stik.cli import main

    monkeypatch.setenv("STIK_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("STIK_DATABASE_URL", raising=False)
    monkeypatch.delenv("STIK_DEMO_PASSWORD", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0

    first = runner.invoke(main, ["demo-data", "--partners", "200", "--if-empty", "--no-progress"])
    second = runner.invoke(main, ["demo-data", "--partners", "200", "--if-empty"])

    assert first.exit_code == 0, first.output
    assert "partners: 200 rows, 200 inserted" in first.stdout
    assert "with the password stik-demo-2026" in first.stdout
    assert "partners exist" in second.stdout and "password" not in second.stdout


async def test_demo_staff_sign_in_only_with_the_demo_password(store: Store, tmp_path: Path) -> None:
    from agent_ui.users import authenticate, hash_password
    from interactions.demo import seed_routing_defaults

    await seed_routing_defaults(store)  # staff of an install without the demo's password
    async with store.sessions() as session:
        assert (
            await session.scalar(select(func.count()).where(Employee.password_hash.is_not(None)))
            == 0
        )
        assert await authenticate(session, "supplier.back2", "stik-demo-2026") is None
        await session.execute(delete(Employee))
        await session.commit()

    await load_demo_data(store, tmp_path, 50, seed=2, password_hash=hash_password("stik-demo-2026"))
    async with store.sessions() as session:
        agent = await authenticate(session, "supplier.back2", "stik-demo-2026")
        wrong = await authenticate(session, "supplier.back2", "guess-guess-guess")
    assert agent is not None and agent.org_unit == "back_office" and wrong is None


async def test_callers_from_the_loaded_book_are_recognised(store: Store, tmp_path: Path) -> None:
    # The import writes past the ORM; the matcher's index must see what it wrote.
    await load_demo_data(store, tmp_path, 300, seed=4)
    install_matching(store)
    async with store.sessions() as session:
        mobile, owner = (
            await session.execute(
                select(ContactPoint.value, ContactPoint.partner_id)
                .where(ContactPoint.kind == "phone", ContactPoint.value.like("+3864%"))
                .order_by(ContactPoint.id)
                .limit(1)
            )
        ).one()

    call = InboundContact(
        channel=Channel.PHONE,
        external_id="CA-demo",
        occurred_at=datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
        sender_address=mobile,
    )
    recorded = await record_contact(store, call)

    async with store.sessions() as session:
        activity = await session.get_one(Activity, recorded.activity_id)
    assert activity.match_outcome in ("matched", "ambiguous")
    assert owner in {c["partner_id"] for c in activity.match_candidates}
