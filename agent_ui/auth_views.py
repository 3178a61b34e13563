"""Signing in and out, with failed sign-ins held off per login and per address."""

from datetime import timedelta
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from aiohttp_session import get_session, new_session
from sqlalchemy import delete, func, select

from agent_ui import presence
from agent_ui.i18n import LANGUAGES, gettext, set_language
from agent_ui.keys import SESSIONS, STORE
from agent_ui.models import AgentPreference, LoginFailure
from agent_ui.rendering import render
from agent_ui.security import check_csrf, csrf_token, current_user, page
from agent_ui.users import authenticate
from interactions.db import retrying
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

FAILURE_WINDOW = timedelta(minutes=15)
MAX_FAILURES_PER_LOGIN = 5
MAX_FAILURES_PER_ADDRESS = 30


def _safe_next(value: object) -> str:
    """A local path to go on to after sign-in; anything else goes to the workspace."""
    if isinstance(value, str) and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"


async def login_form(request: web.Request) -> web.Response:
    set_language(request.query.get("lang", "sl"))
    return await render(request, "login.html", {"next": _safe_next(request.query.get("next"))})


async def login(request: web.Request) -> web.StreamResponse:
    session = await get_session(request)
    await check_csrf(request, session)
    form = await request.post()
    login_name = str(form.get("login", "")).strip()[:64]
    password = str(form.get("password", ""))[:1000]
    address = (request.remote or "unknown")[:64]
    store = request.app[STORE]

    if await _held_off(request, login_name, address):
        log.warning("login_held_off", address_failures=True)
        error = gettext("Too many failed sign-ins. Wait a few minutes.")
        return await render(request, "login.html", {"error": error, "next": "/"}, 429)

    async with store.sessions() as db, db.begin():
        employee = await authenticate(db, login_name, password)
        if employee is None:
            db.add(LoginFailure(login=login_name, address=address))
        employee_id = employee.id if employee else None
    if employee_id is None:
        log.warning("login_failed", reason="wrong_login_or_password")
        error = gettext("Wrong login or password.")
        return await render(request, "login.html", {"error": error, "next": "/"}, 401)

    # A new session for the signed-in user: a token planted before sign-in dies here.
    if session.identity:
        await request.app[SESSIONS].forget(session.identity)
    fresh = await new_session(request)
    fresh["uid"] = employee_id
    fresh["seen"] = int(utcnow().timestamp())
    csrf_token(fresh)
    log.info("login_succeeded", employee_id=employee_id)
    raise web.HTTPSeeOther(_safe_next(form.get("next")))


async def _held_off(request: web.Request, login_name: str, address: str) -> bool:
    since = utcnow() - FAILURE_WINDOW
    async with request.app[STORE].sessions() as db:
        by_login = await db.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.login == login_name, LoginFailure.at > since)
        )
        by_address = await db.scalar(
            select(func.count())
            .select_from(LoginFailure)
            .where(LoginFailure.address == address, LoginFailure.at > since)
        )
    return (by_login or 0) >= MAX_FAILURES_PER_LOGIN or (
        by_address or 0
    ) >= MAX_FAILURES_PER_ADDRESS


@page()
async def logout(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    await presence.set_presence(request.app[STORE], user.id, presence.PresenceState.OFFLINE)
    session = await get_session(request)
    session.invalidate()
    log.info("logout", employee_id=user.id)
    raise web.HTTPSeeOther("/login")


@page()
async def choose_language(request: web.Request) -> web.StreamResponse:
    user = current_user(request)
    chosen = str((await request.post()).get("language", ""))
    if chosen not in LANGUAGES:
        raise web.HTTPBadRequest(text="unknown language")

    async def write() -> None:
        async with request.app[STORE].sessions() as db, db.begin():
            row = await db.get(AgentPreference, user.id)
            if row is None:
                db.add(AgentPreference(employee_id=user.id, ui_language=chosen))
            else:
                row.ui_language = chosen

    await retrying(write)
    back = urlsplit(request.headers.get("Referer", "/"))
    same_site = back.netloc in ("", request.host)
    raise web.HTTPSeeOther(_safe_next(back.path) if same_site else "/")


async def forget_old_failures(store: Store) -> None:
    """Drop failed sign-ins older than a day; only the last minutes count."""
    async with store.sessions() as db, db.begin():
        await db.execute(delete(LoginFailure).where(LoginFailure.at < utcnow() - timedelta(days=1)))
