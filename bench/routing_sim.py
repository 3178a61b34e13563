"""Discrete-event simulation of call queues against Erlang C (issue 8).

Poisson arrivals and exponential handle times go through the routing engine's
assignment policy; the measured share answered within 20 s is compared with Erlang
C for several loads. A short run through the database engine itself (SQLite)
checks that it takes exactly the decisions of the in-memory run.

    .venv/bin/python bench/routing_sim.py --quick

The last line is one JSON object: `max_sl_error_points` and the per-load table.
"""
# ruff: noqa: E402  (the import path is fixed first, see below)

import sys
from pathlib import Path

# bench/routing.py shares its name with the package: keep this folder off the path.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import argparse
import asyncio
import json
import logging
import tempfile
import time

import structlog

from interactions import schema
from interactions.store import Store
from routing.simulation import Trace, board, simulate, store_driver

# (calls per 30 minutes, handle time in seconds, agents)
LOADS = [
    (100, 180, 12),
    (100, 180, 13),
    (100, 180, 14),
    (100, 180, 16),
    (50, 180, 6),
    (50, 180, 7),
    (50, 180, 8),
    (50, 180, 10),
]


async def store_matches_board(calls: int) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        store = Store.open(f"sqlite:///{Path(folder) / 'sim.db'}")
        await schema.upgrade(store.engine)
        try:
            in_store, in_memory = Trace([]), Trace([])
            driver = await store_driver(store, 3)
            await simulate(driver, 3, 30, calls=calls, seed=11, trace=in_store, warmup_calls=0)
            await simulate(board(3), 3, 30, calls=calls, seed=11, trace=in_memory, warmup_calls=0)
            return in_store.answered == in_memory.answered
        finally:
            await store.close()


async def main(quick: bool) -> dict[str, object]:
    calls = 60_000 if quick else 400_000
    table = []
    started = time.perf_counter()
    print(
        f"{'calls/30min':>11} {'AHT s':>6} {'agents':>6} {'days':>6} {'SL sim':>7} "
        f"{'SL Erlang':>9} {'error pt':>8} {'s.e. pt':>7} {'ASA sim':>8} {'ASA Erlang':>10}"
    )
    for n, (arrivals, handle, agents) in enumerate(LOADS):
        result = await simulate(
            board(agents), agents, arrivals, handle, calls=calls, seed=100 + n, warmup_calls=2000
        )
        row = {
            "arrivals_per_30min": arrivals,
            "handle_s": handle,
            "agents": agents,
            "simulated_days": round(result.simulated_days, 1),
            "sl_sim": round(result.measured_sl, 4),
            "sl_erlang": round(result.erlang_sl, 4),
            "error_points": round(result.error_points, 2),
            "stderr_points": round(result.sl_stderr * 100, 2),
            "asa_sim_s": round(result.measured_asa_s, 2),
            "asa_erlang_s": round(result.erlang_asa_s, 2),
        }
        table.append(row)
        print(
            f"{arrivals:>11} {handle:>6} {agents:>6} {row['simulated_days']:>6} "
            f"{row['sl_sim']:>7} {row['sl_erlang']:>9} {row['error_points']:>8} "
            f"{row['stderr_points']:>7} "
            f"{row['asa_sim_s']:>8} {row['asa_erlang_s']:>10}"
        )
    simulated = time.perf_counter() - started

    check_calls = 40 if quick else 150
    identical = await store_matches_board(check_calls)
    print(f"database engine and in-memory run identical over {check_calls} calls: {identical}")
    return {
        "max_sl_error_points": max(r["error_points"] for r in table),
        "calls_per_load": calls,
        "store_engine_identical": identical,
        "store_check_calls": check_calls,
        "simulation_s": round(simulated, 1),
        "loads": table,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls per load")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    figures = asyncio.run(main(args.quick))
    sys.stdout.write(json.dumps(figures) + "\n")
