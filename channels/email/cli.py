"""`stik email ...`: import an exported mailbox, read mailboxes and send once."""

import asyncio
import mailbox as mailboxes
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import click
from tqdm import tqdm

from channels.email.imap import MailboxReader
from channels.email.intake import ingest
from channels.email.maildrop import process_drop_folder
from channels.email.outbound import deliver_due, transport_for
from channels.email.settings import EmailSettings
from interactions.store import Store


@click.group()
def email() -> None:
    """Email: import mail, read mailboxes, send queued mail."""


def _settings(ctx: click.Context) -> tuple[EmailSettings, Store]:
    context = ctx.obj  # stik.cli.Context: settings and a store opened on demand
    return EmailSettings.from_settings(context.settings), context.store()


def _files(path: Path) -> list[Path]:
    """Return the mails in a folder: `*.eml` files, and every file in a Maildir's new/cur."""
    found = [
        p
        for p in path.rglob("*")
        if p.is_file()
        and not p.name.startswith(".")
        and (p.suffix.lower() == ".eml" or p.parent.name in ("new", "cur"))
    ]
    return sorted(found)


def _mbox(path: Path) -> Iterator[bytes]:
    box = mailboxes.mbox(str(path), create=False)
    try:
        for key in box.iterkeys():
            yield box.get_bytes(key)
    finally:
        box.close()


@email.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--acknowledge", is_flag=True, help="acknowledge new tickets (off: old mail)")
@click.pass_context
def import_(ctx: click.Context, path: Path, acknowledge: bool) -> None:
    """Load PATH (a folder of mails, a Maildir, or an mbox file); files stay where they are."""
    settings, store = _settings(ctx)
    settings = replace(settings, acknowledge=acknowledge and settings.acknowledge)

    files = _files(path) if path.is_dir() else None

    async def run() -> tuple[int, int]:
        created = total = 0
        try:
            if files is not None:
                for file in tqdm(files, unit="mail", desc="import"):
                    done = await ingest(store, file.read_bytes(), settings)
                    created, total = created + done.created, total + 1
            else:
                box = mailboxes.mbox(str(path), create=False)
                count = len(box)
                box.close()
                for raw in tqdm(_mbox(path), total=count, unit="mail", desc="import"):
                    done = await ingest(store, raw, settings)
                    created, total = created + done.created, total + 1
        finally:
            await store.close()
        return created, total

    created, total = asyncio.run(run())
    click.echo(f"{total} mails read, {created} new activities, {total - created} already there")


@email.command()
@click.pass_context
def fetch(ctx: click.Context) -> None:
    """Read the drop folder and every configured mailbox once, then send queued mail."""
    settings, store = _settings(ctx)

    async def run() -> str:
        transport = transport_for(settings)
        try:
            dropped = await process_drop_folder(store, settings, transport=transport)
            fetched = 0
            for mailbox in settings.mailboxes:
                reader = MailboxReader(store, settings, mailbox, transport)
                fetched += await reader.fetch_new()
            sent = await deliver_due(store, transport, settings)
        finally:
            await store.close()
        return f"{dropped.processed} from the drop folder, {fetched} from mailboxes, {sent} sent"

    click.echo(asyncio.run(run()))
