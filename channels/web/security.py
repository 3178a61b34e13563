"""The form's defences: signed CSRF tokens and rate limits shared through the database."""

import base64
import contextlib
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from channels.web.models import WebRateCounter
from interactions.store import Store

CSRF_COOKIE = "stik_form"
CSRF_MAX_AGE = 4 * 3600


def load_secret(configured: str | None, data_dir: Path) -> bytes:
    """Return the signing key: the configured one, else one kept in the data directory."""
    if configured:
        return configured.encode()
    path = data_dir / "web_secret"
    if not path.exists():
        data_dir.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class CsrfSigner:
    """Tokens bound to the browser's cookie: `issued.mac`, valid for four hours."""

    secret: bytes

    def new_cookie(self) -> str:
        return secrets.token_urlsafe(18)

    def token(self, cookie: str, now: float | None = None) -> str:
        issued = int(now if now is not None else time.time())
        return f"{issued}.{self._mac(cookie, issued)}"

    def check(self, cookie: str | None, token: str | None, now: float | None = None) -> bool:
        """Return whether `token` was issued by us, for this cookie, and is not stale."""
        if not cookie or not token or token.count(".") != 1:
            return False
        issued_text, mac = token.split(".")
        if not (issued_text.isascii() and issued_text.isdigit()) or len(issued_text) > 12:
            return False
        issued = int(issued_text)
        current = now if now is not None else time.time()
        if not (current - CSRF_MAX_AGE <= issued <= current + 60):
            return False
        return hmac.compare_digest(mac, self._mac(cookie, issued))

    def _mac(self, cookie: str, issued: int) -> str:
        digest = hmac.new(self.secret, f"csrf|{cookie}|{issued}".encode(), hashlib.sha256)
        return base64.urlsafe_b64encode(digest.digest()[:18]).decode()


@dataclass(frozen=True)
class RateLimit:
    """At most `limit` hits per key in each fixed window of `window` seconds."""

    limit: int
    window: int


class RateLimiter:
    """Counts hits per key and window in the database, so that all nodes count together."""

    def __init__(self, store: Store, secret: bytes) -> None:
        self.store = store
        self.secret = secret

    @contextlib.asynccontextmanager
    async def _connection(self) -> AsyncIterator[AsyncConnection]:
        """A connection whose statements commit at once: one round trip on PostgreSQL."""
        if self.store.dialect != "postgresql":
            async with self.store.engine.begin() as conn:
                yield conn
            return
        async with self.store.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    def key(self, kind: str, value: str) -> str:
        """A key that names no person: kind plus a keyed hash of the value."""
        digest = hmac.new(self.secret, f"{kind}|{value}".encode(), hashlib.sha256).hexdigest()
        return f"{kind}:{digest[:40]}"

    async def hit(self, key: str, rule: RateLimit, now: float | None = None) -> bool:
        """Count one hit; return whether the key is still within its limit."""
        return not await self.over_limit({key: rule}, now)

    async def over_limit(self, rules: dict[str, RateLimit], now: float | None = None) -> list[str]:
        """Count one hit on each key in one statement; return the keys past their limit."""
        current = now if now is not None else time.time()
        periods = {key: int(current // rule.window) for key, rule in rules.items()}
        dialect = postgresql if self.store.dialect == "postgresql" else sqlite
        table = WebRateCounter.__table__
        stmt = dialect.insert(table).values(
            [{"key": key, "period": period, "hits": 1} for key, period in periods.items()]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["key", "period"], set_={"hits": table.c.hits + 1}
        ).returning(table.c.key, table.c.hits)
        async with self._connection() as conn:
            counted = {key: hits for key, hits in await conn.execute(stmt)}
            if secrets.randbelow(500) == 0:
                oldest = min(periods.values()) - 1
                await conn.execute(table.delete().where(table.c.period < oldest))
        return [key for key, rule in rules.items() if counted.get(key, 0) > rule.limit]
