"""HTTP faces of the phone channel: Twilio's webhooks, the CTI hook, and agents' buttons.

Twilio posts form fields and expects TwiML back. Every request is checked against
X-Twilio-Signature first; a missing or wrong signature is 403, logged, and nothing is
stored. A database that cannot be reached is 503 (Twilio then tries the number's
fallback URL). Callbacks for a call Stik never saw ring — its first webhook was lost —
record the call from what they carry instead of dropping it.
"""

import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import wraps
from typing import Any

import structlog
from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from agent_ui.security import api, current_user
from agent_ui.users import Permission
from channels.fax import signing
from channels.phone import signature, twiml
from channels.phone.calls import CallDesk, UnknownCall
from channels.phone.settings import PhoneSettings
from interactions.models import Employee
from routing.models import Task

log = structlog.get_logger(__name__)

MAX_BODY = 64 * 1024
SID = re.compile(r"^[A-Za-z0-9._:@+-]{1,64}$")
UNAVAILABLE = (OperationalError, InterfaceError, DBAPIError, OSError)
CTI_EVENTS = ("incoming", "answered", "ended", "voicemail", "status")


@dataclass(frozen=True)
class PhoneChannel:
    desk: CallDesk
    settings: PhoneSettings
    public_url: str


PHONE = web.AppKey("phone_channel", PhoneChannel)


def _xml(body: str, status: int = 200) -> web.Response:
    return web.Response(text=body, status=status, content_type="text/xml", charset="utf-8")


def _refusal(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


async def _twilio_form(
    request: web.Request,
) -> tuple[MultiDictProxy[str], bytes] | web.Response:
    """The signed form Twilio posted with its raw bytes, or the refusal to answer with."""
    phone = request.app[PHONE]
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _refusal(413, "body too large")
    body = await request.read()
    if len(body) > MAX_BODY:
        return _refusal(413, "body too large")
    if request.method == "POST":
        if body and request.content_type != "application/x-www-form-urlencoded":
            return _refusal(415, "Twilio posts application/x-www-form-urlencoded")
        try:
            form: MultiDictProxy[Any] = await request.post()
        except (ValueError, UnicodeDecodeError):
            return _refusal(400, "unreadable form")
        signed: Any = form
    else:
        form, signed = MultiDictProxy(request.query.copy()), {}
    url = signature.public_url(request, phone.public_url)
    if not signature.valid(phone.settings.auth_token, url, signed, request.headers):
        log.warning(
            "twilio_signature_refused",
            path=request.path,
            present=signature.SIGNATURE_HEADER in request.headers,
        )
        return _refusal(403, "signature")
    if not SID.match(str(form.get("CallSid", ""))):
        return _refusal(400, "CallSid missing or malformed")
    return form, body


def _int(value: object) -> int | None:
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 9 else None


def _text(form: MultiDictProxy[str], name: str, limit: int = 500) -> str:
    return str(form.get(name, ""))[:limit]


async def _guarded(request: web.Request, work: Any) -> web.StreamResponse:
    try:
        return await work()
    except UNAVAILABLE:
        log.warning("phone_store_unavailable", path=request.path)
        return _refusal(503, "try again")


async def _ensure_known(request: web.Request, form: MultiDictProxy[str], body: bytes) -> None:
    """A callback for a call Stik never saw ring: record the call from the callback."""
    await _desk(request).arrive(
        _text(form, "CallSid", 64),
        _text(form, "From", 64),
        _text(form, "To", 64),
        raw=body,
        caller_name=_text(form, "CallerName", 200) or None,
        enqueue=False,
    )


TwilioHandler = Callable[[web.Request, MultiDictProxy[str], bytes], Awaitable[web.StreamResponse]]


def twilio_webhook(
    handler: TwilioHandler,
) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """Serve `handler(request, form, raw body)` only for a request Twilio signed.

    The refusals (403, 413, 415, 400) come before anything is read from the store, and a
    store that cannot be reached is a 503, so Twilio tries the number's fallback URL.
    """

    @wraps(handler)
    async def checked(request: web.Request) -> web.StreamResponse:
        found = await _twilio_form(request)
        if isinstance(found, web.Response):
            return found
        form, body = found
        return await _guarded(request, lambda: handler(request, form, body))

    return checked


def _desk(request: web.Request) -> CallDesk:
    return request.app[PHONE].desk


@twilio_webhook
async def voice(request: web.Request, form: MultiDictProxy[str], body: bytes) -> web.StreamResponse:
    """A call comes in: greet, and put the caller in line (or take a message after hours)."""
    plan = await _desk(request).arrive(
        _text(form, "CallSid", 64),
        _text(form, "From", 64),
        _text(form, "To", 64),
        raw=body,
        caller_name=_text(form, "CallerName", 200) or None,
    )
    if plan.kind == "closed":
        return _xml(twiml.voicemail(plan.language, plan.brand, "closed", plan.reopens))
    return _xml(twiml.enqueue(plan.language, plan.brand, plan.queue_name))


@twilio_webhook
async def status(
    request: web.Request, form: MultiDictProxy[str], body: bytes
) -> web.StreamResponse:
    desk = _desk(request)
    sid, state = _text(form, "CallSid", 64), _text(form, "CallStatus", 32)
    sequence = _int(form.get("SequenceNumber"))
    try:
        await desk.status(sid, state, sequence)
    except UnknownCall:
        await _ensure_known(request, form, body)
        await desk.status(sid, state, sequence)
    return _xml(twiml.empty())


@twilio_webhook
async def wait(request: web.Request, form: MultiDictProxy[str], _body: bytes) -> web.StreamResponse:
    phone = request.app[PHONE]
    try:
        action, hold = await phone.desk.waiting(
            _text(form, "CallSid", 64),
            _int(form.get("QueuePosition")),
            _int(form.get("AvgQueueTime")),
        )
    except UnknownCall:
        return _xml(twiml.leave())
    if action == "leave":
        return _xml(twiml.leave())
    return _xml(
        twiml.hold(
            hold["language"],
            hold["position"],
            hold["minutes"],
            hold["announce"],
            phone.settings.hold_music_url,
            phone.settings.wait_poll_seconds,
        )
    )


@twilio_webhook
async def queue_result(
    request: web.Request, form: MultiDictProxy[str], _body: bytes
) -> web.StreamResponse:
    """The caller left the line: put them through, take a message, or let them go."""
    try:
        exit_ = await _desk(request).left_queue(
            _text(form, "CallSid", 64), _text(form, "QueueResult", 32)
        )
    except UnknownCall:
        return _xml(twiml.empty())
    if exit_.kind == "connect":
        return _xml(twiml.connect(exit_.endpoint, _text(form, "To", 64) or None))
    if exit_.kind == "voicemail":
        return _xml(twiml.voicemail(exit_.language, exit_.brand, "busy"))
    return _xml(twiml.empty())


@twilio_webhook
async def voicemail(
    request: web.Request, form: MultiDictProxy[str], body: bytes
) -> web.StreamResponse:
    """The <Record> action: the message is kept and a call-back ticket opened."""
    desk = _desk(request)
    args = (
        _text(form, "CallSid", 64),
        _text(form, "RecordingUrl", 1000),
        _text(form, "RecordingSid", 64),
        _int(form.get("RecordingDuration")),
    )
    try:
        language = await desk.message_left(*args)
    except UnknownCall:
        await _ensure_known(request, form, body)
        language = await desk.message_left(*args)
    return _xml(twiml.thanks(language))


@twilio_webhook
async def recording(
    request: web.Request, form: MultiDictProxy[str], _body: bytes
) -> web.StreamResponse:
    try:
        await _desk(request).recording(
            _text(form, "CallSid", 64),
            _text(form, "RecordingUrl", 1000),
            _text(form, "RecordingSid", 64),
            _int(form.get("RecordingDuration")),
            _text(form, "RecordingStatus", 32),
        )
    except UnknownCall:
        log.warning("recording_for_unknown_call")
    return _xml(twiml.empty())


@twilio_webhook
async def transcription(
    request: web.Request, form: MultiDictProxy[str], _body: bytes
) -> web.StreamResponse:
    try:
        await _desk(request).transcribed(
            _text(form, "CallSid", 64),
            _text(form, "TranscriptionText", 20000),
            _text(form, "TranscriptionStatus", 32),
        )
    except UnknownCall:
        log.warning("transcription_for_unknown_call")
    return _xml(twiml.empty())


# The generic CTI hook, for a PBX that is not Twilio.


async def cti_event(request: web.Request) -> web.StreamResponse:
    """A signed JSON event from an on-premise PBX: the same call life as Twilio's.

    Body: `{"event": "incoming"|"answered"|"ended"|"voicemail"|"status", "call_id": "...",
    "from": "...", "to": "...", "agent": "login", "status": "...", "recording_url": "...",
    "recording_seconds": 0}`; headers `X-Stik-Timestamp` and `X-Stik-Signature` (hex
    HMAC-SHA256 of `timestamp.body` under `[phone] cti_secret`).
    """
    phone = request.app[PHONE]
    if request.content_length is not None and request.content_length > MAX_BODY:
        return _refusal(413, "body too large")
    body = await request.read()
    if not body:
        return _refusal(400, "body missing")
    if len(body) > MAX_BODY:
        return _refusal(413, "body too large")
    stamp = request.headers.get("X-Stik-Timestamp")
    if not signing.check(
        phone.settings.cti_secret, stamp, request.headers.get("X-Stik-Signature"), body
    ):
        log.warning("cti_signature_refused")
        return _refusal(403, "signature")
    try:
        event = json.loads(body)
    except (ValueError, RecursionError):
        return _refusal(400, "body is not JSON (or nested too deeply)")
    if not isinstance(event, dict):
        return _refusal(400, "body is not a JSON object")
    kind, call_id = event.get("event"), event.get("call_id")
    if kind not in CTI_EVENTS:
        return _refusal(400, f"event must be one of {', '.join(CTI_EVENTS)}")
    if not isinstance(call_id, str) or not SID.match(call_id):
        return _refusal(400, "call_id missing or malformed")
    for name in ("from", "to", "agent", "status", "recording_url"):
        if event.get(name) is not None and not isinstance(event[name], str):
            return _refusal(400, f"{name} must be a string")

    async def work() -> web.StreamResponse:
        return await _cti(request, phone, kind, call_id, event, body)

    return await _guarded(request, work)


async def _cti(
    request: web.Request,
    phone: PhoneChannel,
    kind: str,
    call_id: str,
    event: dict[str, Any],
    body: bytes,
) -> web.StreamResponse:
    desk = phone.desk
    if kind == "incoming":
        plan = await desk.arrive(
            call_id,
            event.get("from"),
            event.get("to"),
            raw=body,
            source="cti",
            caller_name=event.get("caller_name"),
        )
        offered = await _offered_login(desk, plan.activity_id)
        return web.json_response(
            {
                "activity_id": plan.activity_id,
                "plan": plan.kind,
                "queue": plan.queue_name,
                "language": plan.language,
                "offered_to": offered,
            },
            status=201 if plan.created else 200,
        )
    try:
        if kind == "answered":
            agent_id = await _employee_id(desk, event.get("agent"))
            await desk.answered_by(call_id, agent_id, source="cti")
        elif kind == "ended":
            await desk.ended(call_id, str(event.get("status") or "completed"), source="cti")
        elif kind == "voicemail":
            seconds = event.get("recording_seconds")
            await desk.message_left(
                call_id,
                str(event.get("recording_url") or "")[:1000],
                "",
                seconds if isinstance(seconds, int) and not isinstance(seconds, bool) else None,
                source="cti",
            )
        else:
            await desk.status(call_id, str(event.get("status") or ""), source="cti")
    except UnknownCall:
        return _refusal(404, "no such call: send its incoming event first")
    return web.json_response({"ok": True})


async def _offered_login(desk: CallDesk, activity_id: int) -> str | None:
    async with desk.store.sessions() as session:
        return await session.scalar(
            select(Employee.login)
            .join(Task, Task.agent_id == Employee.id)
            .where(Task.activity_id == activity_id)
            .order_by(Task.id.desc())
            .limit(1)
        )


async def _employee_id(desk: CallDesk, login: object) -> int | None:
    if not isinstance(login, str) or not login:
        return None
    async with desk.store.sessions() as session:
        return await session.scalar(select(Employee.id).where(Employee.login == login[:64]))


# What agents press.


def _task_id(request: web.Request) -> int:
    raw = request.match_info["task_id"]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    return int(raw)


@api(Permission.WORK_TICKETS)
async def accept_call(request: web.Request) -> web.StreamResponse:
    """The agent takes the call ringing on their screen."""
    user = current_user(request)
    desk = request.app[PHONE].desk
    task_id = _task_id(request)
    if not await desk.accept(task_id, user.id, now=datetime.now(UTC)):
        return _refusal(409, "this call is no longer ringing for you")
    async with desk.store.sessions() as session:
        activity_id = await session.scalar(select(Task.activity_id).where(Task.id == task_id))
    return web.json_response({"accepted": True, "activity_id": activity_id})


@api(Permission.WORK_TICKETS)
async def decline_call(request: web.Request) -> web.StreamResponse:
    """The agent turns the call down; routing offers it to the next agent."""
    user = current_user(request)
    if not await request.app[PHONE].desk.decline(_task_id(request), user.id):
        return _refusal(409, "this call is no longer ringing for you")
    return web.json_response({"declined": True})
