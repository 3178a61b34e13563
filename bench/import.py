"""Benchmark: import N demo partners with their metering points into PostgreSQL.

Generates the files an ERP would export (not timed; `--data DIR` keeps them for the
next run), imports them into a fresh database `stik_bench_importperf` with every
index in place at the end (timed), re-imports the partners (nothing may change), and
measures a ceiling in the same run: a raw COPY of the same partner rows into a bare
table. Besides wall time it counts CPU seconds of this process, its worker processes
and the database's backends, so that a run on a busy machine can still be read.

    python bench/import.py [--quick] [--partners N] [--data DIR]

The last line is one JSON object of the figures.
"""

import argparse
import asyncio
import csv
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

# bench/routing.py shares its name with the routing package: this folder is taken
# off the import path so that the project's packages are found.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from interactions import schema  # noqa: E402
from interactions.demo import write_demo_files  # noqa: E402
from interactions.importer import METERING_POINTS, PARTNERS, ImportReport, import_file  # noqa: E402
from interactions.store import Store  # noqa: E402

ADMIN = os.environ.get("STIK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "stik_bench_importperf"
WRITTEN = (
    "partner",
    "contact_point",
    "partner_role",
    "metering_point",
    "meter_device",
    "contract",
    "contract_metering_point",
)
STEPS = ("validate", "stage", "write", "index", "foreign_key", "analyze")


async def fresh_database() -> str:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    return ADMIN.rsplit("/", 1)[0] + "/" + DATABASE


def python_cpu() -> float:
    """CPU seconds of this process and its finished children (the worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


async def backend_cpu(admin: asyncpg.Connection) -> float:
    """CPU seconds of the database's backends on this machine (from /proc)."""
    pids = await admin.fetch("SELECT pid FROM pg_stat_activity WHERE datname = $1", DATABASE)
    return sum(process_cpu(row["pid"]) for row in pids)


def process_cpu(pid: int) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:  # ended, or on another machine
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def copy_ceiling(url: str, partner_file: Path) -> float:
    """Time a bare COPY of the partner file's rows into an unindexed table."""
    with partner_file.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        rows = [tuple(field or None for field in row) for row in reader]
    conn = await asyncpg.connect(url)
    try:
        columns = ", ".join(f"{name} text" for name in header)
        await conn.execute(f"CREATE UNLOGGED TABLE bare_partner ({columns})")
        started = time.perf_counter()
        await conn.copy_records_to_table("bare_partner", records=rows, columns=header)
        return time.perf_counter() - started
    finally:
        await conn.execute("DROP TABLE IF EXISTS bare_partner")
        await conn.close()


def demo_files(folder: Path, partners: int, seed: int) -> tuple[Path, Path, int, int]:
    """Return the demo files in `folder`, generating them unless already there."""
    partner_file, mp_file = folder / "partners.csv", folder / "metering_points.csv"
    marker = folder / f"generated-{partners}-{seed}"
    if not marker.exists():
        started = time.perf_counter()
        write_demo_files(folder, partners, seed)
        marker.touch()
        print(f"generated the files in {time.perf_counter() - started:.1f} s", flush=True)
    with partner_file.open("rb") as fh:
        n_partners = sum(1 for _ in fh) - 1
    with mp_file.open("rb") as fh:
        n_mps = sum(1 for _ in fh) - 1
    return partner_file, mp_file, n_partners, n_mps


async def timed_import(store: Store, admin: asyncpg.Connection, entity, path: Path) -> tuple:
    cpu, db_cpu, started = python_cpu(), await backend_cpu(admin), time.perf_counter()
    report: ImportReport = await import_file(store, entity, path, progress=True)
    seconds = time.perf_counter() - started
    print(report.summary(), flush=True)
    return report, seconds, python_cpu() - cpu, await backend_cpu(admin) - db_cpu


async def run(folder: Path, partners: int, seed: int) -> dict[str, object]:
    partner_file, mp_file, n_partners, n_mps = demo_files(folder, partners, seed)
    url = await fresh_database()
    store = Store.open(url)
    await schema.upgrade(store.engine)
    admin = await asyncpg.connect(url)

    partner_report, partner_s, p_cpu, p_db = await timed_import(
        store, admin, PARTNERS, partner_file
    )
    mp_report, mp_s, m_cpu, m_db = await timed_import(store, admin, METERING_POINTS, mp_file)
    written = {t: await admin.fetchval(f"SELECT count(*) FROM {t}") for t in WRITTEN}
    again, rerun_s, _, _ = await timed_import(store, admin, PARTNERS, partner_file)
    assert (again.inserted, again.updated) == (0, 0), "a re-import changed rows"
    await admin.close()
    await store.close()

    ceiling = await copy_ceiling(url, partner_file)
    print(f"ceiling: raw COPY of {n_partners} partner rows in {ceiling:.2f} s", flush=True)
    seconds = partner_s + mp_s
    spent = {s: sum(r.timings.get(s, 0.0) for r in (partner_report, mp_report)) for s in STEPS}
    rows_written = sum(written.values())
    return {
        "partners": n_partners,
        "metering_points": n_mps,
        "seconds": round(seconds, 2),
        "partner_seconds": round(partner_s, 2),
        "metering_point_seconds": round(mp_s, 2),
        "rows_per_s": round((n_partners + n_mps) / seconds),
        "rows_written": rows_written,
        "rows_written_per_s": round(rows_written / seconds),
        "ceiling_copy_s": round(ceiling, 2),
        "ceiling_rows_per_s": round(n_partners / ceiling),
        "path": [partner_report.path, mp_report.path],
        "validate_s": round(spent["validate"], 2),
        "copy_s": round(spent["stage"], 2),
        "insert_s": round(
            spent["write"] - spent["index"] - spent["foreign_key"] - spent["analyze"], 2
        ),
        "index_s": round(spent["index"], 2),
        "foreign_key_s": round(spent["foreign_key"], 2),
        "analyze_s": round(spent["analyze"], 2),
        "python_cpu_s": round(p_cpu + m_cpu, 2),
        "postgres_cpu_s": round(p_db + m_db, 2),
        "load_average": round(os.getloadavg()[0], 1),
        "rejected": partner_report.rejected + mp_report.rejected,
        "rerun_unchanged_seconds": round(rerun_s, 2),
        "target_s": 60,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 partners")
    parser.add_argument("--partners", type=int)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data", type=Path, help="keep the generated files here for reuse")
    args = parser.parse_args()
    partners = args.partners or (100_000 if args.quick else 1_000_000)

    if args.data:
        args.data.mkdir(parents=True, exist_ok=True)
        figures = await run(args.data, partners, args.seed)
    else:
        with tempfile.TemporaryDirectory(prefix="stik-bench-import-") as folder:
            figures = await run(Path(folder), partners, args.seed)
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
