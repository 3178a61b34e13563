"""`stik post import FILE...`: load scanned letters from the command line."""

import asyncio
import sys
from pathlib import Path

import click
from tqdm import tqdm

from channels.post.service import NotAScan, ScanResult, import_scan
from interactions.store import Store


@click.group()
def post() -> None:
    """Letters: scanned post read by OCR."""


@post.command("import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.pass_obj
def import_files(ctx: object, files: tuple[str, ...]) -> None:
    """Read and record each FILE (PDF, TIFF, PNG, JPEG); print its activity, partner, category."""
    store: Store = ctx.store()  # type: ignore[attr-defined]

    async def run() -> int:
        failures = 0
        try:
            bar = tqdm(files, unit="scan", disable=len(files) < 2, file=sys.stderr)
            for name in bar:
                path = Path(name)
                try:
                    data = await asyncio.to_thread(path.read_bytes)
                    result = await import_scan(store, data, path.name)
                except NotAScan as exc:
                    failures += 1
                    tqdm.write(f"{path.name}: refused, {exc}")
                    continue
                tqdm.write(line(result))
        finally:
            await store.close()
        return failures

    if asyncio.run(run()):
        raise SystemExit(1)


def line(result: ScanResult) -> str:
    """One line per scan: the file, activity, ticket, partner, category and OCR confidence."""
    partner = (
        f"partner {result.partner_id} {result.partner_name}"
        if result.partner_id
        else f"partner none ({result.match_outcome})"
    )
    readable = "" if result.readable else ", unreadable: queued for a person"
    again = "" if result.created else " (already recorded)"
    return (
        f"{result.filename}: activity {result.activity_id}{again}, "
        f"ticket {result.ticket_number or '-'}, {partner}, "
        f"category {result.category or 'none'}, confidence {result.confidence:.2f}{readable}"
    )
