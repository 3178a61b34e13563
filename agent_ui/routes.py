"""The workspace's pages and endpoints, and `setup(app)` that wires them into Stik."""

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp_jinja2
import aiohttp_session
import jinja2
import structlog
from aiohttp import WSMsgType, web
from aiohttp_session import get_session
from sqlalchemy import func, select

from agent_ui import auth_views, dashboards, i18n, presence, push, replies, tickets
from agent_ui.keys import DATA_DIR, HUB, SENDER, SESSIONS, STORE
from agent_ui.outbound import EmlOutbox
from agent_ui.push import SocketHub
from agent_ui.rendering import render
from agent_ui.search import search
from agent_ui.security import api, audit, current_user, load_user, page
from agent_ui.sessions import DatabaseStorage
from agent_ui.text import shown_text
from agent_ui.tickets import Refused
from agent_ui.users import Permission, Role, User, add_employee
from customer_view.service import assemble_view, parse_cursor, viewer_for
from interactions.models import (
    Activity,
    Blob,
    Channel,
    Document,
    Employee,
    MeteringPoint,
    OrgUnit,
    Partner,
    PartnerRole,
    Ticket,
    TicketKind,
    TicketStatus,
)
from interactions.tickets import allocate_ticket_number
from interactions.types import utcnow
from routing.engine import RoutingEngine
from routing.tasks import ENGINE

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent
TEMPLATES = [HERE / "templates", HERE.parent / "customer_view" / "templates"]
NODE_MODULES = HERE.parent / "node_modules"
WRAP_UP_OUTCOMES = ("resolved", "callback", "follow_up", "handed_over", "other")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _id(request: web.Request, name: str = "id") -> int:
    raw = request.match_info[name]
    if not raw.isdigit() or len(raw) > 18:
        raise web.HTTPNotFound()
    return int(raw)


# -- the workspace ---------------------------------------------------------------


@page()
async def workspace(request: web.Request) -> web.Response:
    user = current_user(request)
    store = request.app[STORE]
    async with store.sessions() as db:
        mine = await tickets.my_tickets(db, user)
        loads = await tickets.queue_loads(db, user)
    state = await presence.get_presence(store, user.id)
    context = {
        "my_tickets": mine,
        "queues": loads,
        "presence": state,
        "break_reasons": list(presence.BreakReason),
        "outcomes": WRAP_UP_OUTCOMES,
    }
    return await render(request, "workspace.html", context)


@page()
async def my_tickets_fragment(request: web.Request) -> web.Response:
    async with request.app[STORE].sessions() as db:
        mine = await tickets.my_tickets(db, current_user(request))
    return await render(request, "_my_tickets.html", {"my_tickets": mine})


@page()
async def queues_fragment(request: web.Request) -> web.Response:
    async with request.app[STORE].sessions() as db:
        loads = await tickets.queue_loads(db, current_user(request))
    return await render(request, "_queues.html", {"queues": loads})


@page(Permission.WORK_TICKETS)
async def set_presence(request: web.Request) -> web.Response:
    user = current_user(request)
    form = await request.post()
    try:
        state = await presence.set_presence(
            request.app[STORE], user.id, str(form.get("state", "")), str(form.get("reason") or "")
        )
    except presence.InvalidPresence:
        raise Refused(400, i18n.gettext("Choose a reason for the break.")) from None
    context = {"presence": state, "break_reasons": list(presence.BreakReason)}
    return await render(request, "_presence.html", context)


@page()
async def search_page(request: web.Request) -> web.Response:
    user = current_user(request)
    query = request.query.get("q", "")
    async with request.app[STORE].sessions() as db, db.begin():
        result = await search(db, user, query)
        for hit in result.partners:
            audit(
                db,
                user,
                "search",
                "partner",
                hit.partner.id,
                partner_id=hit.partner.id,
                details={"found_by": result.found_by},
            )
    template = "_search_results.html" if request.headers.get("HX-Request") else "search.html"
    return await render(request, template, {"result": result, "query": query})


@page()
async def queue_page(request: web.Request) -> web.Response:
    user = current_user(request)
    async with request.app[STORE].sessions() as db:
        queue = await tickets.get_queue(db, user, _id(request))
        waiting = await tickets.waiting_tickets(db, queue)
        names = await tickets.employee_names(db, {t.assignee_id for t in waiting})
    return await render(request, "queue.html", {"queue": queue, "tickets": waiting, "names": names})


# -- tickets -----------------------------------------------------------------------


@page()
async def ticket_page(request: web.Request) -> web.Response:
    user = current_user(request)
    store = request.app[STORE]
    async with store.sessions() as db, db.begin():
        ticket = await tickets.get_ticket(db, user, _id(request))
        items = await tickets.timeline(db, ticket)
        partner = await db.get(Partner, ticket.partner_id) if ticket.partner_id else None
        point = (
            await db.get(MeteringPoint, ticket.metering_point_id)
            if ticket.metering_point_id
            else None
        )
        loads = await tickets.queue_loads(db, user)
        people = await tickets.colleagues(db, user)
        choices = await tickets.categories(db, user.language, ticket.category)
        if partner is not None:
            audit(
                db,
                user,
                "view",
                "partner",
                partner.id,
                partner_id=partner.id,
                details={"via": "ticket", "ticket": ticket.number},
            )
        context = {
            "ticket": ticket,
            "timeline": items,
            "partner": partner,
            "point": point,
            "queues": loads,
            "colleagues": people,
            "templates": await replies.templates_for(db, user),
            "recipient": await replies.default_recipient(db, ticket),
            "values": await replies.template_values(db, user, ticket),
            "categories": choices,
            "category_names": {c.code: c.name for c in choices},
            "priorities": tickets.PRIORITIES,
            "resolutions": [r for r in tickets.Resolution if r != tickets.Resolution.MERGED],
            "due": tickets.next_due(ticket),
            "shown_text": shown_text,
            "shown_value": _value_namer(people, loads, choices),
            "closed": ticket.status == TicketStatus.CLOSED,
        }
    return await render(request, "ticket.html", context)


def _value_namer(
    people: list[Employee],
    loads: list[tickets.QueueLoad],
    choices: list[tickets.CategoryChoice],
) -> Callable[[str | None, str | None], str]:
    """Name a changed field's stored value as the page shows it: a person, a queue, a word."""
    names = {str(p.id): p.full_name for p in people}
    queues = {str(q.queue.id): q.queue.name for q in loads}
    categories = {c.code: c.name for c in choices}

    def shown(field: str | None, value: str | None) -> str:
        if value is None or value == "":
            return "—"
        if field == "assignee_id":
            return names.get(value, value)
        if field == "queue_id":
            return queues.get(value, value)
        if field == "category" and value in categories:
            return categories[value]
        return i18n.label(value)

    return shown


@dataclass(frozen=True)
class _Routed:
    """What routing keeps of a ticket: its status (the clocks), holder, queue, priority."""

    status: str
    assignee_id: int | None
    queue_id: int | None
    priority: int

    @classmethod
    def of(cls, ticket: Ticket) -> "_Routed":
        return cls(ticket.status, ticket.assignee_id, ticket.queue_id, ticket.priority)


#: A ticket change: it may return other tickets it closed (a merge closes the other one).
Change = Callable[[Any, User, Ticket, Any], Awaitable[list[Ticket] | None]]


async def _ticket_change(request: web.Request, change: Change) -> web.StreamResponse:
    user = current_user(request)
    form = await request.post()
    engine = request.app.get(ENGINE)
    async with request.app[STORE].sessions() as db, db.begin():
        ticket = await tickets.get_ticket(db, user, _id(request))
        before = _Routed.of(ticket)
        closed_too = await change(db, user, ticket, form) or []
        after = _Routed.of(ticket)
        if engine is not None and after.status != before.status:
            # The engine moves the status together with the SLA clocks, and what it does
            # depends on the status it finds (pending → open resumes the paused clocks).
            ticket.status = before.status
        shown = (ticket.id, ticket.number, ticket.subject)
        others = [t.id for t in closed_too]
    if engine is not None:
        await _tell_routing(engine, shown[0], before, after)
        for other in others:
            await engine.ticket_status(other, TicketStatus.CLOSED)
    if after.assignee_id is not None and after.assignee_id not in (before.assignee_id, user.id):
        await push.push_to_agent(
            request.app[STORE],
            after.assignee_id,
            "ticket.assigned",
            {"ticket_id": shown[0], "number": shown[1], "subject": shown[2]},
        )
    raise web.HTTPSeeOther(f"/tickets/{shown[0]}")


async def _tell_routing(
    engine: RoutingEngine, ticket_id: int, before: _Routed, after: _Routed
) -> None:
    """Let routing follow what an agent did: task holder, queue and priority, clocks."""
    if after.assignee_id != before.assignee_id:
        await engine.ticket_taken(ticket_id, after.assignee_id)
    if (after.queue_id, after.priority) != (before.queue_id, before.priority):
        await engine.ticket_changed(ticket_id)
    if after.status != before.status:
        await engine.ticket_status(ticket_id, TicketStatus(after.status))


@page(Permission.WORK_TICKETS)
async def ticket_note(request: web.Request) -> web.StreamResponse:
    async def change(db: Any, user: User, ticket: Ticket, form: Any) -> None:
        tickets.add_note(db, user, ticket, str(form.get("text", "")))

    return await _ticket_change(request, change)


@page(Permission.WORK_TICKETS)
async def ticket_fields(request: web.Request) -> web.StreamResponse:
    async def change(db: Any, user: User, ticket: Ticket, form: Any) -> None:
        for field in ("category", "priority", "queue_id", "assignee_id", "status"):
            # The form posts every field; only the ones the user changed are changes.
            if field in form and not tickets.unchanged(ticket, field, str(form[field])):
                await tickets.change_field(db, user, ticket, field, str(form[field]))

    return await _ticket_change(request, change)


@page(Permission.WORK_TICKETS)
async def ticket_take(request: web.Request) -> web.StreamResponse:
    async def change(db: Any, user: User, ticket: Ticket, form: Any) -> None:
        await tickets.change_field(db, user, ticket, "assignee_id", str(user.id))
        if ticket.status == TicketStatus.NEW:
            await tickets.change_field(db, user, ticket, "status", TicketStatus.OPEN)

    return await _ticket_change(request, change)


@page(Permission.WORK_TICKETS)
async def ticket_close(request: web.Request) -> web.StreamResponse:
    async def change(db: Any, user: User, ticket: Ticket, form: Any) -> None:
        tickets.close(db, user, ticket, str(form.get("resolution", "")), str(form.get("note", "")))

    return await _ticket_change(request, change)


@page(Permission.WORK_TICKETS)
async def ticket_merge(request: web.Request) -> web.StreamResponse:
    async def change(db: Any, user: User, ticket: Ticket, form: Any) -> list[Ticket]:
        return [await tickets.merge(db, user, ticket, str(form.get("other", "")))]

    return await _ticket_change(request, change)


@page(Permission.WORK_TICKETS)
async def ticket_link(request: web.Request) -> web.StreamResponse:
    def optional_id(value: object) -> int | None:
        text = str(value or "").strip()
        if not text:
            return None
        if not text.isdigit() or len(text) > 18:
            raise Refused(400, "not an id")
        return int(text)

    async def change(db: Any, user: User, ticket: Ticket, form: Any) -> None:
        partner_id = optional_id(form.get("partner_id"))
        point_id = optional_id(form.get("metering_point_id"))
        if point_id is not None and partner_id is not None:
            plays = await db.scalar(
                select(func.count())
                .select_from(PartnerRole)
                .where(
                    PartnerRole.partner_id == partner_id, PartnerRole.metering_point_id == point_id
                )
            )
            if not plays:
                raise Refused(400, i18n.gettext("The partner has no role at this metering point."))
        await tickets.link(db, user, ticket, partner_id, point_id)

    return await _ticket_change(request, change)


@page(Permission.WORK_TICKETS)
async def ticket_link_search(request: web.Request) -> web.Response:
    user = current_user(request)
    async with request.app[STORE].sessions() as db, db.begin():
        ticket = await tickets.get_ticket(db, user, _id(request))
        result = await search(db, user, request.query.get("q", ""))
        ids = {h.partner.id: h for h in result.partners}
        points: dict[int, list[MeteringPoint]] = {}
        if ids:
            rows = await db.execute(
                select(PartnerRole.partner_id, MeteringPoint)
                .join(MeteringPoint)
                .where(PartnerRole.partner_id.in_(list(ids)))
            )
            for partner_id, point in rows:
                if point not in points.setdefault(partner_id, []):
                    points[partner_id].append(point)
        for partner_id in ids:
            audit(
                db,
                user,
                "search",
                "partner",
                partner_id,
                partner_id=partner_id,
                details={"via": "link", "ticket": ticket.number},
            )
    context = {"ticket": ticket, "result": result, "points": points}
    return await render(request, "_link_results.html", context)


@page(Permission.WORK_TICKETS)
async def ticket_template(request: web.Request) -> web.Response:
    user = current_user(request)
    async with request.app[STORE].sessions() as db:
        ticket = await tickets.get_ticket(db, user, _id(request))
        chosen = next(
            (
                t
                for t in await replies.templates_for(db, user)
                if str(t.id) == request.query.get("template")
            ),
            None,
        )
        if chosen is None:
            raise web.HTTPNotFound()
        values = await replies.template_values(db, user, ticket)
        recipient = await replies.default_recipient(db, ticket)
    context = {
        "ticket": ticket,
        "recipient": recipient,
        "subject": replies.fill(chosen.subject, values),
        "body": replies.fill(chosen.body, values),
    }
    return await render(request, "_reply_fields.html", context)


@page(Permission.WORK_TICKETS)
async def ticket_reply(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    ticket_id = _id(request)
    form = await request.post()
    attachments = [
        replies.OutgoingAttachment(
            filename=item.filename or "attachment",
            content_type=item.content_type or "application/octet-stream",
            data=item.file.read(),
        )
        for item in form.getall("attachment", [])
        if isinstance(item, web.FileField) and item.filename
    ]
    await replies.send_reply(
        request.app[STORE],
        request.app[SENDER],
        user,
        ticket_id,
        to=str(form.get("to", "")),
        subject=str(form.get("subject", "")),
        body=str(form.get("body", "")),
        attachments=attachments,
    )
    if (engine := request.app.get(ENGINE)) is not None:
        await engine.responded(ticket_id)
    raise web.HTTPSeeOther(f"/tickets/{ticket_id}")


@page()
async def document_download(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    async with request.app[STORE].sessions() as db, db.begin():
        row = (
            await db.execute(
                select(Document, Activity.legal_entity, Activity.partner_id)
                .join(Activity, Activity.id == Document.activity_id)
                .where(Document.id == _id(request))
            )
        ).first()
        if row is None:
            raise web.HTTPNotFound()
        document, entity, partner_id = row
        if entity != user.legal_entity:
            raise Refused(403, "this document belongs to another legal entity")
        blob = await db.get_one(Blob, document.sha256)
        audit(db, user, "view", "document", document.id, partner_id=partner_id)
    filename = quote(document.filename or f"document-{document.id}", safe="")
    return web.Response(
        body=blob.data,
        content_type="application/octet-stream",
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{filename}",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- calls -------------------------------------------------------------------------


@page(Permission.WORK_TICKETS)
async def wrap_up(request: web.Request) -> web.StreamResponse:
    """Save a call's outcome and notes; optionally open a follow-up ticket for it."""
    user = current_user(request)
    form = await request.post()
    outcome = str(form.get("outcome", ""))
    if outcome not in WRAP_UP_OUTCOMES:
        raise Refused(400, i18n.gettext("Choose an outcome."))
    notes = str(form.get("notes", "")).strip()[:5000]
    async with request.app[STORE].sessions() as db, db.begin():
        activity = await db.get(Activity, _id(request))
        if activity is None or activity.channel != Channel.PHONE:
            raise web.HTTPNotFound()
        if activity.legal_entity != user.legal_entity:
            raise Refused(403, "this call belongs to another legal entity")
        saved_at = utcnow()
        meta = {
            **activity.meta,
            "wrap_up": {
                "outcome": outcome,
                "notes": notes,
                "by": user.id,
                "at": saved_at.isoformat(),
            },
        }
        wrap_up_seconds = _wrap_up_seconds(meta.get("call"), saved_at)
        if wrap_up_seconds is not None:
            meta["call"] = {**meta["call"], "wrap_up_seconds": wrap_up_seconds}
        activity.meta = meta
        activity.employee_id = activity.employee_id or user.id
        number, follow_up_id = None, None
        if form.get("follow_up") and activity.ticket_id is None:
            ticket = Ticket(
                number=await allocate_ticket_number(db, utcnow().year),
                legal_entity=user.legal_entity,
                kind=TicketKind.QUESTION,
                status=TicketStatus.OPEN,
                subject=(notes.splitlines() or [i18n.gettext("Follow-up of a call")])[0][:500],
                partner_id=activity.partner_id,
                metering_point_id=activity.metering_point_id,
                assignee_id=user.id,
            )
            db.add(ticket)
            await db.flush()
            activity.ticket_id = follow_up_id = ticket.id
            number = ticket.number
        audit(
            db,
            user,
            "update",
            "activity",
            activity.id,
            partner_id=activity.partner_id,
            details={"wrap_up": outcome, "follow_up": number},
        )
        activity_id = activity.id
    if follow_up_id is not None and (engine := request.app.get(ENGINE)) is not None:
        await engine.ticket_taken(follow_up_id, user.id)  # its clocks run, it is the agent's
    await request.app[STORE].bus.publish(
        "call.wrapped_up", {"activity_id": activity_id, "wrap_up_seconds": wrap_up_seconds}
    )
    return web.json_response({"saved": True, "ticket": number})


def _wrap_up_seconds(call: object, saved_at: datetime) -> float | None:
    """Seconds from the end of the call (as the phone channel wrote it) to the wrap-up."""
    if not isinstance(call, dict) or not isinstance(call.get("ended_at"), str):
        return None
    try:
        ended_at = datetime.fromisoformat(call["ended_at"])
    except ValueError:
        log.warning("call_end_unreadable", field="ended_at")
        return None
    if ended_at.tzinfo is None:
        ended_at = ended_at.replace(tzinfo=UTC)
    return round(max(0.0, (saved_at - ended_at).total_seconds()), 1)


# -- the customer view ---------------------------------------------------------------


async def _view(request: web.Request) -> dict[str, Any]:
    user = current_user(request)
    async with request.app[STORE].sessions() as db, db.begin():
        viewer = await viewer_for(db, user.legal_entity)
        before = parse_cursor(request.query.get("before"))
        view = await assemble_view(db, _id(request), viewer, before=before)
        if view is None:
            raise web.HTTPNotFound()
        audit(
            db,
            user,
            "view",
            "partner",
            view["partner"]["id"],
            partner_id=view["partner"]["id"],
            details={"via": "customer_view"},
        )
    return view


@api()
async def customer_view_json(request: web.Request) -> web.Response:
    return web.json_response(await _view(request))


@page()
async def customer_view_page(request: web.Request) -> web.Response:
    return await render(request, "customer.html", {"view": await _view(request)})


# -- team and administration ---------------------------------------------------------


@page(Permission.SEE_TEAM)
async def team_page(request: web.Request) -> web.Response:
    user = current_user(request)
    store = request.app[STORE]
    async with store.sessions() as db:
        people = await tickets.colleagues(db, user)
        counts = dict(
            (
                await db.execute(
                    select(Ticket.assignee_id, func.count())
                    .where(
                        Ticket.legal_entity == user.legal_entity,
                        Ticket.status.in_(tickets.OPEN_STATUSES),
                    )
                    .group_by(Ticket.assignee_id)
                )
            ).all()
        )
    states = await presence.presence_of_team(store, [p.id for p in people])
    return await render(
        request, "team.html", {"people": people, "states": states, "counts": counts}
    )


# TODO(#9): pages for administrators to edit reply templates, queues and SLA policies;
# templates are seeded by migration 0008 and edited in the database until then.
@page(Permission.MANAGE_USERS)
async def users_page(request: web.Request) -> web.Response:
    user = current_user(request)
    async with request.app[STORE].sessions() as db:
        people = await tickets.colleagues(db, user)
    context = {"people": people, "roles": list(Role), "units": list(OrgUnit)}
    return await render(request, "users.html", context)


@page(Permission.MANAGE_USERS)
async def add_user(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    form = await request.post()
    login = str(form.get("login", "")).strip()
    if not login or len(login) > 64:
        raise Refused(400, "a login is needed")
    try:
        role, unit = Role(str(form.get("role"))), OrgUnit(str(form.get("org_unit")))
    except ValueError:
        raise Refused(400, "unknown role or unit") from None
    async with request.app[STORE].sessions() as db, db.begin():
        if await db.scalar(select(Employee.id).where(Employee.login == login)):
            raise Refused(409, i18n.gettext("This login is taken."))
        try:
            added = await add_employee(
                db,
                login=login,
                password=str(form.get("password", "")),
                role=role,
                legal_entity=user.legal_entity,
                org_unit=unit,
                full_name=str(form.get("full_name") or login)[:200],
            )
        except ValueError as exc:
            raise Refused(400, str(exc)) from None
        audit(db, user, "create", "employee", added.id)
    raise web.HTTPSeeOther("/admin/users")


# -- live events -----------------------------------------------------------------------


async def websocket(request: web.Request) -> web.StreamResponse:
    """One agent page's live channel: missed events first, then everything as it comes."""
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-site socket refused")
    session = await get_session(request)
    uid = session.get("uid")
    store = request.app[STORE]
    user = None
    if isinstance(uid, int):
        async with store.sessions() as db:
            user = await load_user(db, uid)
    if user is None:
        raise web.HTTPUnauthorized()

    ws = web.WebSocketResponse(heartbeat=25)
    await ws.prepare(request)
    hub = request.app[HUB]
    hub.add(user.id, user.legal_entity, ws)
    try:
        after = request.query.get("after", "")
        if after.isdigit():
            for event in await push.missed_events(store, user.id, int(after)):
                await ws.send_str(json.dumps(event, default=str))
        await ws.send_str(
            json.dumps({"kind": "hello", "last_id": await push.last_event_id(store, user.id)})
        )
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        hub.remove(user.id, ws)
    return ws


# -- errors and static files ---------------------------------------------------------------


@web.middleware
async def refusals(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Render a `Refused` as a page, a fragment for htmx, or JSON for the API."""
    try:
        return await handler(request)
    except Refused as refused:
        if request.path.startswith("/api/") or request.path.startswith("/activities/"):
            return web.json_response({"error": refused.reason}, status=refused.status)
        headers = {"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"}
        name = "_error.html" if request.headers.get("HX-Request") else "error.html"
        response = await render(request, name, {"reason": refused.reason}, refused.status)
        if request.headers.get("HX-Request"):
            response.headers.update(headers)
        return response


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    response = await handler(request)
    if not isinstance(response, web.WebSocketResponse):
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
            "connect-src 'self' ws: wss:; frame-ancestors 'none'; form-action 'self'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


async def htmx_script(request: web.Request) -> web.StreamResponse:
    path = NODE_MODULES / "htmx.org" / "dist" / "htmx.min.js"
    if not path.exists():
        log.warning("htmx_missing", hint="run make install")
        raise web.HTTPNotFound(text="htmx is not installed: run make install")
    return web.FileResponse(path, headers={"Cache-Control": "public, max-age=3600"})


def _environment(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader([str(p) for p in TEMPLATES]),
        extensions=["jinja2.ext.i18n"],
        autoescape=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        i18n.gettext, i18n.ngettext, newstyle=True
    )
    env.filters.update(
        dt=i18n.format_datetime,
        date=i18n.format_date,
        amount=i18n.format_amount,
        number=i18n.format_number,
        duration=i18n.format_duration,
        iso_dt=i18n.format_iso_datetime,
        label=i18n.label,
    )
    env.globals.update(time_left=i18n.format_time_left, next_due=tickets.next_due)


async def _housekeeping(app: web.Application) -> AsyncIterator[None]:
    """Drop expired sessions and old pushed events now and then."""

    async def loop() -> None:
        while True:
            try:
                await app[SESSIONS].forget_expired()
                await push.forget_old_events(app[STORE])
                await auth_views.forget_old_failures(app[STORE])
            except Exception:
                log.exception("housekeeping_failed")
            await asyncio.sleep(600)

    task = asyncio.create_task(loop())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await app[HUB].close_all()


def setup(app: web.Application) -> None:
    """Add the workspace to Stik's application: sessions, pages, socket, static files."""
    from stik.app import SETTINGS
    from stik.app import STORE as CORE_STORE

    settings = app[SETTINGS]
    store = app[CORE_STORE]
    app[STORE] = store
    app[DATA_DIR] = settings.data_dir
    app[SESSIONS] = DatabaseStorage(store, secure=settings.public_url.startswith("https://"))
    app[HUB] = SocketHub(store)
    if SENDER not in app:
        app[SENDER] = EmlOutbox(settings.data_dir / "outbox")

    aiohttp_session.setup(app, app[SESSIONS])
    app.middlewares.append(refusals)
    app.middlewares.append(security_headers)
    _environment(app)
    app.cleanup_ctx.append(_housekeeping)

    r = app.router
    r.add_get("/login", auth_views.login_form)
    r.add_post("/login", auth_views.login)
    r.add_post("/logout", auth_views.logout)
    r.add_post("/me/language", auth_views.choose_language)
    r.add_get("/", workspace)
    r.add_get("/fragments/my-tickets", my_tickets_fragment)
    r.add_get("/fragments/queues", queues_fragment)
    r.add_post("/presence", set_presence)
    r.add_get("/search", search_page)
    r.add_get("/queues/{id}", queue_page)
    r.add_get("/tickets/{id}", ticket_page)
    r.add_post("/tickets/{id}/notes", ticket_note)
    r.add_post("/tickets/{id}/fields", ticket_fields)
    r.add_post("/tickets/{id}/take", ticket_take)
    r.add_post("/tickets/{id}/close", ticket_close)
    r.add_post("/tickets/{id}/merge", ticket_merge)
    r.add_post("/tickets/{id}/link", ticket_link)
    r.add_get("/tickets/{id}/link-search", ticket_link_search)
    r.add_get("/tickets/{id}/reply-template", ticket_template)
    r.add_post("/tickets/{id}/reply", ticket_reply)
    r.add_get("/documents/{id}", document_download)
    r.add_post("/activities/{id}/wrap-up", wrap_up)
    r.add_get("/partners/{id}", customer_view_page)
    r.add_get("/api/partners/{id}/view", customer_view_json)
    r.add_get("/team", team_page)
    r.add_get("/admin/users", users_page)
    r.add_post("/admin/users", add_user)
    r.add_get("/ws", websocket)
    r.add_get("/static/htmx.min.js", htmx_script)
    r.add_static("/static/agent_ui/", HERE / "static", append_version=True)
    dashboards.setup(app)
