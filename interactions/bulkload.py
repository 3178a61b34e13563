"""PostgreSQL bulk loading: lift a table's secondary indexes and keys, load, rebuild.

A large load into empty tables goes faster when the rows are written first and
each index is then built once, sorted, instead of being updated row by row; and
when each foreign key is checked once by one join instead of one lookup per row.
`rebuilt` drops what can be rebuilt (foreign keys, unique and primary keys that no
foreign key depends on, plain indexes) and recreates it from its own catalogue
definition. Everything happens inside the caller's transaction: a failure rolls
the drops back with the rows, so the schema is never left without its indexes.
"""

import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

log = structlog.get_logger(__name__)

#: Session settings for one bulk load (all SET LOCAL: they end with the transaction).
SETTINGS = {
    "synchronous_commit": "off",
    "work_mem": "'512MB'",  # the foreign-key checks' hash joins, in memory
    "maintenance_work_mem": "'1GB'",  # index builds sort in memory
}


@dataclass(frozen=True, slots=True)
class Structure:
    """One index or constraint of a loaded table, with how to drop and rebuild it."""

    table: str
    name: str
    kind: str  # f: foreign key, p/u: primary/unique key, i: plain index
    definition: str

    def drop(self) -> str:
        if self.kind == "i":
            return f"DROP INDEX {self.name}"
        return f"ALTER TABLE {self.table} DROP CONSTRAINT {self.name}"

    def create(self) -> str:
        if self.kind == "i":
            return self.definition
        return f"ALTER TABLE {self.table} ADD CONSTRAINT {self.name} {self.definition}"


@dataclass
class Timings:
    """Seconds spent rebuilding indexes and keys, and checking foreign keys."""

    index_s: float = 0.0
    foreign_key_s: float = 0.0
    analyze_s: float = 0.0
    rebuilt: list[str] = field(default_factory=list)


async def structures(conn: AsyncConnection, tables: Sequence[str]) -> list[Structure]:
    """Return what `rebuilt` lifts from `tables`: foreign keys first, then indexes."""
    names = "ARRAY[" + ", ".join(f"'{t}'" for t in tables) + "]::regclass[]"
    constraints = await conn.execute(
        text(
            "SELECT c.conrelid::regclass::text, quote_ident(c.conname), c.contype::text,"
            " pg_get_constraintdef(c.oid) FROM pg_constraint c"
            f" WHERE c.conrelid = ANY({names}) AND (c.contype = 'f'"
            " OR (c.contype IN ('p', 'u') AND NOT EXISTS (SELECT 1 FROM pg_constraint f"
            " WHERE f.contype = 'f' AND f.confrelid = c.conrelid AND f.conindid = c.conindid)))"
            " ORDER BY c.contype = 'f' DESC, c.conrelid, c.conname"
        )
    )
    indexes = await conn.execute(
        text(
            "SELECT i.indrelid::regclass::text, i.indexrelid::regclass::text, 'i',"
            " pg_get_indexdef(i.indexrelid) FROM pg_index i"
            f" WHERE i.indrelid = ANY({names}) AND NOT EXISTS (SELECT 1 FROM pg_constraint c"
            " WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)"
            " ORDER BY i.indrelid, i.indexrelid"
        )
    )
    return [Structure(*row) for row in [*constraints.all(), *indexes.all()]]


async def reserve_ids(conn: AsyncConnection, table: str, count: int) -> int:
    """Reserve `count` ids of `table`'s id sequence; return the base (ids base+1..base+count).

    The caller holds a lock that keeps other writers of `table` out, so no other
    session draws from the sequence between the two calls.
    """
    sequence = (
        await conn.execute(text(f"SELECT pg_get_serial_sequence('{table}', 'id')"))
    ).scalar_one()
    base = (await conn.execute(text(f"SELECT nextval('{sequence}')"))).scalar_one() - 1
    await conn.execute(text(f"SELECT setval('{sequence}', {base + count})"))
    return int(base)


async def is_empty(conn: AsyncConnection, tables: Sequence[str]) -> bool:
    for table in tables:
        found = await conn.execute(text(f"SELECT EXISTS (SELECT 1 FROM {table})"))
        if found.scalar_one():
            return False
    return True


async def lock(conn: AsyncConnection, tables: Sequence[str]) -> None:
    """Keep other writers (not readers) of `tables` out until the transaction ends."""
    await conn.execute(text(f"LOCK TABLE {', '.join(tables)} IN SHARE ROW EXCLUSIVE MODE"))


@asynccontextmanager
async def rebuilt(
    conn: AsyncConnection, tables: Sequence[str], analyze: Sequence[str] = ()
) -> AsyncIterator[Timings]:
    """Drop the rebuildable indexes and keys of `tables`; rebuild them on a clean exit.

    The tables in `analyze` get fresh statistics at once (the next import joins
    them); building an index already counts every table's rows for the planner, and
    autovacuum analyzes the others after so many inserts.
    """
    timings = Timings()
    for name, value in SETTINGS.items():
        await conn.execute(text(f"SET LOCAL {name} = {value}"))
    lifted = await structures(conn, tables)
    for structure in lifted:
        await conn.execute(text(structure.drop()))

    yield timings

    for structure in sorted(lifted, key=lambda s: s.kind == "f"):
        started = time.perf_counter()
        await conn.execute(text(structure.create()))
        seconds = time.perf_counter() - started
        if structure.kind == "f":
            timings.foreign_key_s += seconds
        else:
            timings.index_s += seconds
        timings.rebuilt.append(structure.name)
        log.debug("bulkload.rebuilt", name=structure.name, seconds=round(seconds, 3))
    started = time.perf_counter()
    for table in analyze:
        await conn.execute(text(f"ANALYZE {table}"))
    timings.analyze_s = time.perf_counter() - started
    log.info(
        "bulkload.rebuilt_all",
        tables=len(tables),
        structures=len(lifted),
        index_s=round(timings.index_s, 2),
        foreign_key_s=round(timings.foreign_key_s, 2),
        analyze_s=round(timings.analyze_s, 2),
    )
