"""The matcher's candidate index in the database: match records and lookup keys.

Every change to a partner, its contact points, its roles, or a metering point or
meter it holds, refreshes that partner's `MatchRecord` and `MatchKey` rows in the
same flush, so the index commits (or rolls back) with the change and every Stik node
on the same database sees it at once; nothing is cached in memory. Bulk loads that
bypass the ORM call `rebuild` afterwards (`stik partners reindex`).

A lookup is one statement: the keys of the query select the partners that share the
most keys with it, joined to their records, which `matching` then scores.

A match record is compact JSON, everything in comparable (folded) form:
`id`, `x` external id, `n` [[display name, normal name]], `b` birth date YYYYMMDD,
`i` personal identity number, `t` tax number, `p` [[E.164, contact kind]],
`e` [[address, loose address]], `a` [[street, number, postcode, city, settlement,
metering point id, EIMM, current]], `m` [[metering point id, EIMM, GSRN, current]],
`s` [[meter serial, metering point id, EIMM]].
"""

import json
from collections.abc import Iterable, Sequence
from datetime import date
from functools import partial
from typing import Any

import structlog
from sqlalchemy import bindparam, delete, event, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import Session

from interactions.contacts import InboundContact
from interactions.matching import (
    DEFAULTS,
    MatchSettings,
    Query,
    decide,
    query_from_contact,
    query_keys,
    record_keys,
    score_record,
)
from interactions.models import (
    ContactKind,
    ContactPoint,
    MatchKey,
    MatchRecord,
    MeterDevice,
    MeteringPoint,
    Partner,
    PartnerKind,
    PartnerRole,
    Ticket,
)
from interactions.normalize import (
    email_key,
    email_parts,
    make_address,
    normalize_name,
    parse_address,
    phone_key,
)
from interactions.resolution import UNKNOWN, Resolution
from interactions.store import Store

log = structlog.get_logger(__name__)

#: How many partners sharing the most keys with a query are scored.
CANDIDATE_LIMIT = 30
MAX_QUERY_KEYS = 64
BATCH = 2000

#: Partners ranked by the keys they share with the query, each key weighing the more
#: the fewer partners hold it (a shared house number in a postcode outweighs "Marija").
_CANDIDATES_SQL = (
    "WITH found AS ("
    " SELECT partner_id, count(*) OVER (PARTITION BY key) AS holders"
    " FROM match_key WHERE {match}),"
    " hits AS (SELECT partner_id, sum(1.0 / holders) AS weight FROM found"
    " GROUP BY partner_id ORDER BY weight DESC, partner_id LIMIT :limit)"
    " SELECT r.record FROM hits JOIN match_record r ON r.partner_id = hits.partner_id"
)
#: One statement for any number of keys on PostgreSQL (prepared once, planned once).
_CANDIDATES_PG = text(_CANDIDATES_SQL.format(match="key = ANY(:keys)"))
_CANDIDATES = text(_CANDIDATES_SQL.format(match="key IN :keys")).bindparams(
    bindparam("keys", expanding=True)
)

_RECORDS = text("SELECT record FROM match_record WHERE partner_id IN :ids").bindparams(
    bindparam("ids", expanding=True)
)


async def resolve(
    session: AsyncSession, query: Query, settings: MatchSettings = DEFAULTS
) -> Resolution:
    """Find and rank the partners behind `query`."""
    if not query:
        return UNKNOWN
    tickets = await _quoted_tickets(session, query)
    records = await candidate_records(session, query, extra=list(tickets))
    scored = [score_record(query, r, tickets.get(r["id"], ())) for r in records]
    return decide(scored, settings)


async def candidate_records(
    session: AsyncSession, query: Query, extra: Sequence[int] = ()
) -> list[dict[str, Any]]:
    """Return the match records of the partners sharing the most keys with `query`."""
    keys = query_keys(query)[:MAX_QUERY_KEYS]
    records: dict[int, dict[str, Any]] = {}
    if keys:
        postgres = session.bind.dialect.name == "postgresql"
        statement = _CANDIDATES_PG if postgres else _CANDIDATES
        rows = await session.execute(statement, {"keys": keys, "limit": CANDIDATE_LIMIT})
        for (raw,) in rows:
            record = json.loads(raw)
            records[record["id"]] = record
    missing = [pid for pid in extra if pid not in records]
    if missing:
        for (raw,) in await session.execute(_RECORDS, {"ids": missing}):
            record = json.loads(raw)
            records[record["id"]] = record
    return list(records.values())


async def _quoted_tickets(session: AsyncSession, query: Query) -> dict[int, list[str]]:
    numbers = [i.value for i in query.identifiers if i.kind == "ticket"]
    if not numbers:
        return {}
    rows = await session.execute(
        select(Ticket.partner_id, Ticket.number).where(
            Ticket.number.in_(numbers), Ticket.partner_id.is_not(None)
        )
    )
    found: dict[int, list[str]] = {}
    for partner_id, number in rows:
        found.setdefault(partner_id, []).append(number)
    return found


async def resolve_contact(
    session: AsyncSession, contact: InboundContact, settings: MatchSettings = DEFAULTS
) -> Resolution:
    """The store's resolver: who is behind an inbound contact."""
    return await resolve(session, query_from_contact(contact), settings)


def install(store: Store, settings: MatchSettings = DEFAULTS) -> None:
    """Make `store` resolve recorded contacts through the index."""
    store.resolver = partial(resolve_contact, settings=settings)


# Building records -------------------------------------------------------------------


def load_records(
    conn: Connection, partner_ids: Sequence[int] | tuple[int, int]
) -> dict[int, dict[str, Any]]:
    """Read partners with their contact points and roles into match records.

    `partner_ids` is a list of ids, or a (first, last) range of ids for bulk rebuilds.
    """
    today = date.today()
    records: dict[int, dict[str, Any]] = {}
    if isinstance(partner_ids, tuple):
        first, last = partner_ids
        pick_partner = Partner.id.between(first, last)
        pick_point = ContactPoint.partner_id.between(first, last)
        pick_role = PartnerRole.partner_id.between(first, last)
    else:
        pick_partner = Partner.id.in_(partner_ids)
        pick_point = ContactPoint.partner_id.in_(partner_ids)
        pick_role = PartnerRole.partner_id.in_(partner_ids)
    partners = conn.execute(
        select(
            Partner.id,
            Partner.external_id,
            Partner.kind,
            Partner.first_name,
            Partner.last_name,
            Partner.organisation_name,
            Partner.tax_number,
            Partner.emso,
            Partner.birth_date,
        ).where(pick_partner, Partner.merged_into_id.is_(None))
    )
    for row in partners:
        records[row.id] = _partner_record(row)
    if not records:
        return records

    points = conn.execute(
        select(
            ContactPoint.partner_id,
            ContactPoint.kind,
            ContactPoint.value,
            ContactPoint.display,
            ContactPoint.street,
            ContactPoint.house_number,
            ContactPoint.postcode,
            ContactPoint.city,
            ContactPoint.valid_to,
        ).where(pick_point)
    )
    for point in points:
        if point.partner_id in records:
            _add_contact_point(records[point.partner_id], point, today)

    roles = conn.execute(
        select(
            PartnerRole.partner_id,
            PartnerRole.valid_to,
            MeteringPoint.id,
            MeteringPoint.eimm,
            MeteringPoint.gsrn,
            MeteringPoint.street,
            MeteringPoint.house_number,
            MeteringPoint.postcode,
            MeteringPoint.city,
        )
        .join(MeteringPoint, MeteringPoint.id == PartnerRole.metering_point_id)
        .where(pick_role)
    )
    holders: dict[int, set[int]] = {}
    for role in roles:
        if role.partner_id not in records:
            continue
        _add_metering_point(records[role.partner_id], role, today)
        holders.setdefault(role.id, set()).add(role.partner_id)

    if holders:
        devices = conn.execute(
            select(MeterDevice.serial, MeterDevice.metering_point_id, MeteringPoint.eimm)
            .join(MeteringPoint, MeteringPoint.id == MeterDevice.metering_point_id)
            .where(
                MeterDevice.metering_point_id.in_(list(holders)),
                MeterDevice.removed_on.is_(None),
            )
        )
        for serial, mp_id, eimm in devices:
            for partner_id in holders[mp_id]:
                records[partner_id]["s"].append([serial.strip().lower(), mp_id, eimm])
    return records


def _partner_record(row: Any) -> dict[str, Any]:
    if row.kind == PartnerKind.ORGANISATION and row.organisation_name:
        display = row.organisation_name
    else:
        parts = (row.first_name, row.last_name)
        display = " ".join(p for p in parts if p) or row.organisation_name or ""
    normal = normalize_name(display)
    return {
        "id": row.id,
        "x": row.external_id,
        "n": [[display, normal]] if normal else [],
        "b": row.birth_date.strftime("%Y%m%d") if row.birth_date else None,
        "i": row.emso or None,
        "t": row.tax_number or None,
        "p": [],
        "e": [],
        "a": [],
        "m": [],
        "s": [],
    }


def _add_contact_point(record: dict[str, Any], point: Any, today: date) -> None:
    current = point.valid_to is None or point.valid_to >= today
    if point.kind in (ContactKind.PHONE, ContactKind.FAX):
        number = phone_key(point.value) or phone_key(point.display)
        if number and current:
            record["p"].append([number, str(point.kind)])
    elif point.kind == ContactKind.EMAIL:
        parts = email_parts(point.value) or email_parts(point.display)
        if parts and current:
            record["e"].append([parts[1], email_key(parts[1])])
    elif point.kind == ContactKind.ADDRESS:
        line = point.display or point.value
        if point.street or point.postcode:
            # A settlement is only ever written between the street and the post office.
            settlement = parse_address(line).settlement if line.count(",") > 1 else ""
            place = make_address(
                point.street, point.house_number, point.postcode, point.city, settlement
            )
        else:
            place = parse_address(line)
        if place:
            row = [place.street, place.number, place.postcode, place.city, place.settlement]
            record["a"].append([*row, None, None, 1 if current else 0])


def _add_metering_point(record: dict[str, Any], role: Any, today: date) -> None:
    current = role.valid_to is None or role.valid_to >= today
    for entry in record["m"]:
        if entry[0] == role.id:
            entry[3] = entry[3] or int(current)
            return
    record["m"].append([role.id, role.eimm, role.gsrn, int(current)])
    place = make_address(role.street, role.house_number, role.postcode, role.city)
    if place:
        row = [place.street, place.number, place.postcode, place.city, place.settlement]
        record["a"].append([*row, role.id, role.eimm, int(current)])


def refresh(conn: Connection, partner_ids: Iterable[int]) -> int:
    """Rewrite the index rows of `partner_ids` from their current data; return how many."""
    ids = sorted(set(partner_ids))
    written = 0
    for start in range(0, len(ids), BATCH):
        chunk = ids[start : start + BATCH]
        records = load_records(conn, chunk)
        conn.execute(delete(MatchKey).where(MatchKey.partner_id.in_(chunk)))
        conn.execute(delete(MatchRecord).where(MatchRecord.partner_id.in_(chunk)))
        written += _write(conn, records)
    return written


def _write(conn: Connection, records: dict[int, dict[str, Any]]) -> int:
    if not records:
        return 0
    rows = [{"partner_id": pid, "record": _dump(r)} for pid, r in records.items()]
    conn.execute(insert(MatchRecord), rows)
    keys = [
        {"key": key[:200], "partner_id": pid}
        for pid, r in records.items()
        for key in sorted(record_keys(r))
    ]
    if keys:
        conn.execute(insert(MatchKey), keys)
    return len(records)


async def rebuild(conn: AsyncConnection, batch: int = 5000) -> int:
    """Rebuild the whole index from the partners, batch by batch; return partners indexed.

    For bulk loads that bypassed the ORM (`stik partners reindex`). On PostgreSQL the
    rows are written with COPY, in the caller's transaction.
    """
    # TODO(#3): records are built in this one process at roughly 0.2-0.4 ms a partner, so
    # 1M partners take minutes; split the id range over worker processes to bring a
    # full rebuild within the importer's 60 s.
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        await conn.execute(text("TRUNCATE match_key, match_record"))
        for statement in _PG_DROP_CONSTRAINTS:
            await conn.execute(text(statement))
    else:
        await conn.execute(delete(MatchKey))
        await conn.execute(delete(MatchRecord))

    written, last = 0, 0
    while True:
        ids = list(
            (
                await conn.execute(
                    select(Partner.id).where(Partner.id > last).order_by(Partner.id).limit(batch)
                )
            ).scalars()
        )
        if not ids:
            break
        last = ids[-1]
        records = await conn.run_sync(load_records, (ids[0], last))
        if postgres:
            written += await _copy(conn, records)
        else:
            written += await conn.run_sync(_write, records)
    if postgres:
        await conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        for statement in _PG_ADD_CONSTRAINTS:
            await conn.execute(text(statement))
    log.info("match_index_rebuilt", partners=written)
    return written


#: A full rebuild on PostgreSQL loads without keys and checks, then adds them in one pass
#: (far faster than maintaining a B-tree and a foreign key check per copied row).
_PG_DROP_CONSTRAINTS = (
    "ALTER TABLE match_key DROP CONSTRAINT pk_match_key,"
    " DROP CONSTRAINT fk_match_key_partner_id_partner",
    "DROP INDEX ix_match_key_partner_id",
    "ALTER TABLE match_record DROP CONSTRAINT fk_match_record_partner_id_partner",
)
_PG_ADD_CONSTRAINTS = (
    "ALTER TABLE match_key ADD CONSTRAINT pk_match_key PRIMARY KEY (key, partner_id)",
    "CREATE INDEX ix_match_key_partner_id ON match_key (partner_id)",
    "ALTER TABLE match_key ADD CONSTRAINT fk_match_key_partner_id_partner FOREIGN KEY"
    " (partner_id) REFERENCES partner (id) ON DELETE CASCADE",
    "ALTER TABLE match_record ADD CONSTRAINT fk_match_record_partner_id_partner FOREIGN KEY"
    " (partner_id) REFERENCES partner (id) ON DELETE CASCADE",
)


async def _copy(conn: AsyncConnection, records: dict[int, dict[str, Any]]) -> int:
    raw = await conn.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.copy_records_to_table(
        "match_record",
        records=[(pid, _dump(r)) for pid, r in records.items()],
        columns=["partner_id", "record"],
    )
    await driver.copy_records_to_table(
        "match_key",
        records=[(key[:200], pid) for pid, r in records.items() for key in record_keys(r)],
        columns=["key", "partner_id"],
    )
    return len(records)


def _dump(record: dict[str, Any]) -> str:
    return json.dumps(record, separators=(",", ":"), ensure_ascii=False)


async def refresh_partners(session: AsyncSession, partner_ids: Iterable[int]) -> int:
    """Rewrite the index rows of some partners, in the session's transaction."""
    ids = list(partner_ids)
    return await session.run_sync(lambda s: refresh(s.connection(), ids))


# Keeping the index current ---------------------------------------------------------


def _touched_partners(session: Session) -> set[int]:
    """Return the partners whose match data the pending flush changed."""
    touched: set[int] = set()
    metering_points: set[int] = set()
    for obj in (*session.new, *session.dirty, *session.deleted):
        if isinstance(obj, Partner):
            touched.add(obj.id)
        elif isinstance(obj, ContactPoint | PartnerRole):
            touched.add(obj.partner_id)
            touched.update(inspect(obj).attrs.partner_id.history.deleted or ())
        elif isinstance(obj, MeteringPoint):
            metering_points.add(obj.id)
        elif isinstance(obj, MeterDevice):
            metering_points.add(obj.metering_point_id)
    touched.discard(None)  # type: ignore[arg-type]
    metering_points.discard(None)  # type: ignore[arg-type]
    if metering_points:
        holders = session.connection().execute(
            select(PartnerRole.partner_id).where(PartnerRole.metering_point_id.in_(metering_points))
        )
        touched.update(holders.scalars())
    return touched


_PENDING = "stik_match_index_pending"


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Note partners losing contact points or roles (their ids are gone after the flush)."""
    pending: set[int] = session.info.setdefault(_PENDING, set())
    for obj in session.deleted:
        if isinstance(obj, ContactPoint | PartnerRole) and obj.partner_id is not None:
            pending.add(obj.partner_id)


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context: Any) -> None:
    touched = _touched_partners(session) | session.info.pop(_PENDING, set())
    if touched:
        refresh(session.connection(), touched)
