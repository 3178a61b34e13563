"""The drop folder a batch scanner writes into (`<data dir>/scans/`), read in the background.

A file is taken once it has not changed for a moment: it is moved into `.processing/`
(an atomic rename, so two nodes sharing the folder never both take it), recorded, then
moved to `done/`. A file that is no scan goes to `rejected/` with a note of why; while
the database is away, files go back to the folder and are tried again later.
"""

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from sqlalchemy.exc import DBAPIError, OperationalError

from channels.post.service import NotAScan, import_scan
from interactions.store import Store

log = structlog.get_logger(__name__)

SETTLE_SECONDS = 2.0
MAX_SCAN_BYTES = 50 * 1024 * 1024


def folders(root: Path) -> dict[str, Path]:
    names = {"processing": ".processing", "done": "done", "rejected": "rejected"}
    paths = {key: root / name for key, name in names.items()}
    for path in (root, *paths.values()):
        path.mkdir(parents=True, exist_ok=True)
    return paths


def ready_files(root: Path, now: float | None = None) -> list[Path]:
    """Files in the folder itself, not hidden, unchanged for `SETTLE_SECONDS`."""
    current = now if now is not None else time.time()
    found = []
    for entry in os.scandir(root):
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue
        if current - entry.stat().st_mtime >= SETTLE_SECONDS:
            found.append(Path(entry.path))
    return sorted(found)


async def process_folder(store: Store, root: Path) -> int:
    """Take every settled file once; return how many were recorded or rejected."""
    paths = folders(root)
    handled = 0
    for path in ready_files(root):
        claimed = paths["processing"] / path.name
        try:
            os.rename(path, claimed)
        except FileNotFoundError:
            continue  # another node took it
        try:
            await _process(store, claimed, paths)
        except (OperationalError, DBAPIError, OSError):
            os.rename(claimed, path)
            log.warning("scan_folder_store_unavailable")
            raise
        handled += 1
    return handled


async def _process(store: Store, claimed: Path, paths: dict[str, Path]) -> None:
    size = await asyncio.to_thread(os.path.getsize, claimed)
    if size > MAX_SCAN_BYTES:
        _reject(claimed, paths, f"larger than {MAX_SCAN_BYTES // 2**20} MB")
        return
    data = await asyncio.to_thread(claimed.read_bytes)
    try:
        await import_scan(store, data, claimed.name, meta={"source": "scan_folder"})
    except NotAScan as exc:
        _reject(claimed, paths, str(exc))
        return
    os.replace(claimed, _free_name(paths["done"], claimed.name))


def _reject(claimed: Path, paths: dict[str, Path], reason: str) -> None:
    target = _free_name(paths["rejected"], claimed.name)
    os.replace(claimed, target)
    target.with_name(target.name + ".reason.txt").write_text(reason + "\n")
    log.warning("scan_rejected", file=target.name, reason=reason)


def _free_name(folder: Path, name: str) -> Path:
    target = folder / name
    stem, suffix, n = target.stem, target.suffix, 1
    while target.exists():
        target = folder / f"{stem}-{n}{suffix}"
        n += 1
    return target


async def watch(store: Store, root: Path, interval: float = 2.0) -> None:
    """Process the folder every `interval` seconds, backing off while the database is away."""
    delay = interval
    while True:
        try:
            await process_folder(store, root)
            delay = interval
        except (OperationalError, DBAPIError, OSError):
            delay = min(delay * 2, 60.0)
        except Exception:
            log.exception("scan_folder_failed")
            delay = min(delay * 2, 60.0)
        await asyncio.sleep(delay)


@contextlib.asynccontextmanager
async def watching(store: Store, root: Path, interval: float = 2.0) -> AsyncIterator[None]:
    task = asyncio.create_task(watch(store, root, interval))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
