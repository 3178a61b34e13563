"""Scanned letters: the agents' upload page, the scanner's drop folder, OCR, `stik post`."""

from collections.abc import AsyncIterator

from aiohttp import web

from channels.post.tasks import watching
from channels.post.views import post_upload, show_upload


def setup(app: web.Application) -> None:
    """Register the upload page and watch `<data dir>/scans/` while the app runs."""
    from stik.app import SETTINGS, STORE

    app.router.add_get("/post/upload", show_upload)
    app.router.add_post("/post/upload", post_upload)

    config = app[SETTINGS].extra.get("post", {})
    if not config.get("watch", True):
        return
    folder = app[SETTINGS].data_dir / "scans"
    interval = float(config.get("interval_seconds", 2.0))

    async def watch_scans(app: web.Application) -> AsyncIterator[None]:
        async with watching(app[STORE], folder, interval):
            yield

    app.cleanup_ctx.append(watch_scans)
