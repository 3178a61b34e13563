"""Outgoing email: the small interface a reply is handed to, and its embedded default.

With an SMTP server configured, the email channel replaces `EmlOutbox` with its own
sender (kept, recorded on the ticket, retried) by putting it under
`agent_ui.keys.SENDER`; the workspace only builds the message and records it.
"""

import asyncio
from email.message import EmailMessage
from pathlib import Path
from typing import Protocol

import structlog

log = structlog.get_logger(__name__)


class MailSender(Protocol):
    async def send(
        self, message: EmailMessage, *, ticket_id: int | None = None, automatic: bool = False
    ) -> None:
        """Send `message` (about `ticket_id`) or raise; returning means it was accepted."""


class EmlOutbox:
    """Writes each message as an .eml file into a folder (`<data dir>/outbox`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(
        self, message: EmailMessage, *, ticket_id: int | None = None, automatic: bool = False
    ) -> None:
        message_id = str(message["Message-ID"] or "").strip("<>")
        name = "".join(c if c.isalnum() or c in "-_.@" else "_" for c in message_id)
        data = bytes(message)
        await asyncio.to_thread(self._write, f"{name or 'message'}.eml", data)
        log.info("reply_written_to_outbox", size=len(data))

    def _write(self, name: str, data: bytes) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self.folder / f".{name}.tmp"
        temporary.write_bytes(data)
        temporary.replace(self.folder / name)
