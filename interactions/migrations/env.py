"""Alembic environment: runs migrations on the async engine Stik is configured with."""

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import agent_ui.models  # noqa: F401  (the workspace's tables)
import channels.email.models
import channels.web.models  # noqa: F401  (with the line above: the channels' tables)
import interactions.triage.models  # noqa: F401  (registers the triage tables)
import routing.models  # noqa: F401  (routing's tables share the metadata)
from interactions.db import create_engine
from interactions.models import Base

config = context.config
target_metadata = Base.metadata


def run_with(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def run_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as conn:
        await conn.run_sync(run_with)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=target_metadata)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run_with(config.attributes["connection"])
else:
    asyncio.run(run_online())
