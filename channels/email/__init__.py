"""The email channel: IMAP and drop-folder intake, threading, robots, SMTP replies."""

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

#: The running `EmailService` (readers, sender, outgoing transport).
EMAIL: web.AppKey[Any] = web.AppKey("email")
#: With SMTP configured, the `ChannelSender` other packages hand whole mails to.
OUTGOING: web.AppKey[Any] = web.AppKey("email_outgoing")


def setup(app: web.Application) -> None:
    """Run the email readers and sender for the lifetime of `app`.

    With an SMTP server configured, the workspace's replies and the web form's
    acknowledgements go out through this channel too (kept, recorded, retried); without
    one they stay with the embedded default, .eml files in the outbox folder.
    """
    from agent_ui.keys import SENDER
    from channels.email.outbound import ChannelSender, transport_for
    from channels.email.settings import EmailSettings
    from stik.app import SETTINGS, STORE

    settings = EmailSettings.from_settings(app[SETTINGS])
    if settings.enabled and settings.smtp is not None:
        sender = ChannelSender(app[STORE], settings, transport_for(settings))
        app[OUTGOING] = sender
        app[SENDER] = sender
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
