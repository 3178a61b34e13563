"""Routing at scale on PostgreSQL (issue 8): assignment decisions and the SLA sweep.

500 agents and 10,000 waiting tasks: the time of one assignment decision (one
transaction of `RoutingEngine.assign_next`), first while agents fill up, then in
steady state where each finished task frees room for the next decision. The
ceiling is a bare transaction of the same shape measured in the same run: take
the first waiting task with FOR UPDATE SKIP LOCKED, update one agent row, commit.
Then 100,000 open tickets with their SLA clocks, 1% of them due: one timer sweep.

    .venv/bin/python bench/routing.py --quick

Uses (and empties) the database `stik_bench_routing`; the last line is one JSON
object with `decisions_per_s`, `decision_p99_ms`, `sweep_s_100k` and the ceiling.
"""
# ruff: noqa: E402  (the import path is fixed first, see below)

import sys
from pathlib import Path

# This script shares its name with the package it measures: keep its own folder off
# the import path, or `import routing` would find this file.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import logging
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import asyncpg
import structlog
from sqlalchemy import insert, select, text
from sqlalchemy.engine import make_url

from interactions import schema
from interactions.models import Employee, Queue, Ticket
from interactions.store import Store
from routing.engine import RoutingEngine
from routing.models import AgentState, ClockState, SlaClock, Task, TaskState

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/stik_bench_routing"
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SKILLS = ["complaints", "debt", "dso-connections", "metering"]


async def fresh_database(url: str) -> Store:
    parsed = make_url(url)
    admin = parsed.set(drivername="postgresql", database="postgres")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", parsed.database):
            await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()
    store = Store.open(url)
    await schema.downgrade(store.engine, "base")
    await schema.upgrade(store.engine)
    return store


async def seed_routing(store: Store, agents: int, tasks: int, rng: random.Random) -> None:
    async with store.sessions() as session, session.begin():
        queues = []
        for code, unit, channels in (
            ("calls", "call_centre", ["phone"]),
            ("mail", "back_office", ["email", "web", "post", "fax"]),
            ("complaints", "back_office", ["email", "web", "post"]),
        ):
            queue = Queue(
                code=code,
                name=code,
                legal_entity="supplier",
                org_unit=unit,
                channels=channels,
                skills={},
                rules={"ring_timeout_s": 3600},
            )
            session.add(queue)
            await session.flush()
            queues.append((queue.id, unit))
        employees = [
            {
                "login": f"bench-{n}",
                "full_name": f"Agent {n}",
                "org_unit": "call_centre" if n % 3 == 0 else "back_office",
                "legal_entity": "supplier",
                "skills": {s: rng.randint(1, 5) for s in rng.sample(SKILLS, 2)} | {"slovenian": 5},
                "languages": ["sl", "en"] if n % 4 == 0 else ["sl"],
                "capacity": {"phone": 1} if n % 3 == 0 else {"written": 4},
            }
            for n in range(agents)
        ]
        await session.execute(insert(Employee), employees)
        ids = (await session.execute(select(Employee.id))).scalars().all()
        await session.execute(
            insert(AgentState),
            [
                {
                    "employee_id": agent_id,
                    "presence": "available",
                    "since": NOW,
                    "idle_since": NOW - timedelta(seconds=rng.randint(0, 3600)),
                    "calls": 0,
                    "written": 0,
                    "max_calls": 1 if n % 3 == 0 else 0,
                    "max_written": 0 if n % 3 == 0 else 4,
                    "max_written_on_call": 0 if n % 3 == 0 else 2,
                }
                for n, agent_id in enumerate(ids)
            ],
        )
        rows = []
        for n in range(tasks):
            queue_id, unit = queues[0] if n % 5 == 0 else rng.choice(queues[1:])
            created = NOW - timedelta(seconds=rng.randint(0, 8 * 3600))
            rows.append(
                {
                    "kind": "call" if unit == "call_centre" else "ticket",
                    "channel": "phone" if unit == "call_centre" else "email",
                    "queue_id": queue_id,
                    "legal_entity": "supplier",
                    "required_skills": {rng.choice(SKILLS): rng.randint(1, 3)} if n % 2 else {},
                    "language": "en" if n % 10 == 0 else "sl",
                    "priority": rng.choice([1, 2, 3, 3, 3, 4]),
                    "state": "queued",
                    "created_at": created,
                    "due_at": created + timedelta(hours=rng.randint(1, 48)),
                    "overflow_level": 0,
                    "missed_by": [],
                }
            )
        await session.execute(insert(Task), rows)


async def analyze(store: Store) -> None:
    """Refresh the planner's statistics after a bulk load, as autovacuum would."""
    async with store.engine.connect() as conn:
        await conn.execute(text("ANALYZE"))
        await conn.commit()


def p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98] if len(samples) >= 100 else max(samples)


async def measure_decisions(store: Store, steady: int, rng: random.Random) -> dict[str, float]:
    engine = RoutingEngine(store, node="bench")
    timings: list[float] = []
    busy = 0.0
    while True:  # agents fill up
        started = time.perf_counter()
        decision = await engine.assign_next(NOW)
        elapsed = time.perf_counter() - started
        if decision is None:
            break
        timings.append(elapsed)
        busy += elapsed
    filled = len(timings)

    for _ in range(steady):  # one task ends, one decision follows
        async with store.sessions() as session:
            held = (
                (
                    await session.execute(
                        select(Task.id).where(
                            Task.state.in_((TaskState.OFFERED, TaskState.ASSIGNED))
                        )
                    )
                )
                .scalars()
                .all()
            )
        await engine.complete(rng.choice(held), NOW)
        started = time.perf_counter()
        decision = await engine.assign_next(NOW)
        elapsed = time.perf_counter() - started
        if decision is not None:
            timings.append(elapsed)
            busy += elapsed
    return {
        "decisions": len(timings),
        "fill_decisions": filled,
        "decisions_per_s": len(timings) / busy,
        "decision_p50_ms": statistics.median(timings) * 1000,
        "decision_p99_ms": p99(timings) * 1000,
    }


async def measure_ceiling(store: Store, rounds: int) -> float:
    timings = []
    line = text(
        "SELECT id FROM routing_task WHERE state = 'queued'"
        " ORDER BY priority, due_at, created_at, id LIMIT 1 FOR UPDATE SKIP LOCKED"
    )
    touch = text("UPDATE agent_state SET idle_since = idle_since WHERE employee_id = :id")
    async with store.sessions() as session:
        agent = await session.scalar(select(AgentState.employee_id).limit(1))
    for _ in range(rounds):
        started = time.perf_counter()
        async with store.sessions() as session, session.begin():
            await session.execute(line)
            await session.execute(touch, {"id": agent})
        timings.append(time.perf_counter() - started)
    return p99(timings) * 1000


async def seed_tickets(store: Store, count: int, rng: random.Random) -> None:
    batch = 10_000
    for first in range(0, count, batch):
        size = min(batch, count - first)
        async with store.sessions() as session, session.begin():
            tickets = [
                {
                    "number": f"2026-{first + n + 1:06d}",
                    "legal_entity": "supplier",
                    "kind": "question",
                    "priority": 3,
                    "status": "open",
                    "created_at": NOW - timedelta(days=1),
                    "updated_at": NOW,
                    "breaches": [],
                }
                for n in range(size)
            ]
            ids = (await session.execute(insert(Ticket).returning(Ticket.id), tickets)).scalars()
            clocks = []
            for ticket_id in ids:
                due_now = rng.random() < 0.01
                for metric, days in (("first_response", 1), ("resolution", 8)):
                    due = NOW - timedelta(minutes=5) if due_now else NOW + timedelta(days=days)
                    clocks.append(
                        {
                            "ticket_id": ticket_id,
                            "metric": metric,
                            "counting": "business",
                            "target_seconds": days * 8 * 3600,
                            "warn_share": 0.8,
                            "state": ClockState.RUNNING,
                            "started_at": NOW - timedelta(days=1),
                            "due_at": due,
                            "warn_at": due - timedelta(hours=1),
                            "paused_seconds": 0.0,
                        }
                    )
            await session.execute(insert(SlaClock), clocks)


async def main(quick: bool, url: str) -> dict[str, object]:
    rng = random.Random(8)
    store = await fresh_database(url)
    try:
        started = time.perf_counter()
        await seed_routing(store, agents=500, tasks=10_000, rng=rng)
        await analyze(store)
        print(f"seeded 500 agents and 10000 waiting tasks in {time.perf_counter() - started:.1f} s")
        figures = await measure_decisions(store, 300 if quick else 3000, rng)
        ceiling = await measure_ceiling(store, 300 if quick else 3000)
        print(
            f"{figures['decisions']} decisions ({figures['fill_decisions']} while agents filled):"
            f" {figures['decisions_per_s']:.0f}/s, p50 {figures['decision_p50_ms']:.2f} ms,"
            f" p99 {figures['decision_p99_ms']:.2f} ms; ceiling p99 {ceiling:.2f} ms"
        )

        tickets = 100_000
        started = time.perf_counter()
        await seed_tickets(store, tickets, rng)
        await analyze(store)
        print(
            f"seeded {tickets} open tickets with 2 clocks each"
            f" in {time.perf_counter() - started:.1f} s"
        )
        engine = RoutingEngine(store, node="bench-sweep")
        started = time.perf_counter()
        report = await engine.sweep(NOW)
        sweep_s = time.perf_counter() - started
        started = time.perf_counter()
        await engine.sweep(NOW)
        idle_sweep_s = time.perf_counter() - started
        print(
            f"sweep over {tickets} open tickets: {sweep_s:.2f} s firing {report.warnings}"
            f" warnings and {report.breaches} breaches;"
            f" next sweep with nothing due {idle_sweep_s:.3f} s"
        )
    finally:
        await store.close()
    return {
        "decisions_per_s": round(figures["decisions_per_s"], 1),
        "decision_p50_ms": round(figures["decision_p50_ms"], 3),
        "decision_p99_ms": round(figures["decision_p99_ms"], 3),
        "ceiling_p99_ms": round(ceiling, 3),
        "p99_ratio_to_ceiling": round(figures["decision_p99_ms"] / ceiling, 2),
        "decisions": figures["decisions"],
        "sweep_s_100k": round(sweep_s, 3),
        "sweep_fired": report.warnings + report.breaches,
        "idle_sweep_s_100k": round(idle_sweep_s, 3),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steady-state decisions")
    parser.add_argument("--database-url", default=DEFAULT_URL)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    result = asyncio.run(main(args.quick, args.database_url))
    sys.stdout.write(json.dumps(result) + "\n")
