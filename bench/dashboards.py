"""How fast the managers' dashboards answer on a large PostgreSQL: 10M activities, 2M tickets.

Builds its own database (`stik_bench_dashboards` unless --database-url is given) and
fills it with set-based SQL (generate_series): two years of contacts on every channel,
in the order they happened (as a live system writes them),
60 % of them calls written as the phone channel writes them, tickets with deadlines,
SLA breaches, queued tasks and agents' presence. `dash_contact` is filled by one
INSERT ... SELECT, and a sample of it is then recomputed by `facts.refresh_contacts`
to check that the benchmark's SQL and the application agree.

Then it times, as a supervisor's page gets them: the service-quality report for a day
(all queues, and one queue; yesterday and today), the wallboard snapshot, the report
of a week and the staffing table. `p95_ms` is the 95th percentile over the default
day and queue views and the wallboard; the target is 150 ms. The last line printed is
one JSON object of the figures. `--quick` builds a small database (about a minute).
"""

import argparse
import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

# bench/ must not shadow the packages it measures when run as a file.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from collections.abc import Awaitable, Callable  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from typing import Any  # noqa: E402

import asyncpg  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

import agent_ui.models  # noqa: E402, F401  (the workspace's tables)
import routing.models  # noqa: E402, F401  (tasks, presence, SLA records)
from agent_ui.dashboards import queries  # noqa: E402
from agent_ui.dashboards.facts import refresh_contacts  # noqa: E402
from agent_ui.dashboards.models import ContactFact  # noqa: E402
from agent_ui.dashboards.queries import Filters, local_today  # noqa: E402
from interactions import schema  # noqa: E402
from interactions.store import Store  # noqa: E402

TARGET_P95_MS = 150.0
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/stik_bench_dashboards"
DAYS = 730
QUEUES_PER_ENTITY = 6
AGENTS = 240
CATEGORIES = "billing,supplier_switch,connection,outage,contract,payment,meter_reading,other"

SEED_SQL = [
    "SELECT setseed(0.42)",
    # Queues and agents of both legal entities.
    """
    INSERT INTO queue (code, name, legal_entity, org_unit, channels, skills, rules)
    SELECT e || '-q' || n, initcap(e) || ' queue ' || n, e, 'call_centre',
           '["phone", "email"]'::jsonb, '{}'::jsonb, '{}'::jsonb
    FROM unnest(ARRAY['supplier', 'dso']) AS e, generate_series(1, CAST(:queues AS int)) AS n
    """,
    """
    INSERT INTO employee (login, full_name, org_unit, legal_entity, role, skills, languages,
                          capacity, active)
    SELECT 'agent' || n, 'Agent ' || n, 'call_centre',
           CASE WHEN n % 2 = 0 THEN 'supplier' ELSE 'dso' END, 'agent',
           '{}'::jsonb, '["sl"]'::jsonb, '{}'::jsonb, true
    FROM generate_series(1, CAST(:agents AS int)) AS n
    """,
    """
    INSERT INTO agent_state (employee_id, presence, since, idle_since, calls, written,
                             max_calls, max_written, max_written_on_call)
    SELECT id, (ARRAY['available', 'busy', 'wrap_up', 'break', 'offline'])[1 + id % 5],
           now(), now(), 0, 0, 1, 4, 2
    FROM employee
    """,
    """
    INSERT INTO partner (kind, first_name, last_name, segment, language, vulnerable,
                         created_at, updated_at)
    SELECT 'person', 'Ime' || n, 'Priimek' || n, 'household', 'sl', false, now(), now()
    FROM generate_series(1, CAST(:partners AS int)) AS n
    """,
    # Tickets over two years; the last three weeks' are partly still open.
    """
    INSERT INTO ticket (number, legal_entity, kind, category, priority, status, subject,
                        queue_id, created_at, updated_at, first_response_due, resolution_due,
                        first_responded_at, resolved_at, closed_at, breaches, partner_id)
    SELECT lpad((2000 + n / 999999)::text, 4, '0') || '-' || lpad((n % 999999)::text, 6, '0'),
           t.entity,
           (ARRAY['question', 'complaint', 'request', 'meter_reading', 'change'])[1 + n % 5],
           (string_to_array(CAST(:categories AS text), ','))[1 + (n / 7) % 8],
           3,
           CASE WHEN t.created > now() - interval '21 days' AND random() < 0.4
                THEN (ARRAY['new', 'open', 'pending_customer'])[1 + n % 3]
                ELSE 'closed' END,
           'Zadeva ' || n,
           (SELECT id FROM queue WHERE legal_entity = t.entity ORDER BY id
            OFFSET (n % :queues) LIMIT 1),
           t.created, t.created,
           t.created + interval '1 day', t.created + interval '8 days',
           t.created + (random() * interval '30 hours'),
           t.created + (random() * interval '10 days'),
           t.created + interval '10 days',
           '[]'::jsonb,
           1 + n % :partners
    FROM (SELECT n, CASE WHEN n % 2 = 0 THEN 'supplier' ELSE 'dso' END AS entity,
                 now() - interval '1 day' * CAST(:days AS int) * (1 - n::float / :tickets)
                     - random() * interval '1 hour' AS created
          FROM generate_series(1, CAST(:tickets AS int)) AS n) AS t
    """,
    """
    UPDATE ticket SET first_responded_at = NULL, resolved_at = NULL, closed_at = NULL
    WHERE status <> 'closed'
    """,
    """
    INSERT INTO sla_record (ticket_id, metric, kind, at, due_at, queue_id, assignee_id,
                            legal_entity)
    SELECT id, 'first_response', 'breach', first_response_due, first_response_due, queue_id,
           NULL, legal_entity
    FROM ticket
    WHERE first_responded_at IS NULL OR first_responded_at > first_response_due
    """,
    """
    INSERT INTO sla_clock (ticket_id, metric, counting, target_seconds, warn_share, state,
                           started_at, due_at, warn_at, paused_seconds)
    SELECT id, 'first_response', 'business', 86400, 0.8,
           CASE WHEN first_response_due < now() THEN 'breached' ELSE 'running' END,
           created_at, first_response_due, created_at + interval '19 hours', 0
    FROM ticket WHERE status <> 'closed'
    """,
    # Contacts: 60 % calls with the phone channel's JSON, the rest written or visits.
    """
    INSERT INTO activity (channel, direction, external_id, occurred_at, received_at,
                          legal_entity, partner_id, employee_id, duration_seconds, state,
                          match_reasons, match_candidates, meta, ticket_id, category)
    SELECT a.channel, 'inbound', 'b' || a.n, a.at, a.at, a.entity,
           1 + floor(random() * :partners)::int,
           CASE WHEN a.outcome = 'answered' THEN 1 + a.n % :agents END,
           CASE WHEN a.outcome = 'answered' THEN a.talk::int END,
           'processed', '[]'::jsonb, '[]'::jsonb,
           CASE WHEN a.channel = 'phone' THEN jsonb_build_object('call', jsonb_build_object(
               'sid', 'CA' || a.n, 'queue_id', a.queue_id,
               'arrived_at', a.at, 'queued_at', CASE WHEN a.outcome <> 'out_of_hours'
                                                   THEN a.at + interval '4 seconds' END,
               'answered_at', CASE WHEN a.outcome = 'answered'
                                   THEN a.at + (4 + a.wait) * interval '1 second' END,
               'ended_at', a.at + (4 + a.wait + a.talk) * interval '1 second',
               'agent_id', CASE WHEN a.outcome = 'answered' THEN 1 + a.n % :agents END,
               'wait_seconds', a.wait,
               'talk_seconds', CASE WHEN a.outcome = 'answered' THEN a.talk END,
               'wrap_up_seconds', CASE WHEN a.outcome = 'answered' THEN 30 END,
               'outcome', a.outcome))
           ELSE '{}'::jsonb END,
           CASE WHEN a.channel <> 'phone' AND a.n % 3 = 0 THEN 1 + a.n % :tickets END,
           CASE WHEN a.channel <> 'phone'
                THEN (string_to_array(CAST(:categories AS text), ','))[1 + a.n % 8] END
    FROM (
        SELECT n, at, entity, channel, queue_id, outcome,
               CASE WHEN outcome = 'abandoned' AND r < 0.895 THEN round((random() * 4)::numeric, 1)
                    ELSE round((random() * random() * 90)::numeric, 1) END::float AS wait,
               round((60 + random() * 400)::numeric)::float AS talk
        FROM (
            SELECT n, at, entity, r,
                   CASE WHEN n % 10 < 6 THEN 'phone'
                        ELSE (ARRAY['email', 'web', 'post', 'fax'])[1 + n % 4] END AS channel,
                   q.ids[1 + n % :queues] AS queue_id,
                   CASE WHEN r < 0.85 THEN 'answered' WHEN r < 0.96 THEN 'abandoned'
                        WHEN r < 0.98 THEN 'voicemail' ELSE 'out_of_hours' END AS outcome
            FROM (SELECT n, random() AS r,
                         CASE WHEN n % 2 = 0 THEN 'supplier' ELSE 'dso' END AS entity,
                         now() - interval '1 day' * CAST(:days AS int)
                             * (1 - n::float / :activities) - random() * interval '10 minutes'
                             AS at
                  FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS n) AS base
            JOIN (SELECT legal_entity, array_agg(id ORDER BY id) AS ids FROM queue
                  GROUP BY legal_entity) AS q ON q.legal_entity = base.entity
        ) AS shaped
    ) AS a
    """,
]

FACTS_SQL = """
INSERT INTO dash_contact (activity_id, channel, legal_entity, queue_id, partner_id, employee_id,
    ticket_id, category, occurred_at, repeat_until, repeated, local_day, local_hour, local_slot,
    weekday,
    outcome, queued, answered_at, ended_at, wait_seconds, talk_seconds, wrap_up_seconds,
    updated_at)
SELECT a.id, a.channel, a.legal_entity,
       COALESCE((a.meta->'call'->>'queue_id')::int, t.queue_id),
       a.partner_id, COALESCE(a.employee_id, (a.meta->'call'->>'agent_id')::int), a.ticket_id,
       COALESCE(a.category, t.category), a.occurred_at, a.occurred_at + interval '7 days', false,
       l.at::date, extract(hour FROM l.at)::int,
       (extract(hour FROM l.at) * 2 + floor(extract(minute FROM l.at) / 30))::int,
       (extract(isodow FROM l.at) - 1)::int,
       a.meta->'call'->>'outcome', a.meta->'call'->>'queued_at' IS NOT NULL,
       (a.meta->'call'->>'answered_at')::timestamptz, (a.meta->'call'->>'ended_at')::timestamptz,
       (a.meta->'call'->>'wait_seconds')::float, (a.meta->'call'->>'talk_seconds')::float,
       (a.meta->'call'->>'wrap_up_seconds')::float, now()
FROM activity a
CROSS JOIN LATERAL (SELECT a.occurred_at AT TIME ZONE 'Europe/Ljubljana' AS at) AS l
LEFT JOIN ticket t ON t.id = a.ticket_id
WHERE a.direction = 'inbound' AND a.id BETWEEN :first AND :last
"""

#: The first-contact-resolution flag of every contact at once: another contact of the same
#: partner and entity within (occurred_at, occurred_at + 7 days].
REPEATS_SQL = """
UPDATE dash_contact d SET repeated = true
FROM (
    SELECT activity_id,
           count(*) OVER (PARTITION BY legal_entity, partner_id ORDER BY occurred_at
                          RANGE BETWEEN '1 microsecond' FOLLOWING AND '7 days' FOLLOWING) AS later
    FROM dash_contact WHERE partner_id IS NOT NULL
) w
WHERE w.activity_id = d.activity_id AND w.later > 0
"""

TASKS_SQL = """
INSERT INTO routing_task (kind, channel, queue_id, legal_entity, required_skills, priority,
                          state, created_at, overflow_level, missed_by)
SELECT 'call', 'phone', q.id, q.legal_entity, '{}'::jsonb, 3, 'queued',
       now() - (random() * interval '3 minutes'), 0, '[]'::jsonb
FROM queue q, generate_series(1, 12)
"""


async def ensure_database(url: str, fresh: bool) -> None:
    """Make the benchmark's own database; `fresh` drops what an earlier run left."""
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        if fresh:
            await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}"')
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname=$1", parsed.database):
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


async def _without_indexes(
    store: Store, tables: list[str], load: Callable[[], Awaitable[None]]
) -> None:
    """Run `load` with the tables' plain indexes dropped, then build them again."""
    async with store.engine.begin() as conn:
        rows = (
            await conn.execute(
                text(
                    "SELECT i.indexname, i.indexdef FROM pg_indexes i"
                    " WHERE i.tablename = ANY(:tables) AND i.indexname NOT IN"
                    " (SELECT conname FROM pg_constraint)"
                ),
                {"tables": tables},
            )
        ).all()
        for name, _definition in rows:
            await conn.execute(text(f'DROP INDEX "{name}"'))
    await load()
    async with store.engine.begin() as conn:
        await conn.execute(text("SET maintenance_work_mem = '256MB'"))
        for _name, definition in rows:
            await conn.execute(text(definition))


async def seed(store: Store, activities: int, tickets: int, partners: int) -> None:
    await schema.upgrade(store.engine)
    values = {
        "queues": QUEUES_PER_ENTITY,
        "agents": AGENTS,
        "partners": partners,
        "tickets": tickets,
        "days": DAYS,
        "categories": CATEGORIES,
    }

    async def load() -> None:
        async with store.engine.begin() as conn:
            await conn.execute(text("SET session_replication_role = replica"))  # no FK triggers
            await conn.execute(text("SET jit = off"))
            for statement in SEED_SQL[:-1]:
                names = {k: v for k, v in values.items() if f":{k}" in statement}
                await conn.execute(text(statement), names)
        step = 1_000_000
        for first in range(1, activities + 1, step):
            last = min(activities, first + step - 1)
            async with store.engine.begin() as conn:
                await conn.execute(text("SET session_replication_role = replica"))
                await conn.execute(text("SET jit = off"))
                await conn.execute(
                    text(SEED_SQL[-1]),
                    {**values, "first": first, "last": last, "activities": activities},
                )
                await conn.execute(text(FACTS_SQL), {"first": first, "last": last})
            print(f"  {last:,} activities", flush=True)

    async def load_all() -> None:
        await load()
        async with store.engine.begin() as conn:
            await conn.execute(text("SET work_mem = '256MB'"))
            await conn.execute(text(REPEATS_SQL))

    await _without_indexes(
        store, ["activity", "ticket", "dash_contact", "sla_record", "sla_clock"], load_all
    )
    async with store.engine.begin() as conn:
        await conn.execute(text(TASKS_SQL))
    async with store.engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))


async def facts_agree(store: Store, sample: int = 300) -> bool:
    """Recompute a sample of facts with the application's code: nothing may change."""
    columns = [c for c in ContactFact.__table__.columns if c.name != "updated_at"]

    async def read(ids: list[int]) -> list[tuple[Any, ...]]:
        async with store.sessions() as db:
            found = await db.execute(
                select(*columns)
                .where(ContactFact.activity_id.in_(ids))
                .order_by(ContactFact.activity_id)
            )
            return [tuple(r) for r in found]

    async with store.sessions() as db:
        ids = list(
            await db.scalars(
                text("SELECT activity_id FROM dash_contact TABLESAMPLE SYSTEM (1) LIMIT :n"),
                {"n": sample},
            )
        )
    before = await read(ids)
    async with store.sessions() as db, db.begin():
        await refresh_contacts(db, ids)
    after = await read(ids)
    return bool(ids) and _close(before, after)


def _close(before: list[tuple[Any, ...]], after: list[tuple[Any, ...]]) -> bool:
    if len(before) != len(after):
        return False
    for a, b in zip(before, after, strict=True):
        for x, y in zip(a, b, strict=True):
            if isinstance(x, float) and isinstance(y, float):
                if abs(x - y) > 1e-6:
                    return False
            elif x != y:
                return False
    return True


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


async def timed(store: Store, work: Callable[[Any], Awaitable[Any]], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        started = time.perf_counter()
        async with store.sessions() as db:
            await work(db)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a small database, about a minute")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--activities", type=int)
    parser.add_argument("--tickets", type=int)
    parser.add_argument("--rounds", type=int)
    parser.add_argument("--reuse", action="store_true", help="time the data already there")
    args = parser.parse_args()
    activities = args.activities or (300_000 if args.quick else 10_000_000)
    tickets = args.tickets or (60_000 if args.quick else 2_000_000)
    partners = max(1000, activities // 20)
    rounds = args.rounds or (30 if args.quick else 60)

    await ensure_database(args.database_url, fresh=not args.reuse)
    store = Store.open(args.database_url)
    seed_s = 0.0
    if not args.reuse:
        print(f"seeding {activities:,} activities, {tickets:,} tickets ...", flush=True)
        started = time.perf_counter()
        await seed(store, activities, tickets, partners)
        seed_s = time.perf_counter() - started
        print(f"seeded in {seed_s:.1f} s", flush=True)
    async with store.sessions() as db:
        counted = await db.scalar(text("SELECT count(*) FROM activity"))
        queue_id = await db.scalar(
            text("SELECT min(id) FROM queue WHERE legal_entity = 'supplier'")
        )
        counted_tickets = await db.scalar(text("SELECT count(*) FROM ticket"))
    agree = await facts_agree(store)

    now = datetime.now(UTC)
    today = local_today(now)
    yesterday = today - timedelta(days=1)
    views: dict[str, Callable[[Any], Awaitable[Any]]] = {
        "report_day": lambda db: queries.report(db, Filters("supplier", yesterday, yesterday), now),
        "report_day_queue": lambda db: queries.report(
            db, Filters("supplier", yesterday, yesterday, queue_id=queue_id), now
        ),
        "report_today": lambda db: queries.report(db, Filters("supplier", today, today), now),
        "report_today_queue": lambda db: queries.report(
            db, Filters("supplier", today, today, queue_id=queue_id), now
        ),
        "wallboard": lambda db: queries.wallboard(db, "supplier", now, 20),
        "report_week": lambda db: queries.report(
            db, Filters("supplier", today - timedelta(days=6), today), now
        ),
        "staffing": lambda db: queries.staffing_table(db, "supplier", now),
    }
    for work in views.values():  # warm the caches once
        await timed(store, work, 1)
    figures: dict[str, Any] = {}
    default: list[float] = []
    for name, work in views.items():
        samples = await timed(store, work, rounds)
        p50, p95 = statistics.median(samples), percentile(samples, 0.95)
        figures[f"{name}_p95_ms"] = round(p95, 1)
        print(f"{name:20} p50 {p50:7.1f} ms   p95 {p95:7.1f} ms", flush=True)
        if name in (
            "report_day",
            "report_day_queue",
            "report_today",
            "report_today_queue",
            "wallboard",
        ):
            default += samples
    p95 = percentile(default, 0.95)
    print(f"default views p95 {p95:.1f} ms (target {TARGET_P95_MS:.0f} ms); facts agree: {agree}")
    await store.close()
    print(
        json.dumps(
            {
                "p95_ms": round(p95, 1),
                "target_p95_ms": TARGET_P95_MS,
                "activities": counted,
                "tickets": counted_tickets,
                "facts_agree": agree,
                "seed_s": round(seed_s, 1),
                **figures,
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
