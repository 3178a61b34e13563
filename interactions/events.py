"""A small in-process event bus between packages (ticket opened, activity recorded).

Handlers run after the change they describe has been committed. A failing handler
is logged and does not affect the publisher or the other handlers.
"""

from collections import defaultdict
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

log = structlog.get_logger(__name__)

Handler = Callable[[str, dict[str, Any]], Awaitable[None]]


class EventBus:
    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    def subscribe(self, event: str, handler: Handler) -> None:
        """Call `handler(event, payload)` for every `event`; "*" subscribes to all."""
        self._handlers[event].append(handler)

    async def publish(self, event: str, payload: dict[str, Any]) -> None:
        for handler in [*self._handlers.get(event, ()), *self._handlers.get("*", ())]:
            try:
                await handler(event, payload)
            except Exception:
                log.exception("event_handler_failed", event=event)
