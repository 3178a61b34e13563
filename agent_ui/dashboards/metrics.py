"""Prometheus metrics for operations, served at `/metrics` (prometheus-client).

Request latencies and errors are counted by a middleware on this node; queue
lengths and agents by presence are the gauges of the last wallboard snapshot this
node counted; ingest is the number of contacts recorded per channel in the last
five minutes, read from the database at scrape time, so that every node reports
the same figure rather than the events it happened to hear.

TODO(#10): `/metrics` answers without sign-in, as scrapers expect; it shows queue names
and counts, no personal data. Keep it on an internal address until a scrape token
is configurable.
"""

import time
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from sqlalchemy import func, select

from agent_ui.keys import STORE
from interactions.models import Activity
from interactions.types import utcnow

REGISTRY = CollectorRegistry()
LATENCY = Histogram(
    "stik_http_request_seconds",
    "Time to answer an HTTP request, by route and method.",
    ["route", "method"],
    registry=REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10),
)
RESPONSES = Counter(
    "stik_http_responses_total",
    "HTTP responses by route and status class.",
    ["route", "status"],
    registry=REGISTRY,
)
ERRORS = Counter(
    "stik_errors_total", "Failures caught and logged, by where.", ["where"], registry=REGISTRY
)
WAITING = Gauge(
    "stik_queue_waiting",
    "Contacts waiting in a queue.",
    ["legal_entity", "queue"],
    registry=REGISTRY,
)
LONGEST_WAIT = Gauge(
    "stik_queue_longest_wait_seconds",
    "How long the longest-waiting contact of a queue has waited.",
    ["legal_entity", "queue"],
    registry=REGISTRY,
)
AGENTS = Gauge(
    "stik_agents", "Agents by presence.", ["legal_entity", "presence"], registry=REGISTRY
)
INGEST = Gauge(
    "stik_contacts_recorded_5m",
    "Contacts recorded in the last five minutes, by channel.",
    ["channel"],
    registry=REGISTRY,
)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def observe_wallboard(board: dict[str, Any]) -> None:
    entity = board["legal_entity"]
    for row in board["queues"]:
        WAITING.labels(entity, row["queue"]).set(row["waiting"] or 0)
        LONGEST_WAIT.labels(entity, row["queue"]).set(row["longest_wait"] or 0)
    for key, value in board["total"].items():
        if key.startswith("agents_"):
            AGENTS.labels(entity, key.removeprefix("agents_")).set(value or 0)


@web.middleware
async def measure(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Time every request by its route pattern (not its path, which holds ids)."""
    info = request.match_info.route.resource
    route = info.canonical if info is not None else "unmatched"
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        LATENCY.labels(route, request.method).observe(time.perf_counter() - started)
        RESPONSES.labels(route, f"{status // 100}xx").inc()
        if status >= 500:
            ERRORS.labels(where="http").inc()


async def metrics_view(request: web.Request) -> web.Response:
    async with request.app[STORE].sessions() as db:
        rows = await db.execute(
            select(Activity.channel, func.count())
            .where(Activity.occurred_at >= utcnow() - timedelta(minutes=5))
            .group_by(Activity.channel)
        )
        INGEST.clear()
        for channel, count in rows:
            INGEST.labels(channel).set(count)
    body = generate_latest(REGISTRY)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
