"""The embedded intake: a Maildir-style drop folder of raw mails (`var/maildrop/`).

Files in `new/` (and loose `*.eml` files in the folder itself) are ingested and moved
to `cur/` only after their activity is committed; a crash in between re-ingests the
file, which the Message-ID makes harmless. Mails of one sender go in name order, one
after the other, so that an answer never overtakes the mail it answers; different
senders are ingested side by side.
"""

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path

import structlog

from channels.email.intake import ingest
from channels.email.outbound import Transport
from channels.email.parse import ParsedMail, parse_mail
from channels.email.settings import EmailSettings
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

#: Mails read and parsed at a time: a big backlog is not held in memory at once.
# TODO(#4): ingest is bound by record_contact's three commits per contact (about 20-35
# contacts/s on the shared 2-core machine); 300 mails/s needs batched commits there.
CHUNK = 200


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
    concurrency: int = 8,
) -> DropResult:
    """Ingest every waiting mail; a database error stops the run and is raised."""
    folder = folder or settings.maildrop
    await asyncio.to_thread(prepare, folder)
    result = DropResult()
    paths = await asyncio.to_thread(waiting, folder)
    for start in range(0, len(paths), CHUNK):
        lanes = await asyncio.to_thread(_read_lanes, paths[start : start + CHUNK])
        gate = asyncio.Semaphore(concurrency)

        async def run(
            lane: list[tuple[Path, bytes, ParsedMail]], gate: asyncio.Semaphore = gate
        ) -> None:
            async with gate:
                for path, raw, mail in lane:
                    done = await ingest(store, raw, settings, transport=transport, parsed=mail)
                    await asyncio.to_thread(_move_to_cur, path, folder)
                    result.processed += 1
                    result.refused += done.refused is not None

        outcomes = await asyncio.gather(*(run(lane) for lane in lanes), return_exceptions=True)
        if failed := next((o for o in outcomes if isinstance(o, BaseException)), None):
            raise failed
    if result.processed:
        log.info("maildrop_processed", count=result.processed, refused=result.refused)
    return result


def _read_lanes(paths: list[Path]) -> list[list[tuple[Path, bytes, ParsedMail]]]:
    """Read and parse mails, grouped by sender (blocking; run in a thread)."""
    lanes: dict[str, list[tuple[Path, bytes, ParsedMail]]] = {}
    now = utcnow()
    for path in paths:
        try:
            raw = path.read_bytes()
        except OSError as exc:
            log.warning("maildrop_unreadable", file=path.name, error=type(exc).__name__)
            continue
        mail = parse_mail(raw, now)
        lanes.setdefault(mail.sender_address or "", []).append((path, raw, mail))
    return list(lanes.values())


def _move_to_cur(path: Path, folder: Path) -> None:
    target = folder / "cur" / (path.name if ":2," in path.name else f"{path.name}:2,S")
    os.replace(path, target)
