"""The `stik` command line."""

import asyncio
import json
import sys
from typing import Any

import click

from interactions import schema
from interactions.matching import install as install_matching
from interactions.stats import collect_stats
from interactions.store import Store
from stik.config import HELP, Settings, load_settings
from stik.logging import configure_logging

ENV_HELP = "\b\nEnvironment:\n" + "\n".join(f"  {k:<18} {v}" for k, v in HELP.items())


class Context:
    """What every command gets: settings, and a store opened on demand."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def store(self, **kwargs: Any) -> Store:
        store = Store.open(self.settings.effective_database_url, **kwargs)
        install_matching(store, self.settings.extra.get("matching", {}))
        return store


pass_context = click.make_pass_decorator(Context)


@click.group(epilog=ENV_HELP)
@click.option("--config", type=click.Path(exists=True, dir_okay=False), help="a TOML file")
@click.pass_context
def main(ctx: click.Context, config: str | None) -> None:
    """Stik: contact centre and multichannel interactions for electricity utilities."""
    settings = load_settings(config)
    configure_logging(settings.log_level, settings.log_format)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    ctx.obj = Context(settings)


@main.group()
def db() -> None:
    """Database schema: migrate up or down."""


@db.command()
@click.argument("revision", default="head")
@pass_context
def upgrade(ctx: Context, revision: str) -> None:
    """Migrate the database up to REVISION (default: the newest)."""

    async def run() -> str | None:
        store = ctx.store()
        try:
            await schema.upgrade(store.engine, revision)
            return await schema.current_revision(store.engine)
        finally:
            await store.close()

    click.echo(f"database at revision {asyncio.run(run())}")


@db.command()
@click.argument("revision", default="-1")
@pass_context
def downgrade(ctx: Context, revision: str) -> None:
    """Migrate the database down to REVISION (default: one step; `base` removes all)."""

    async def run() -> str | None:
        store = ctx.store()
        try:
            await schema.downgrade(store.engine, revision)
            return await schema.current_revision(store.engine)
        finally:
            await store.close()

    click.echo(f"database at revision {asyncio.run(run())}")


@main.command(epilog=ENV_HELP)
@click.option("--host", help="address to listen on (overrides STIK_HOST)")
@click.option("--port", type=int, help="port to listen on (overrides STIK_PORT)")
@pass_context
def serve(ctx: Context, host: str | None, port: int | None) -> None:
    """Serve the agent pages, webhooks and API until SIGTERM or Ctrl-C."""
    from aiohttp import web

    from stik.app import create_app

    settings = ctx.settings
    app = create_app(settings)
    click.echo(f"Stik serving on http://{host or settings.host}:{port or settings.port}")
    web.run_app(
        app,
        host=host or settings.host,
        port=port or settings.port,
        print=None,
        shutdown_timeout=10,
        access_log=None,
    )


@main.command()
@click.option("--json", "as_json", is_flag=True, help="one JSON object")
@pass_context
def stats(ctx: Context, as_json: bool) -> None:
    """Print counts: partners, metering points, activities, tickets, failed contacts."""

    async def run() -> dict[str, Any]:
        store = ctx.store()
        try:
            return await collect_stats(store)
        finally:
            await store.close()

    figures = asyncio.run(run())
    if as_json:
        json.dump(figures, sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
        return
    for key, value in figures.items():
        click.echo(f"{key}: {value}")


# Commands defined by the packages (one line each; keep alphabetical).
from agent_ui.cli import users  # noqa: E402
from channels.email.cli import email  # noqa: E402
from channels.phone.cli import call  # noqa: E402
from channels.post.cli import post  # noqa: E402
from interactions.cli import partners, resolve_command  # noqa: E402
from interactions.commands import demo_data, import_group  # noqa: E402
from interactions.triage.cli import triage  # noqa: E402
from routing.cli import routing  # noqa: E402
from stik.simulate import simulate  # noqa: E402

main.add_command(call)
main.add_command(demo_data)
main.add_command(email)
main.add_command(import_group)
main.add_command(partners)
main.add_command(post)
main.add_command(resolve_command)
main.add_command(routing)
main.add_command(simulate)
main.add_command(triage)
main.add_command(users)
