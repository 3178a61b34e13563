"""Server-side sessions for aiohttp-session: the cookie is a random token, data stays here.

Only the token's SHA-256 is stored, so a leaked table does not open sessions. A session
ends when idle too long or too old, on sign-out, and is replaced on sign-in (a token
known before sign-in is worthless after it).
"""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from aiohttp_session import AbstractStorage, Session
from sqlalchemy import delete, select

from agent_ui.models import WebSession
from interactions.db import retrying
from interactions.store import Store
from interactions.types import utcnow

COOKIE = "stik_session"
#: A session that never signed in (the sign-in form's CSRF token) is kept this long.
ANONYMOUS_IDLE = timedelta(minutes=30)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DatabaseStorage(AbstractStorage):
    """Keeps session data in the `web_session` table, shared by every Stik node."""

    def __init__(
        self,
        store: Store,
        *,
        idle: timedelta = timedelta(hours=8),
        lifetime: timedelta = timedelta(hours=12),
        secure: bool = False,
    ) -> None:
        super().__init__(cookie_name=COOKIE, httponly=True, samesite="Lax", secure=secure)
        self.store = store
        self.idle = idle
        self.lifetime = lifetime

    async def load_session(self, request: web.Request) -> Session:
        token = self.load_cookie(request)
        if not token or len(token) > 100:
            return Session(None, data=None, new=True)
        async with self.store.sessions() as session:
            row = await session.get(WebSession, token_hash(token))
        if row is None or row.expires_at <= utcnow():
            return Session(None, data=None, new=True)
        created = int(row.created_at.timestamp())
        return Session(token, data={"created": created, "session": row.data}, new=False)

    async def save_session(
        self, request: web.Request, response: web.StreamResponse, session: Session
    ) -> None:
        if session.empty:
            if session.identity:
                await self.forget(session.identity)
            self.save_cookie(response, "", max_age=0)
            return

        token = session.identity
        if token is None:
            token = secrets.token_urlsafe(32)
            session.set_new_identity(token)
        data: dict[str, Any] = dict(session)
        created = datetime.fromtimestamp(session.created, UTC)
        idle = self.idle if data.get("uid") else ANONYMOUS_IDLE
        expires = min(utcnow() + idle, created + self.lifetime)
        await retrying(lambda: self._write(token, data, created, expires))
        self.save_cookie(response, token)

    async def _write(
        self, token: str, data: dict[str, Any], created: datetime, expires: datetime
    ) -> None:
        async with self.store.sessions() as session, session.begin():
            row = await session.get(WebSession, token_hash(token))
            if row is None:
                row = WebSession(token_hash=token_hash(token), created_at=created)
                session.add(row)
            row.data = data
            row.employee_id = data.get("uid")
            row.expires_at = expires

    async def forget(self, token: str) -> None:
        """End the session behind `token` on every node."""
        async with self.store.sessions() as session, session.begin():
            await session.execute(
                delete(WebSession).where(WebSession.token_hash == token_hash(token))
            )

    async def forget_expired(self) -> int:
        async with self.store.sessions() as session, session.begin():
            stale = select(WebSession.token_hash).where(WebSession.expires_at <= utcnow())
            hashes = list((await session.scalars(stale)).all())
            if hashes:
                await session.execute(delete(WebSession).where(WebSession.token_hash.in_(hashes)))
        return len(hashes)
