"""Alembic migrations of Stik's schema, run by `stik db upgrade` and at start-up."""
