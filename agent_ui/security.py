"""Who is asking, and may they: the signed-in user, CSRF tokens, roles and the audit trail.

Every handler of the workspace is wrapped by `page()` (HTML) or `api()` (JSON): they
load the user from the server-side session, refuse anyone not signed in, check the
role's permission and, for every state-changing method, the session's CSRF token.
"""

import hmac
import secrets
from collections.abc import Awaitable, Callable
from datetime import timedelta
from functools import wraps
from typing import Any
from urllib.parse import urlsplit

import structlog
from aiohttp import web
from aiohttp_session import Session, get_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.i18n import LANGUAGES, set_language
from agent_ui.keys import STORE
from agent_ui.models import AgentPreference
from agent_ui.users import Permission, Role, User
from interactions.models import AuditEntry, Employee
from interactions.types import utcnow

log = structlog.get_logger(__name__)

USER = web.RequestKey("stik_user", User)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
#: How often a busy session's idle timer is pushed on (saves a write per request).
TOUCH_EVERY = timedelta(minutes=5)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def csrf_token(session: Session) -> str:
    """Return the session's CSRF token, creating it on first use."""
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_origin(request: web.Request) -> None:
    """Refuse a state-changing request that a page of another site sent."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        log.warning("csrf_refused", reason="cross_origin", path=request.path)
        raise web.HTTPForbidden(text="cross-site request refused")


async def check_csrf(request: web.Request, session: Session) -> None:
    """Refuse a state-changing request without the session's token or from another site."""
    check_origin(request)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.content_type in (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    ):
        value = (await request.post()).get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not csrf_matches(session, sent):
        log.warning("csrf_refused", reason="token", path=request.path)
        raise web.HTTPForbidden(text="missing or wrong CSRF token")


def csrf_matches(session: Session, sent: str | None) -> bool:
    """Tell whether `sent` is the session's CSRF token."""
    expected = session.get("csrf")
    return bool(sent) and isinstance(expected, str) and hmac.compare_digest(sent or "", expected)


async def load_user(db: AsyncSession, employee_id: int) -> User | None:
    row = (
        await db.execute(
            select(Employee, AgentPreference.ui_language)
            .outerjoin(AgentPreference, AgentPreference.employee_id == Employee.id)
            .where(Employee.id == employee_id, Employee.active.is_(True))
        )
    ).first()
    if row is None:
        return None
    employee, ui_language = row
    language = ui_language or next((x for x in employee.languages if x in LANGUAGES), "sl")
    return User(
        id=employee.id,
        login=employee.login,
        full_name=employee.full_name,
        role=Role(employee.role),
        legal_entity=employee.legal_entity,
        org_unit=employee.org_unit,
        language=language,
    )


def _refuse_anonymous(request: web.Request, as_json: bool) -> web.StreamResponse:
    if as_json:
        raise web.HTTPUnauthorized(text="sign in first")
    if request.headers.get("HX-Request"):
        raise web.HTTPUnauthorized(headers={"HX-Redirect": "/login"})
    raise web.HTTPFound("/login")


def guarded(
    permission: Permission | None, as_json: bool, streamed: bool = False
) -> Callable[[Handler], Handler]:
    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def wrapper(request: web.Request) -> web.StreamResponse:
            session = await get_session(request)
            uid = session.get("uid")
            store = request.app[STORE]
            user = None
            if isinstance(uid, int):
                async with store.sessions() as db:
                    user = await load_user(db, uid)
            if user is None:
                return _refuse_anonymous(request, as_json)
            if request.method not in SAFE_METHODS:
                if streamed:
                    check_origin(request)  # the handler checks the token as it reads
                else:
                    await check_csrf(request, session)
            if permission is not None and not user.may(permission):
                log.warning("permission_refused", user=user.login, permission=permission)
                raise web.HTTPForbidden(text="your role does not allow this")

            _touch(session)
            request[USER] = user
            set_language(user.language)
            return await handler(request)

        wrapper.stik_guarded = True  # type: ignore[attr-defined]
        return wrapper

    return decorate


def page(
    permission: Permission | None = None, *, streamed: bool = False
) -> Callable[[Handler], Handler]:
    """Guard an HTML handler: sign-in, role permission and CSRF.

    A `streamed` handler reads a large multipart body itself (uploads): it must check
    the `csrf_token` field with `csrf_matches` before it uses any other part.
    """
    return guarded(permission, as_json=False, streamed=streamed)


def api(permission: Permission | None = None) -> Callable[[Handler], Handler]:
    """Guard a JSON handler the same way, answering 401 instead of redirecting."""
    return guarded(permission, as_json=True)


def _touch(session: Session) -> None:
    now = int(utcnow().timestamp())
    seen = session.get("seen")
    if not isinstance(seen, int) or now - seen > TOUCH_EVERY.total_seconds():
        session["seen"] = now


def current_user(request: web.Request) -> User:
    return request[USER]  # type: ignore[no-any-return]


def audit(
    db: AsyncSession,
    user: User,
    action: str,
    entity: str,
    entity_id: object,
    *,
    partner_id: int | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an audit entry to the caller's transaction."""
    db.add(
        AuditEntry(
            actor=user.login,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            partner_id=partner_id,
            legal_entity=user.legal_entity,
            details=details or {},
        )
    )
