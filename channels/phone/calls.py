"""A call's life, from the first ring to the hang-up, kept on its Activity.

The call is an Activity at once (channel phone, external id the CallSid), recorded
through `record_contact`, so the matcher resolves the caller's number like any other
contact. Everything after that is written into `Activity.meta["call"]`, always in
Stik's own clock (one time base for the dashboards):

    sid, source (twilio | cti), from (E.164 or null), from_raw, caller_kind
    (number | withheld | client | invalid), to, queue_id, plan (queue | closed),
    arrived_at, queued_at, offered_at, answered_at, ended_at, agent_id,
    wait_seconds   queued -> answered, or queued -> ended when nobody answered
    talk_seconds   answered -> ended
    wrap_up_seconds  ended -> wrap-up saved
    outcome        null while live, then answered | abandoned | voicemail |
                   out_of_hours | busy | failed | no-answer | canceled
    status, sequence  the telephony side's last status and its sequence number
    recording {url, sid, seconds, status}, transcript, events (keys already applied)

Every change is one short transaction with the activity row locked, so retried and
duplicate callbacks change nothing, and events go on the bus only after the commit:
`call.queued`, `call.answered`, `call.ended`.
"""

import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import phonenumbers
import structlog
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from channels.phone.settings import PhoneSettings
from interactions.contacts import InboundContact, record_contact
from interactions.db import retrying
from interactions.models import (
    Activity,
    Calendar,
    Channel,
    Employee,
    LegalEntity,
    Partner,
    Queue,
    Ticket,
    TicketKind,
    TicketStatus,
)
from interactions.store import Store
from interactions.tickets import allocate_ticket_number
from interactions.types import utcnow
from routing.calendars import BusinessCalendar, CalendarError
from routing.engine import RoutingEngine
from routing.models import Task, TaskState

log = structlog.get_logger(__name__)

#: What carriers and Twilio put in From when the caller hides their number.
WITHHELD = frozenset(
    {
        "",
        "anonymous",
        "restricted",
        "unknown",
        "private",
        "unavailable",
        "blocked",
        "+266696687",
        "+7378742833",
        "+2562533",
        "+8656696",
        "+86282452253",
    }
)
TERMINAL = frozenset({"completed", "busy", "failed", "no-answer", "canceled"})
ANNOUNCE_EVERY_S = 60
LINE_CACHE_SECONDS = 5.0
#: How often a waiting caller's "still there" is written (Twilio polls the wait URL).
HEARD_EVERY_S = 10
#: A Twilio caller not heard of for this long has gone, though no callback said so.
GONE_AFTER_S = 600
MAX_SID = 64


class UnknownCall(LookupError):
    """A callback for a call Stik never saw ring."""


@dataclass(frozen=True)
class Plan:
    """What the caller hears first: the line (`queue`) or the closed message (`closed`)."""

    kind: str
    language: str
    brand: str
    queue_name: str
    activity_id: int
    created: bool
    reopens: datetime | None = None


@dataclass(frozen=True)
class Exit:
    """Where a caller who left the line goes: `connect`, `voicemail` or `hangup`."""

    kind: str
    language: str = "sl"
    brand: str = ""
    endpoint: str = ""


def caller_number(raw: str | None) -> tuple[str | None, str]:
    """Return the caller's E.164 number (or None) and what kind of caller id it was."""
    value = (raw or "").strip()
    if value.lower() in WITHHELD:
        return None, "withheld"
    if value.lower().startswith(("client:", "sip:")):
        return None, "client"
    text = "+" + value[2:] if value.startswith("00") else value
    try:
        number = phonenumbers.parse(text, "SI")
    except phonenumbers.NumberParseException:
        return None, "invalid"
    if not phonenumbers.is_valid_number(number):
        return None, "invalid"
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), "number"


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


def _at(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round(max(0.0, (end - start).total_seconds()), 3)


def call_event(activity: Activity) -> dict[str, Any]:
    """The payload of `call.*` events: the figures the dashboards count."""
    call = (activity.meta or {}).get("call", {})
    return {
        "activity_id": activity.id,
        "queue_id": call.get("queue_id"),
        "legal_entity": activity.legal_entity,
        "outcome": call.get("outcome"),
        "arrived_at": call.get("arrived_at"),
        "queued_at": call.get("queued_at"),
        "answered_at": call.get("answered_at"),
        "ended_at": call.get("ended_at"),
        "wait_seconds": call.get("wait_seconds"),
        "talk_seconds": call.get("talk_seconds"),
        "agent_id": call.get("agent_id"),
    }


class CallDesk:
    """The phone channel's logic, shared by the Twilio webhooks, the CTI hook and agents."""

    def __init__(
        self, store: Store, settings: PhoneSettings, engine: RoutingEngine | None = None
    ) -> None:
        self.store = store
        self.settings = settings
        self.engine = engine
        self._lines: dict[tuple[str, str | None], _LineView] = {}

    def forget(self) -> None:
        """Drop cached lines (queues, calendars, brands); the next call reads them again."""
        self._lines.clear()

    # The call comes in.

    async def arrive(
        self,
        sid: str,
        caller: str | None,
        dialled: str | None,
        *,
        raw: bytes,
        source: str = "twilio",
        caller_name: str | None = None,
        enqueue: bool = True,
        now: datetime | None = None,
    ) -> Plan:
        """Record the call, choose its queue, and put it in line unless the line is closed.

        `enqueue=False` records a call known only from a later callback (its first
        webhook was lost): it is kept, but not put in line any more.
        """
        now = now or utcnow()
        number, kind = caller_number(caller)
        line = self.settings.line(dialled)
        entity = line.legal_entity if line else self.store.default_legal_entity
        call: dict[str, Any] = {
            "sid": sid,
            "source": source,
            "from": number,
            "from_raw": (caller or "")[:64],
            "caller_kind": kind,
            "to": (dialled or "")[:64],
            "arrived_at": _iso(now),
            "queued_at": None,
            "offered_at": None,
            "answered_at": None,
            "ended_at": None,
            "agent_id": None,
            "wait_seconds": None,
            "talk_seconds": None,
            "wrap_up_seconds": None,
            "outcome": None,
            "status": "ringing",
            "sequence": -1,
            "events": ["arrive"],
        }
        recorded = await record_contact(
            self.store,
            InboundContact(
                channel=Channel.PHONE,
                external_id=self.external_id(sid, source),
                occurred_at=now,
                sender_address=number,
                sender_name=(caller_name or None),
                recipient=dialled or None,
                legal_entity=entity,
                raw=raw,
                meta={"call": call},
            ),
        )
        if not recorded.created:
            return await self._plan_of(recorded.activity_id)

        async def decide() -> tuple[Plan, int | None, str | None, dict[str, Any]]:
            async with self.store.sessions() as session, session.begin():
                activity = await session.get_one(
                    Activity, recorded.activity_id, with_for_update=True
                )
                language = await _language(session, activity, number)
                view = await self._line_of(session, entity, line.queue if line else None)
                closed, reopens = _closed(view.calendar, now)
                current = dict(activity.meta.get("call", call))
                current.update(
                    queue_id=view.queue_id,
                    plan="closed" if closed else "queue",
                    language=language,
                    queued_at=None if closed else _iso(now),
                    reopens=_iso(reopens),
                )
                if closed:
                    current["outcome"] = "out_of_hours"
                activity.meta = {**activity.meta, "call": current}
                activity.language = activity.language or language
                plan = Plan(
                    kind="closed" if closed else "queue",
                    language=language,
                    brand=view.brand,
                    queue_name=view.queue_code,
                    activity_id=activity.id,
                    created=True,
                    reopens=reopens,
                )
                queued = {**call_event(activity), "outcome": None}
                return plan, view.queue_id, activity.legal_entity, queued

        plan, queue_id, legal_entity, queued = await retrying(decide)
        log.info("call_arrived", activity_id=plan.activity_id, plan=plan.kind, caller=kind)
        if plan.kind == "queue" and enqueue:
            if self.engine is not None:
                await self.engine.enqueue_call(
                    legal_entity or entity,
                    queue_id,
                    activity_id=plan.activity_id,
                    language=plan.language,
                    now=now,
                )
            if self.engine is not None:
                await self.engine.assign_next(now)  # one decision; the sweep makes the rest
            await self.store.bus.publish("call.queued", queued)
        return plan

    @staticmethod
    def external_id(sid: str, source: str) -> str:
        return sid if source == "twilio" else f"{source}:{sid}"

    async def _plan_of(self, activity_id: int) -> Plan:
        async with self.store.sessions() as session:
            activity = await session.get_one(Activity, activity_id)
            brand = await session.scalar(
                select(LegalEntity.brand).where(LegalEntity.code == activity.legal_entity)
            )
            call = (activity.meta or {}).get("call", {})
            queue_name = None
            if call.get("queue_id") is not None:
                queue_name = await session.scalar(
                    select(Queue.code).where(Queue.id == call["queue_id"])
                )
        return Plan(
            kind=call.get("plan", "queue"),
            language=call.get("language", "sl"),
            brand=brand or "",
            queue_name=queue_name or f"{activity.legal_entity}-calls",
            activity_id=activity_id,
            created=False,
            reopens=_at(call.get("reopens")),
        )

    # While the caller waits.

    async def waiting(
        self,
        sid: str,
        position: int | None,
        average_wait_s: float | None,
        source: str = "twilio",
        now: datetime | None = None,
    ) -> tuple[str, dict[str, Any]]:
        """Return `("leave", {})` when the caller should leave the line, else what to play."""
        now = now or utcnow()

        async def look() -> tuple[str, dict[str, Any]]:
            async with self.store.sessions() as session, session.begin():
                activity = await self._find(session, sid, source, lock=True)
                call = dict(activity.meta.get("call", {}))
                state = await _latest_task(session, activity.id, Task.state)
                if call.get("accepted_by") or call.get("ended_at") or state == TaskState.VOICEMAIL:
                    return "leave", {}
                last = call.get("announced") or [None, None]
                since = _at(last[1])
                announce = last[0] != position or (
                    since is None or (now - since).total_seconds() >= ANNOUNCE_EVERY_S
                )
                heard = _at(call.get("heard_at"))
                if announce:
                    call["announced"] = [position, _iso(now)]
                if announce or heard is None or (now - heard).total_seconds() >= HEARD_EVERY_S:
                    call["heard_at"] = _iso(now)  # the caller is still on the line
                    activity.meta = {**activity.meta, "call": call}
                expected = average_wait_s if average_wait_s else (position or 1) * 60
                return "hold", {
                    "language": call.get("language", "sl"),
                    "position": position,
                    "minutes": math.ceil(expected / 60),
                    "announce": announce,
                }

        return await retrying(look)

    async def left_queue(
        self, sid: str, result: str, source: str = "twilio", now: datetime | None = None
    ) -> Exit:
        """The caller left the line (Twilio's QueueResult): put through, voicemail or gone."""
        now = now or utcnow()
        result = result.strip().lower()
        if result == "hangup":
            await self.ended(sid, "abandoned", source=source, now=now)
            return Exit("hangup")
        async with self.store.sessions() as session:
            activity = await self._find(session, sid, source)
            call = (activity.meta or {}).get("call", {})
            brand = await session.scalar(
                select(LegalEntity.brand).where(LegalEntity.code == activity.legal_entity)
            )
            login = None
            if call.get("agent_id") is not None:
                login = await session.scalar(
                    select(Employee.login).where(Employee.id == call["agent_id"])
                )
        language = call.get("language", "sl")
        if result == "bridged":
            if not call.get("answered_at"):
                await self._answered(sid, None, source, now)
            return Exit("hangup", language)
        if result == "leave" and call.get("accepted_by") and login:
            return Exit("connect", language, brand or "", self.endpoint_for(login))
        if result in ("leave", "queue-full", "error", "system-error"):
            await self._to_voicemail(activity.id, now)
            return Exit("voicemail", language, brand or "")
        return Exit("hangup", language)

    def endpoint_for(self, login: str) -> str:
        return self.settings.agent_endpoint.replace("{login}", login)

    # Agents.

    async def accept(self, task_id: int, agent_id: int, now: datetime | None = None) -> bool:
        """The agent took the ringing call: it is answered now, and leaves the line."""
        now = now or utcnow()
        if self.engine is None:
            return False
        if not await self.engine.accept(task_id, agent_id, now):
            return False
        async with self.store.sessions() as session:
            activity_id = await session.scalar(select(Task.activity_id).where(Task.id == task_id))
        if activity_id is None:
            return True
        await self._answered_activity(activity_id, agent_id, now)
        return True

    async def decline(self, task_id: int, agent_id: int, now: datetime | None = None) -> bool:
        if self.engine is None:
            return False
        return await self.engine.decline(task_id, agent_id, now)

    async def answered_by(
        self, sid: str, agent_id: int | None, source: str = "twilio", now: datetime | None = None
    ) -> None:
        """The telephony side put the call through (a PBX's agent picked up)."""
        now = now or utcnow()
        if agent_id is not None and self.engine is not None:
            async with self.store.sessions() as session:
                activity = await self._find(session, sid, source)
                task_id = await session.scalar(
                    select(Task.id)
                    .where(Task.activity_id == activity.id, Task.agent_id == agent_id)
                    .order_by(Task.id.desc())
                    .limit(1)
                )
            if task_id is not None and await self.accept(task_id, agent_id, now):
                return
        await self._answered(sid, agent_id, source, now)

    async def _answered(self, sid: str, agent_id: int | None, source: str, now: datetime) -> None:
        async with self.store.sessions() as session:
            activity = await self._find(session, sid, source)
        await self._answered_activity(activity.id, agent_id, now)

    async def _answered_activity(
        self, activity_id: int, agent_id: int | None, now: datetime
    ) -> None:
        async def write() -> dict[str, Any] | None:
            async with self.store.sessions() as session, session.begin():
                activity = await session.get_one(Activity, activity_id, with_for_update=True)
                call = dict(activity.meta.get("call", {}))
                if call.get("answered_at") or call.get("ended_at"):
                    return None
                if agent_id is None:
                    agent = await _latest_task(session, activity_id, Task.agent_id)
                else:
                    agent = agent_id
                queued = _at(call.get("queued_at")) or _at(call.get("arrived_at"))
                call.update(
                    answered_at=_iso(now),
                    agent_id=agent,
                    accepted_by=agent,
                    wait_seconds=_seconds(queued, now),
                    events=[*call.get("events", []), "answered"],
                )
                activity.meta = {**activity.meta, "call": call}
                activity.employee_id = agent
                return call_event(activity)

        answered = await retrying(write)
        if answered is not None:
            await self.store.bus.publish("call.answered", answered)

    async def offered(self, activity_id: int, agent_id: int, now: datetime) -> None:
        """Routing offered the call to an agent: keep the first ring's time."""

        async def write() -> None:
            async with self.store.sessions() as session, session.begin():
                activity = await session.get_one(Activity, activity_id, with_for_update=True)
                call = dict(activity.meta.get("call", {}))
                if call.get("offered_at") is None:
                    call["offered_at"] = _iso(now)
                call["offered_to"] = [*call.get("offered_to", []), agent_id][-20:]
                activity.meta = {**activity.meta, "call": call}

        await retrying(write)

    # The telephony side reports.

    async def status(
        self,
        sid: str,
        status: str,
        sequence: int | None = None,
        source: str = "twilio",
        now: datetime | None = None,
    ) -> None:
        """A call progress event; a terminal one ends the call (once)."""
        now = now or utcnow()
        status = status.strip().lower()
        if status in TERMINAL:
            await self.ended(sid, status, sequence=sequence, source=source, now=now)
            return

        async def write() -> None:
            async with self.store.sessions() as session, session.begin():
                activity = await self._find(session, sid, source, lock=True)
                call = dict(activity.meta.get("call", {}))
                if call.get("ended_at") or (
                    sequence is not None and sequence <= int(call.get("sequence", -1))
                ):
                    return  # late or repeated: an older state must not overwrite a newer
                call.update(status=status, sequence=sequence if sequence is not None else -1)
                activity.meta = {**activity.meta, "call": call}

        await retrying(write)

    async def ended(
        self,
        sid: str,
        status: str,
        *,
        sequence: int | None = None,
        source: str = "twilio",
        now: datetime | None = None,
    ) -> bool:
        """The caller is gone. Work out the outcome and the durations; True the first time."""
        now = now or utcnow()

        async def write() -> tuple[dict[str, Any], int | None] | None:
            async with self.store.sessions() as session, session.begin():
                activity = await self._find(session, sid, source, lock=True)
                call = dict(activity.meta.get("call", {}))
                if call.get("ended_at"):
                    return None
                answered = _at(call.get("answered_at"))
                queued = _at(call.get("queued_at"))
                if answered is not None:
                    outcome = "answered"
                elif call.get("outcome") in ("voicemail", "out_of_hours"):
                    outcome = call["outcome"]
                elif status in ("completed", "canceled", "abandoned") and queued is not None:
                    outcome = "abandoned"
                else:
                    outcome = status if status in TERMINAL else "abandoned"
                call.update(
                    ended_at=_iso(now),
                    outcome=outcome,
                    status=status if status in TERMINAL else call.get("status"),
                    talk_seconds=_seconds(answered, now),
                    events=[*call.get("events", []), f"ended:{status}"],
                )
                if sequence is not None:
                    call["sequence"] = max(sequence, int(call.get("sequence", -1)))
                if queued is not None:
                    call["wait_seconds"] = _seconds(queued, answered or now)
                activity.meta = {**activity.meta, "call": call}
                if answered is not None:
                    activity.duration_seconds = round(call["talk_seconds"] or 0)
                task = await _latest_task(session, activity.id, Task.id)
                return call_event(activity), task

        done = await retrying(write)
        if done is None:
            return False
        ended, task_id = done
        outcome = ended["outcome"]
        if task_id is not None and self.engine is not None:
            finish = {
                "answered": TaskState.DONE,
                "voicemail": TaskState.VOICEMAIL,
                "out_of_hours": TaskState.VOICEMAIL,
            }.get(outcome, TaskState.ABANDONED)
            await self.engine.complete(task_id, now, outcome=finish)
        log.info("call_ended", activity_id=ended["activity_id"], outcome=outcome)
        await self.store.bus.publish("call.ended", ended)
        return True

    async def _to_voicemail(self, activity_id: int, now: datetime) -> None:
        async def write() -> int | None:
            async with self.store.sessions() as session, session.begin():
                activity = await session.get_one(Activity, activity_id, with_for_update=True)
                call = dict(activity.meta.get("call", {}))
                if call.get("outcome") is None:
                    call["outcome"] = "voicemail"
                    activity.meta = {**activity.meta, "call": call}
                return await session.scalar(
                    select(Task.id)
                    .where(Task.activity_id == activity_id, Task.state == TaskState.QUEUED)
                    .limit(1)
                )

        task_id = await retrying(write)
        if task_id is not None and self.engine is not None:
            await self.engine.complete(task_id, now, outcome=TaskState.VOICEMAIL)

    async def message_left(
        self,
        sid: str,
        url: str,
        recording_sid: str,
        seconds: int | None,
        source: str = "twilio",
        now: datetime | None = None,
    ) -> str:
        """The caller left a voicemail: keep its link and open a call-back ticket (once).

        Returns the caller's language, for the thanks.
        """
        now = now or utcnow()

        async def write() -> tuple[int | None, str | None, str]:
            async with self.store.sessions() as session, session.begin():
                activity = await self._find(session, sid, source, lock=True)
                call = dict(activity.meta.get("call", {}))
                language = str(call.get("language") or "sl")
                call["recording"] = {
                    **call.get("recording", {}),
                    "url": url,
                    "sid": recording_sid,
                    "seconds": seconds,
                }
                if call.get("outcome") is None:
                    call["outcome"] = "voicemail"
                opened = None
                if activity.ticket_id is None and (seconds is None or seconds > 0):
                    ticket = Ticket(
                        number=await allocate_ticket_number(session, now.year),
                        legal_entity=activity.legal_entity or self.store.default_legal_entity,
                        kind=TicketKind.QUESTION,
                        status=TicketStatus.NEW,
                        priority=2,
                        subject=_callback_subject(call),
                        partner_id=activity.partner_id,
                        metering_point_id=activity.metering_point_id,
                        created_at=now,
                    )
                    session.add(ticket)
                    await session.flush()
                    activity.ticket_id = ticket.id
                    opened = (ticket.id, ticket.number)
                activity.meta = {**activity.meta, "call": call}
                return (*opened, language) if opened else (None, None, language)

        ticket_id, number, language = await retrying(write)
        if ticket_id is not None:
            await self.store.bus.publish(
                "ticket.opened", {"ticket_id": ticket_id, "number": number}
            )
        return language

    async def recording(
        self,
        sid: str,
        url: str,
        recording_sid: str,
        seconds: int | None,
        status: str,
        source: str = "twilio",
    ) -> None:
        async def write() -> None:
            async with self.store.sessions() as session, session.begin():
                activity = await self._find(session, sid, source, lock=True)
                call = dict(activity.meta.get("call", {}))
                call["recording"] = {
                    **call.get("recording", {}),
                    "url": url or call.get("recording", {}).get("url"),
                    "sid": recording_sid,
                    "seconds": seconds,
                    "status": status,
                }
                activity.meta = {**activity.meta, "call": call}

        await retrying(write)

    async def transcribed(self, sid: str, text: str, status: str, source: str = "twilio") -> None:
        async def write() -> None:
            async with self.store.sessions() as session, session.begin():
                activity = await self._find(session, sid, source, lock=True)
                call = dict(activity.meta.get("call", {}))
                call["transcript_status"] = status
                if status == "completed" and text:
                    call["transcript"] = text
                    activity.text = text
                activity.meta = {**activity.meta, "call": call}

        await retrying(write)

    async def sweep_gone(self, now: datetime | None = None) -> int:
        """End the calls still in line whose caller has not been heard of for a long time.

        Twilio asks for the wait music again and again while a caller waits; when it
        stops asking and no callback ends the call (a lost callback, a status URL not
        configured), the call would wait in line for ever and ring at agents. It ends
        as abandoned at the last moment the caller was heard of. CTI calls are ended by
        their PBX and are not swept.
        """
        now = now or utcnow()
        async with self.store.sessions() as session:
            rows = await session.execute(
                select(Activity.external_id, Activity.meta)
                .join(Task, Task.activity_id == Activity.id)
                .where(
                    Task.kind == "call",
                    Task.state.in_((TaskState.QUEUED, TaskState.OFFERED)),
                    Task.created_at < now - timedelta(seconds=GONE_AFTER_S),
                    Activity.channel == Channel.PHONE,
                )
                .limit(500)
            )
            candidates = list(rows)
        gone = 0
        for external_id, meta in candidates:
            call = (meta or {}).get("call", {})
            if call.get("source") != "twilio":
                continue
            heard = _at(call.get("heard_at")) or _at(call.get("queued_at"))
            if heard is None or (now - heard).total_seconds() < GONE_AFTER_S:
                continue
            gone += await self.ended(external_id, "abandoned", now=heard)
        if gone:
            log.warning("calls_gone_without_callback", count=gone)
        return gone

    # Helpers.

    async def _find(
        self, session: AsyncSession, sid: str, source: str, *, lock: bool = False
    ) -> Activity:
        """The call's activity by its id at the telephony side; `lock` holds its row."""
        query = select(Activity).where(
            Activity.channel == Channel.PHONE,
            Activity.external_id == self.external_id(sid, source),
        )
        activity = await session.scalar(query.with_for_update() if lock else query)
        if activity is None:
            raise UnknownCall(sid)
        return activity

    async def _line_of(self, session: AsyncSession, entity: str, code: str | None) -> "_LineView":
        """The entity's brand, and the line's queue with its calendar; cached a few seconds."""
        key = (entity, code)
        cached = self._lines.get(key)
        if cached is not None and time.monotonic() - cached.read_at < LINE_CACHE_SECONDS:
            return cached
        brand = await session.scalar(select(LegalEntity.brand).where(LegalEntity.code == entity))
        queue = await _phone_queue(session, entity, code)
        calendar = None
        if queue is not None and queue.calendar_id is not None:
            model = await session.get(Calendar, queue.calendar_id)
            if model is not None:
                try:
                    calendar = BusinessCalendar.from_model(model)
                except CalendarError as exc:
                    log.warning("phone_calendar_invalid", queue=queue.code, error=str(exc))
        view = _LineView(
            brand or entity,
            queue.id if queue else None,
            queue.code if queue else f"{entity}-calls",
            calendar,
            time.monotonic(),
        )
        self._lines[key] = view
        return view


def _callback_subject(call: dict[str, Any]) -> str:
    number = call.get("from") or "?"
    if call.get("language") == "en":
        return f"Call back: voicemail from {number}"
    return f"Povratni klic: glasovno sporočilo s {number}"


async def _language(session: AsyncSession, activity: Activity, number: str | None) -> str:
    """The partner's language when the caller is known, else Slovenian for Slovenian numbers."""
    if activity.partner_id is not None:
        language = await session.scalar(
            select(Partner.language).where(Partner.id == activity.partner_id)
        )
        if language in ("sl", "en"):
            return str(language)
    if number is not None and not number.startswith("+386"):
        return "en"
    return "sl"


def _closed(calendar: BusinessCalendar | None, now: datetime) -> tuple[bool, datetime | None]:
    """Whether the line's calendar is shut at `now`, and when it opens again."""
    if calendar is None:
        return False, None
    try:
        opens = calendar.next_open(now)
    except CalendarError as exc:
        log.warning("phone_calendar_never_open", error=str(exc))
        return True, None
    return opens != now, (opens if opens != now else None)


@dataclass(frozen=True)
class _LineView:
    brand: str
    queue_id: int | None
    queue_code: str
    calendar: BusinessCalendar | None
    read_at: float


async def _latest_task(session: AsyncSession, activity_id: int, column: Any) -> Any:
    """`column` of the call's newest routing task (a call re-queued keeps its task)."""
    return await session.scalar(
        select(column).where(Task.activity_id == activity_id).order_by(Task.id.desc()).limit(1)
    )


async def _phone_queue(session: AsyncSession, entity: str, code: str | None) -> Queue | None:
    """The line's queue by its configured code, else the entity's first phone queue."""
    if code:
        found = await session.scalar(select(Queue).where(Queue.code == code))
        if found is not None:
            return found
        log.warning("phone_queue_unknown", queue=code)
    queues = await session.scalars(
        select(Queue).where(Queue.legal_entity == entity).order_by(Queue.id)
    )
    for queue in queues:
        if "phone" in (queue.channels or ()):
            return queue
    return None
