"""Command-line entry points of the store: `stik import ...` and `stik demo-data`.

The composition root (`stik.cli`) registers them; they reach the database through
the context object it sets up (anything with a `store()` method returning a Store).
"""

import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from interactions.demo import count_staff, has_partners, load_demo_data
from interactions.importer import METERING_POINTS, PARTNERS, Entity, Rejection, import_file
from interactions.store import Store

#: Where `stik demo-data` reads the demo staff's password from, and its default.
DEMO_PASSWORD_ENV = "STIK_DEMO_PASSWORD"
DEFAULT_DEMO_PASSWORD = "stik-demo-2026"


def open_store() -> Store:
    store: Store = click.get_current_context().obj.store()
    return store


def run_import(entity: Entity, path: Path, as_json: bool, progress: bool) -> None:
    def on_reject(rejection: Rejection) -> None:
        click.echo(f"{path.name}: {rejection}", err=True)

    async def run() -> Any:
        store = open_store()
        try:
            return await import_file(store, entity, path, progress=progress, on_reject=on_reject)
        finally:
            await store.close()

    report = asyncio.run(run())
    if as_json:
        json.dump(report.as_dict(), sys.stdout, sort_keys=True)
        sys.stdout.write("\n")
    else:
        click.echo(report.summary())
    if report.error:
        raise SystemExit(2)


@click.group(name="import")
def import_group() -> None:
    """Import partners and metering points from an ERP export (CSV or JSON lines).

    Bad rows are reported on stderr with their line number and reason; the rest
    are upserted, so importing the same file again changes nothing.
    """


_json_option = click.option("--json", "as_json", is_flag=True, help="summary as one JSON object")
_progress_option = click.option(
    "--progress/--no-progress", default=True, help="show a progress bar on stderr"
)
_file_argument = click.argument(
    "file", type=click.Path(exists=True, dir_okay=False, path_type=Path)
)


@import_group.command()
@_file_argument
@_json_option
@_progress_option
def partners(file: Path, as_json: bool, progress: bool) -> None:
    """Upsert partners by external_id (columns: see interactions.importer)."""
    run_import(PARTNERS, file, as_json, progress)


@import_group.command(name="metering-points")
@_file_argument
@_json_option
@_progress_option
def metering_points(file: Path, as_json: bool, progress: bool) -> None:
    """Upsert metering points by EIMM, with meters, roles and contracts."""
    run_import(METERING_POINTS, file, as_json, progress)


@click.command(name="demo-data")
@click.option("--partners", type=click.IntRange(1), default=2000, show_default=True)
@click.option("--seed", type=int, default=1, show_default=True, help="same seed, same book")
@click.option("--if-empty", is_flag=True, help="do nothing when partners exist")
@_progress_option
def demo_data(partners: int, seed: int, if_empty: bool, progress: bool) -> None:
    """Load a realistic Slovenian book of business, staff, queues and SLA policies.

    The demo staff sign in with the password in STIK_DEMO_PASSWORD, or with the
    default printed when they are added; only demo data ever gets this password.
    """
    # The workspace owns password hashing; the demo only borrows it for its staff.
    from agent_ui.users import hash_password

    password = os.environ.get(DEMO_PASSWORD_ENV) or DEFAULT_DEMO_PASSWORD
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise click.ClickException(f"{DEMO_PASSWORD_ENV}: {exc}") from None

    async def run() -> str:
        store = open_store()
        try:
            if if_empty and await has_partners(store):
                return "partners exist; demo data not loaded"
            staff_before = await count_staff(store)
            with tempfile.TemporaryDirectory(prefix="stik-demo-") as folder:
                reports = await load_demo_data(
                    store,
                    Path(folder),
                    partners,
                    seed,
                    progress=progress,
                    password_hash=password_hash,
                )
            lines = [report.summary() for report in reports]
            if await count_staff(store) > staff_before:
                shown = f"${DEMO_PASSWORD_ENV}" if DEMO_PASSWORD_ENV in os.environ else password
                lines.append(
                    f"demo staff sign in at /login as supplier.back1, dso.call1, ... "
                    f"(see `stik users list`) with the password {shown}"
                )
            return "\n".join(lines)
        finally:
            await store.close()

    click.echo(asyncio.run(run()))
