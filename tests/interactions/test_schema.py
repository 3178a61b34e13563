"""Migrations up and down on both databases, and the schema matching the models."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from interactions import schema
from interactions.models import Base
from interactions.store import Store


async def test_migrations_down_and_up_again(store: Store) -> None:
    assert await schema.is_current(store.engine)

    await schema.downgrade(store.engine, "base")
    async with store.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert set(tables) <= {"alembic_version"}
    assert await schema.current_revision(store.engine) is None

    await schema.upgrade(store.engine)
    assert await schema.current_revision(store.engine) == schema.head_revision()


async def test_migrated_schema_matches_the_models(store: Store) -> None:
    def differences(connection):
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        return compare_metadata(context, Base.metadata)

    async with store.engine.connect() as conn:
        diff = await conn.run_sync(differences)
    assert diff == []
