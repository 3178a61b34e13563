"""Benchmark: import N demo partners with their metering points into PostgreSQL.

Generates the files an ERP would export (not timed), imports them into a fresh
database `stik_bench_importperf` with every index in place (timed), and measures a
ceiling in the same run: a raw COPY of the same partner rows into a bare table.

    python bench/import.py [--quick] [--partners N]

The last line is one JSON object of the figures.
"""

import argparse
import asyncio
import csv
import json
import os
import tempfile
import time
from pathlib import Path

import asyncpg

from interactions import schema
from interactions.demo import write_demo_files
from interactions.importer import METERING_POINTS, PARTNERS, import_file
from interactions.store import Store

ADMIN = os.environ.get("STIK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "stik_bench_importperf"


async def fresh_database() -> str:
    conn = await asyncpg.connect(ADMIN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}"')
        await conn.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await conn.close()
    return ADMIN.rsplit("/", 1)[0] + "/" + DATABASE


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 partners")
    parser.add_argument("--partners", type=int)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    partners = args.partners or (100_000 if args.quick else 1_000_000)

    with tempfile.TemporaryDirectory(prefix="stik-bench-import-") as folder:
        started = time.perf_counter()
        partner_file, mp_file, n_partners, n_mps = write_demo_files(
            Path(folder), partners, args.seed
        )
        print(
            f"generated {n_partners} partners, {n_mps} metering points"
            f" in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

        url = await fresh_database()
        store = Store.open(url)
        await schema.upgrade(store.engine)

        started = time.perf_counter()
        partner_report = await import_file(store, PARTNERS, partner_file, progress=True)
        partner_seconds = time.perf_counter() - started
        print(partner_report.summary(), flush=True)
        mp_report = await import_file(store, METERING_POINTS, mp_file, progress=True)
        seconds = time.perf_counter() - started
        print(mp_report.summary(), flush=True)

        started = time.perf_counter()
        again = await import_file(store, PARTNERS, partner_file)
        rerun_seconds = time.perf_counter() - started
        print(f"re-import of partners: {again.summary()}", flush=True)
        await store.close()

        ceiling = await copy_ceiling(url, partner_file)
        print(f"ceiling: raw COPY of {n_partners} partner rows in {ceiling:.1f} s", flush=True)

    steps = ("validate", "stage", "write", "index", "foreign_key", "analyze")
    spent = {
        step: sum(r.timings.get(step, 0.0) for r in (partner_report, mp_report)) for step in steps
    }
    figures = {
        "partners": n_partners,
        "metering_points": n_mps,
        "seconds": round(seconds, 2),
        "partner_seconds": round(partner_seconds, 2),
        "metering_point_seconds": round(seconds - partner_seconds, 2),
        "rows_per_s": round((n_partners + n_mps) / seconds),
        "rejected": partner_report.rejected + mp_report.rejected,
        "rerun_unchanged_seconds": round(rerun_seconds, 2),
        "ceiling_copy_s": round(ceiling, 2),
        "path": [partner_report.path, mp_report.path],
        "validate_s": round(spent["validate"], 2),
        "copy_s": round(spent["stage"], 2),
        "insert_s": round(
            spent["write"] - spent["index"] - spent["foreign_key"] - spent["analyze"], 2
        ),
        "index_s": round(spent["index"], 2),
        "foreign_key_s": round(spent["foreign_key"], 2),
        "analyze_s": round(spent["analyze"], 2),
        "target_s": 60,
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    asyncio.run(main())
