"""Phone: Twilio's voice webhooks, a generic CTI hook, call queueing and the screen-pop."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from channels.phone import twiml
from channels.phone.calls import CallDesk
from channels.phone.screen_pop import ScreenPops
from channels.phone.settings import PhoneSettings
from channels.phone.views import (
    PHONE,
    PhoneChannel,
    accept_call,
    cti_event,
    decline_call,
    queue_result,
    recording,
    status,
    transcription,
    voice,
    voicemail,
    wait,
)

log = structlog.get_logger(__name__)


def setup(app: web.Application) -> None:
    """Register the webhooks; call after routing's setup, whose engine queues the calls.

    Without `[phone] auth_token` only calls signed with the installation's local token
    (`stik call`) are taken and Twilio's are refused (403); without `cti_secret` every
    CTI event is refused. The routes exist either way, so a misconfiguration is loud.
    """
    from routing.tasks import ENGINE
    from stik.app import SETTINGS, STORE

    settings = app[SETTINGS]
    phone = PhoneSettings.load(settings.extra.get("phone"), settings.data_dir)
    engine = app.get(ENGINE)
    if engine is None:
        log.info("phone_without_routing")  # calls are recorded and queued, never offered
    desk = CallDesk(app[STORE], phone, engine)
    app[PHONE] = PhoneChannel(desk, phone, settings.public_url)
    ScreenPops(app[STORE], desk).install()
    if phone.token_source == "local":
        log.warning("phone_local_token_only", hint="set [phone] auth_token for Twilio")

    async def sweeping(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(_sweep_gone(desk))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(sweeping)

    r = app.router
    for path, handler in (
        (twiml.VOICE, voice),
        (twiml.STATUS, status),
        (twiml.WAIT, wait),
        (twiml.QUEUE_RESULT, queue_result),
        (twiml.VOICEMAIL, voicemail),
        (twiml.RECORDING, recording),
        (twiml.TRANSCRIPTION, transcription),
    ):
        r.add_post(path, handler)
    r.add_get(twiml.VOICE, voice)  # a number configured for GET webhooks
    r.add_post("/phone/cti/events", cti_event)
    r.add_post("/calls/{task_id}/accept", accept_call)
    r.add_post("/calls/{task_id}/decline", decline_call)


SWEEP_EVERY_S = 30.0


async def _sweep_gone(desk: CallDesk) -> None:
    """End calls whose caller is long gone without a callback; every node may run it."""
    while True:
        await asyncio.sleep(SWEEP_EVERY_S)
        try:
            await desk.sweep_gone()
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("phone_sweep_failed")
