"""Shared fixtures: every store test runs on SQLite and on a real PostgreSQL.

PostgreSQL is reached at $STIK_TEST_POSTGRES_URL (default: the local server's `test`
database); the tests create and use their own database beside it, one per checkout
(`stik_test_<hash>`, or $STIK_TEST_DATABASE). Where PostgreSQL cannot be reached the
PostgreSQL half skips with the reason, except under STIK_REQUIRE_ALL=1 (as in CI),
where such a skip is a failure.
"""

import hashlib
import os
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

import agent_ui.models  # noqa: F401  (so that _empty sees the workspace's tables)
from interactions import schema
from interactions.models import Base
from interactions.store import Store

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
POSTGRES_ADMIN_URL = os.environ.get(
    "STIK_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
#: One database per checkout, so that two work trees can run their tests side by side.
TEST_DATABASE = os.environ.get(
    "STIK_TEST_DATABASE",
    "stik_test_" + hashlib.sha1(str(Path(__file__).resolve().parent).encode()).hexdigest()[:8],
)

#: Tables whose rows the migrations seed; emptying between tests keeps them.
SEEDED_TABLES = frozenset(
    {"legal_entity", "calendar", "sla_policy", "reply_template", "triage_category", "triage_rule"}
)


def require_all() -> bool:
    return os.environ.get("STIK_REQUIRE_ALL") == "1"


def missing(reason: str) -> None:
    """Skip for a missing component, or fail when every component is required."""
    if require_all():
        pytest.fail(f"STIK_REQUIRE_ALL=1 but {reason}")
    pytest.skip(reason)


def corpus_path(*parts: str) -> Path:
    path = CORPUS.joinpath(*parts)
    if not path.exists():
        missing(f"the shared corpus is absent ({path} not found)")
    return path


async def _ensure_postgres_database() -> str:
    admin = make_url(POSTGRES_ADMIN_URL)
    dsn = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", TEST_DATABASE)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{TEST_DATABASE}"')
    finally:
        await conn.close()
    return admin.set(database=TEST_DATABASE).render_as_string(hide_password=False)


_prepared: dict[str, str] = {}


async def postgres_url() -> str:
    """Return the URL of the migrated PostgreSQL test database, preparing it once."""
    if "url" not in _prepared:
        try:
            url = await _ensure_postgres_database()
        except (OSError, asyncpg.PostgresError) as exc:
            missing(f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {exc}")
        store = Store.open(url)
        await schema.downgrade(store.engine, "base")
        await schema.upgrade(store.engine)
        await store.close()
        _prepared["url"] = url
    return _prepared["url"]


async def sqlite_template(factory: pytest.TempPathFactory) -> Path:
    """Return a migrated SQLite file to copy, made once per test session."""
    if "sqlite" not in _prepared:
        path = factory.mktemp("template") / "stik.db"
        store = Store.open(f"sqlite:///{path}")
        await schema.upgrade(store.engine)
        await store.close()
        _prepared["sqlite"] = str(path)
    return Path(_prepared["sqlite"])


async def _empty(store: Store) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables) if t.name not in SEEDED_TABLES]
    async with store.engine.begin() as conn:
        for table in tables:  # DELETE beats TRUNCATE on the few rows a test leaves
            await conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=["sqlite", "postgresql"])
async def store(
    request: pytest.FixtureRequest, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Store]:
    """A migrated, empty store on each database."""
    if request.param == "sqlite":
        path = tmp_path / "stik.db"
        shutil.copyfile(await sqlite_template(tmp_path_factory), path)
        store = Store.open(f"sqlite:///{path}")
    else:
        store = Store.open(await postgres_url())
        await _empty(store)
    yield store
    await store.close()
