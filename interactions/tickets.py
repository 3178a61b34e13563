"""Ticket numbers: `YYYY-NNNNNN`, unique and without gaps in normal operation, per year."""

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from interactions.identifiers import format_ticket_number

# One statement on both databases: the row is created for a new year, or incremented
# under its row lock (PostgreSQL) or the write lock (SQLite) until the transaction ends.
_NEXT = text(
    "INSERT INTO ticket_sequence (year, last) VALUES (:year, 1) "
    "ON CONFLICT (year) DO UPDATE SET last = ticket_sequence.last + 1 "
    "RETURNING last"
)


async def allocate_ticket_number(session: AsyncSession, year: int) -> str:
    """Return the next ticket number of `year`, held until the caller's transaction ends."""
    sequence = (await session.execute(_NEXT, {"year": year})).scalar_one()
    return format_ticket_number(year, sequence)
