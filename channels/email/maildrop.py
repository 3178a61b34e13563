"""The embedded intake: a Maildir-style drop folder of raw mails (`var/maildrop/`).

Files in `new/` (and loose `*.eml` files in the folder itself) are ingested in name
order and moved to `cur/` only after their activity is committed; a crash in between
re-ingests the file, which the Message-ID makes harmless.
"""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from channels.email.intake import ingest
from channels.email.outbound import Transport
from channels.email.settings import EmailSettings
from interactions.store import Store

log = structlog.get_logger(__name__)


@dataclass
class DropResult:
    processed: int = 0
    refused: int = 0


def prepare(folder: Path) -> None:
    """Create the Maildir folders `tmp/`, `new/` and `cur/` under `folder`."""
    for sub in ("tmp", "new", "cur"):
        (folder / sub).mkdir(parents=True, exist_ok=True)


def waiting(folder: Path) -> list[Path]:
    """Return the mails waiting in `folder`, oldest name first."""
    found: list[Path] = []
    new = folder / "new"
    if new.is_dir():
        found += [p for p in new.iterdir() if p.is_file() and not p.name.startswith(".")]
    if folder.is_dir():
        found += [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == ".eml"]
    return sorted(found, key=lambda p: (p.parent != new, p.name))


async def process_drop_folder(
    store: Store,
    settings: EmailSettings,
    folder: Path | None = None,
    transport: Transport | None = None,
) -> DropResult:
    """Ingest every waiting mail; a database error stops the run and is raised."""
    folder = folder or settings.maildrop
    await asyncio.to_thread(prepare, folder)
    result = DropResult()
    for path in await asyncio.to_thread(waiting, folder):
        try:
            raw = await asyncio.to_thread(path.read_bytes)
        except OSError as exc:
            log.warning("maildrop_unreadable", file=path.name, error=type(exc).__name__)
            continue
        done = await ingest(store, raw, settings, transport=transport)
        await asyncio.to_thread(_move_to_cur, path, folder)
        result.processed += 1
        result.refused += done.refused is not None
    if result.processed:
        log.info("maildrop_processed", count=result.processed, refused=result.refused)
    return result


def _move_to_cur(path: Path, folder: Path) -> None:
    target = folder / "cur" / (path.name if ":2," in path.name else f"{path.name}:2,S")
    os.replace(path, target)
