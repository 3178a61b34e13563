"""`stik routing`: queue rules in words, staffing by Erlang C, the timer sweep by hand."""

import asyncio
from datetime import UTC, datetime

import click
from sqlalchemy import select

from interactions.models import Queue
from interactions.store import Store
from routing.engine import RoutingEngine
from routing.rules import QueueRules, RuleError, describe
from routing.staffing import agents_needed, evaluate


@click.group()
def routing() -> None:
    """Routing: queue rules, staffing, SLA and routing timers."""


def _store(ctx: click.Context) -> Store:
    return ctx.obj.store()  # type: ignore[no-any-return]


@routing.command()
@click.pass_context
def rules(ctx: click.Context) -> None:
    """Print every queue's routing rules in words."""

    async def run() -> list[tuple[str, list[str]]]:
        store = _store(ctx)
        try:
            async with store.sessions() as session:
                queues = (await session.execute(select(Queue).order_by(Queue.code))).scalars()
                told = []
                for queue in queues:
                    try:
                        told.append((queue.code, describe(QueueRules.parse(queue.rules))))
                    except RuleError as exc:
                        told.append((queue.code, [f"RULES NOT USABLE: {exc}"]))
                return told
        finally:
            await store.close()

    for code, lines in asyncio.run(run()):
        click.echo(code)
        for line in lines:
            click.echo(f"  {line}")


@routing.command()
@click.option("--arrivals", type=click.FloatRange(min=0), required=True, help="calls per interval")
@click.option(
    "--handle",
    type=click.FloatRange(min=1),
    default=180.0,
    show_default=True,
    help="average handle time, seconds",
)
@click.option(
    "--target",
    type=click.FloatRange(min=0),
    default=20.0,
    show_default=True,
    help="answer within this many seconds",
)
@click.option(
    "--level",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="share to answer within the target",
)
@click.option(
    "--interval",
    type=click.FloatRange(min=60),
    default=1800.0,
    show_default=True,
    help="interval length, seconds",
)
@click.option("--agents", type=click.IntRange(min=0), help="also show what this many give")
def staffing(
    arrivals: float,
    handle: float,
    target: float,
    level: float,
    interval: float,
    agents: int | None,
) -> None:
    """Agents needed for a service level, by Erlang C."""
    needed = agents_needed(arrivals, handle, target, level, interval)
    click.echo(
        f"load {needed.load:.2f} Erlang: {needed.agents} agents give service level"
        f" {needed.service_level:.3f}, ASA {needed.asa_s:.1f} s"
    )
    if agents is not None:
        given = evaluate(agents, arrivals, handle, target, interval)
        click.echo(
            f"{agents} agents give service level {given.service_level:.3f}, ASA {given.asa_s:.1f} s"
        )


@routing.command()
@click.pass_context
def sweep(ctx: click.Context) -> None:
    """Fire the routing and SLA timers that are due now, once."""

    async def run() -> str:
        store = _store(ctx)
        try:
            report = await RoutingEngine(store, node="cli").sweep(datetime.now(UTC))
        finally:
            await store.close()
        return (
            f"offers expired {report.offers_expired}, overflowed {report.overflowed},"
            f" returned {report.returned}, warnings {report.warnings},"
            f" breaches {report.breaches}, assigned {len(report.decisions)}"
        )

    click.echo(asyncio.run(run()))
