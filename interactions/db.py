"""Engines and sessions for SQLite (embedded default) and PostgreSQL (scale-out)."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

T = TypeVar("T")


def async_url(url: str) -> str:
    """Return `url` with the async driver Stik uses for its database."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return str(parsed.set(drivername="sqlite+aiosqlite"))
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg").render_as_string(hide_password=False)
    raise ValueError(f"unsupported database {backend!r}: use sqlite or postgresql")


def sync_url(url: str) -> str:
    """Return `url` with a synchronous driver, for Alembic's offline tools."""
    parsed = make_url(async_url(url))
    driver = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg2"
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def plain_dsn(url: str) -> str:
    """Return a libpq-style DSN for `url`, for connections made without SQLAlchemy."""
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    """Create an engine; on SQLite, with WAL, foreign keys and write-locking transactions.

    SQLite transactions start with BEGIN IMMEDIATE so that two writers wait for each
    other (busy timeout) instead of failing on a lock upgrade.
    """
    url = async_url(url)
    if make_url(url).get_backend_name() != "sqlite":
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        # No ping before every transaction: it doubled the round trips of short ones. A
        # connection that died with a server restart fails once, is dropped with the rest
        # of the pool, and the caller's retry (503, poller backoff) gets a fresh one.
        kwargs.setdefault("pool_pre_ping", False)
        kwargs.setdefault("pool_recycle", 1800)
        return create_async_engine(url, **kwargs)

    engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(
    sessions: async_sessionmaker[AsyncSession],
) -> AsyncIterator[AsyncSession]:
    """Open a session in a transaction that commits on success and rolls back on error."""
    async with sessions() as session, session.begin():
        yield session


def is_sqlite(engine: AsyncEngine) -> bool:
    return engine.dialect.name == "sqlite"


def is_retryable(exc: BaseException) -> bool:
    """Tell whether a database error is a lock or serialisation conflict worth retrying."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = getattr(exc, "orig", None)
    sqlstate = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if sqlstate in ("40001", "40P01"):
        return True
    return isinstance(exc, OperationalError) and "locked" in str(exc).lower()


async def retrying(attempt: Callable[[], Awaitable[T]], tries: int = 5) -> T:
    """Run `attempt`, repeating it on lock conflicts with a short growing pause."""
    for n in range(tries):
        try:
            return await attempt()
        except DBAPIError as exc:
            if n == tries - 1 or not is_retryable(exc):
                raise
            await asyncio.sleep(0.01 * 2**n)
    raise AssertionError("unreachable")
