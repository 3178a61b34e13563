"""The email channel's background work inside `stik serve`: readers and the sender."""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import structlog

from channels.email.imap import MailboxReader, MailboxStatus
from channels.email.maildrop import process_drop_folder
from channels.email.outbound import Transport, deliver_due, transport_for
from channels.email.settings import EmailSettings
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)


@dataclass
class EmailService:
    """Starts and stops the drop-folder reader, one reader per mailbox, and the sender."""

    store: Store
    settings: EmailSettings
    transport: Transport = field(init=False)
    readers: list[MailboxReader] = field(default_factory=list)
    drop_status: MailboxStatus = field(default_factory=MailboxStatus)
    sender_status: MailboxStatus = field(default_factory=MailboxStatus)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.transport = transport_for(self.settings)
        self.readers = [
            MailboxReader(self.store, self.settings, m, self.transport)
            for m in self.settings.mailboxes
        ]

    def start(self) -> None:
        self.tasks.append(asyncio.create_task(self._loop("maildrop", self._drop, self.drop_status)))
        self.tasks.append(asyncio.create_task(self._loop("sender", self._send, self.sender_status)))
        self.tasks += [asyncio.create_task(r.run()) for r in self.readers]

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.tasks.clear()

    def report(self) -> dict[str, Any]:
        """The channel's state for /readyz."""
        return {
            "maildrop": self.drop_status.as_json(),
            "sender": self.sender_status.as_json(),
            "mailboxes": {r.mailbox.name: r.status.as_json() for r in self.readers},
        }

    async def _drop(self) -> float:
        result = await process_drop_folder(self.store, self.settings, transport=self.transport)
        self.drop_status.processed += result.processed
        return self.settings.drop_poll_seconds

    async def _send(self) -> float:
        await deliver_due(self.store, self.transport, self.settings)
        return self.settings.send_poll_seconds

    async def _loop(
        self, name: str, step: Callable[[], Awaitable[float]], status: MailboxStatus
    ) -> None:
        while True:
            try:
                pause = await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                status.state, status.last_error = "error", type(exc).__name__
                status.failures += 1
                pause = min(2.0**status.failures, 300.0)
                log.warning(
                    "email_background_failed", part=name, error=type(exc).__name__, retry_in_s=pause
                )
            else:
                status.state, status.failures, status.last_error = "ok", 0, None
                status.last_ok_at = utcnow()
            await asyncio.sleep(pause)
