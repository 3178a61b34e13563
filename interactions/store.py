"""The store handle every package is given: engine, sessions, event bus and plug-ins.

Matching, triage and routing plug into `record_contact` through the hooks held here,
so that `interactions` never imports the packages that build on it.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from interactions.db import create_engine, session_factory
from interactions.events import EventBus
from interactions.resolution import Resolution

if TYPE_CHECKING:
    from interactions.contacts import InboundContact

Resolver = Callable[[AsyncSession, "InboundContact"], Awaitable[Resolution]]
Classifier = Callable[["InboundContact"], dict[str, Any]]
#: Adjusts a classification once the partner is known, inside the recording transaction.
Refiner = Callable[
    [AsyncSession, "InboundContact", Resolution, dict[str, Any]], Awaitable[dict[str, Any]]
]


@dataclass
class Store:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: EventBus = field(default_factory=EventBus)
    resolver: Resolver | None = None
    classifier: Classifier | None = None
    refiner: Refiner | None = None
    default_legal_entity: str = "supplier"

    @classmethod
    def open(cls, url: str, **kwargs: Any) -> "Store":
        engine = create_engine(url)
        return cls(engine=engine, sessions=session_factory(engine), **kwargs)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    async def close(self) -> None:
        await self.engine.dispose()
