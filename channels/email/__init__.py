"""The email channel: IMAP and drop-folder intake, threading, robots, SMTP replies."""

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

#: The running `EmailService` (readers, sender, outgoing transport).
EMAIL: web.AppKey[Any] = web.AppKey("email")


def setup(app: web.Application) -> None:
    """Run the email readers and sender for the lifetime of `app`."""
    app.cleanup_ctx.append(_background)


async def _background(app: web.Application) -> AsyncIterator[None]:
    from channels.email.settings import EmailSettings
    from channels.email.tasks import EmailService
    from stik.app import READINESS, SETTINGS, STORE

    settings = EmailSettings.from_settings(app[SETTINGS])
    service = EmailService(app[STORE], settings)
    app[EMAIL] = service
    app[READINESS]["email"] = service.report
    if settings.enabled:
        service.start()
    yield
    await service.stop()
