"""IMAP intake with imapclient, kept off the event loop in worker threads.

A mailbox is read by UID above the last one committed (per UIDVALIDITY). Each mail
is flagged `\\Seen` (or moved) and the position advanced only after its activity is
committed, so a lost connection or a restart re-reads at most one mail, and the
Message-ID makes that re-read harmless. Errors back off and show in `/readyz`.
"""

import asyncio
import contextlib
import random
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from imapclient import IMAPClient
from sqlalchemy import select

from channels.email.intake import ingest
from channels.email.models import MailboxState
from channels.email.outbound import Transport
from channels.email.settings import EmailSettings, MailboxSettings, tls_context
from interactions.contacts import insert_ignoring_conflicts
from interactions.db import retrying
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

BATCH = 25
MAX_BACKOFF_SECONDS = 300.0


@dataclass
class MailboxStatus:
    """What /readyz shows for one mailbox."""

    state: str = "starting"  # starting | ok | error
    last_ok_at: datetime | None = None
    last_error: str | None = None
    failures: int = 0
    processed: int = 0
    idle: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "last_ok_at": self.last_ok_at.isoformat() if self.last_ok_at else None,
            "last_error": self.last_error,
            "failures": self.failures,
            "processed": self.processed,
            "idle": self.idle,
        }


def connect(mailbox: MailboxSettings) -> IMAPClient:
    """Open and log in to the mailbox's server (blocking; call in a thread)."""
    context = tls_context(mailbox.ca_file)
    client = IMAPClient(
        mailbox.host,
        port=mailbox.port,
        ssl=mailbox.security == "tls",
        ssl_context=context if mailbox.security == "tls" else None,
        timeout=mailbox.timeout_seconds,
    )
    try:
        if mailbox.security == "starttls":
            client.starttls(context)
        client.login(mailbox.user, mailbox.password)
    except Exception:
        _close(client)
        raise
    return client


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:
        with contextlib.suppress(Exception):
            client.shutdown()


def _idle_once(client: IMAPClient, timeout: float) -> None:
    """Enter IDLE, wait up to `timeout` for news, and leave IDLE (blocking)."""
    client.idle()
    try:
        client.idle_check(timeout)
    finally:
        client.idle_done()


@dataclass
class MailboxReader:
    """Reads one mailbox: `fetch_new` once, or `run` forever with IDLE or polling."""

    store: Store
    settings: EmailSettings
    mailbox: MailboxSettings
    transport: Transport | None = None
    status: MailboxStatus = field(default_factory=MailboxStatus)
    _idling: "asyncio.Future[None] | None" = field(default=None, init=False, repr=False)

    async def fetch_new(self, client: IMAPClient | None = None) -> int:
        """Ingest every mail above the committed position; return how many."""
        own = client is None
        if client is None:
            client = await asyncio.to_thread(connect, self.mailbox)
        try:
            return await self._fetch(client)
        finally:
            if own:
                await asyncio.to_thread(_close, client)

    async def _fetch(self, client: IMAPClient) -> int:
        selected = await asyncio.to_thread(client.select_folder, self.mailbox.folder)
        uidvalidity = int(selected[b"UIDVALIDITY"])
        last_uid = await self._position(uidvalidity)
        uids = await asyncio.to_thread(client.search, ["UID", f"{last_uid + 1}:*"])
        uids = sorted(u for u in uids if u > last_uid)
        count = 0
        for start in range(0, len(uids), BATCH):
            batch = uids[start : start + BATCH]
            sizes = await asyncio.to_thread(client.fetch, batch, ["RFC822.SIZE"])
            for uid in batch:
                size = int(sizes.get(uid, {}).get(b"RFC822.SIZE", 0))
                raw = await self._raw(client, uid, size)
                if raw is None:
                    continue  # expunged meanwhile
                await ingest(
                    self.store,
                    raw,
                    self.settings,
                    self.mailbox,
                    size=size or len(raw),
                    transport=self.transport,
                )
                await asyncio.to_thread(self._done, client, uid)
                await self._advance(uidvalidity, uid)
                count += 1
                self.status.processed += 1
        return count

    async def _raw(self, client: IMAPClient, uid: int, size: int) -> bytes | None:
        """Fetch the whole mail, or only its header when it is over the size limit."""
        if size > self.settings.max_message_bytes:
            part = await asyncio.to_thread(client.fetch, [uid], ["BODY.PEEK[HEADER]"])
            header = part.get(uid, {}).get(b"BODY[HEADER]")
            return header  # ingest refuses the body with a reason, keeping who and what
        fetched = await asyncio.to_thread(client.fetch, [uid], ["BODY.PEEK[]"])
        return fetched.get(uid, {}).get(b"BODY[]")

    def _done(self, client: IMAPClient, uid: int) -> None:
        """Flag or move a committed mail (blocking)."""
        if not self.mailbox.done_folder:
            client.add_flags([uid], [b"\\Seen"])
            return
        if client.has_capability("MOVE"):
            client.move([uid], self.mailbox.done_folder)
            return
        client.copy([uid], self.mailbox.done_folder)
        client.delete_messages([uid])
        client.uid_expunge([uid]) if client.has_capability("UIDPLUS") else client.expunge()

    async def _position(self, uidvalidity: int) -> int:
        async with self.store.sessions() as session:
            state = await session.get(MailboxState, self.mailbox.name)
        if state is None or state.uidvalidity != uidvalidity:
            if state is not None:
                log.warning("imap_uidvalidity_changed", mailbox=self.mailbox.name)
            return 0
        return state.last_uid

    async def _advance(self, uidvalidity: int, uid: int) -> None:
        async def write() -> None:
            async with self.store.sessions() as session, session.begin():
                await session.execute(
                    insert_ignoring_conflicts(session, MailboxState).values(
                        mailbox=self.mailbox.name, uidvalidity=uidvalidity, last_uid=0
                    )
                )
                state = await session.scalar(
                    select(MailboxState)
                    .where(MailboxState.mailbox == self.mailbox.name)
                    .with_for_update()
                )
                assert state is not None
                if state.uidvalidity != uidvalidity:
                    state.uidvalidity, state.last_uid = uidvalidity, 0
                state.last_uid = max(state.last_uid, uid)
                state.updated_at = utcnow()

        await retrying(write)

    async def run(self) -> None:
        """Read the mailbox until cancelled, waiting with IDLE or polling between reads."""
        while True:
            client: IMAPClient | None = None
            try:
                client = await asyncio.to_thread(connect, self.mailbox)
                while True:
                    await self.fetch_new(client)
                    self._ok()
                    await self._wait(client)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._failed(exc)
            finally:
                if self._idling is not None and not self._idling.done():
                    await asyncio.wait([self._idling], timeout=self.mailbox.poll_seconds + 5)
                self._idling = None
                if client is not None:
                    await asyncio.to_thread(_close, client)

    async def _wait(self, client: IMAPClient) -> None:
        """Wait for new mail: IDLE when the server has it, else sleep the poll interval."""
        timeout = self.mailbox.poll_seconds
        if not (self.mailbox.idle and await asyncio.to_thread(client.has_capability, "IDLE")):
            self.status.idle = False
            await asyncio.sleep(timeout)
            return
        self.status.idle = True
        # One thread runs the whole IDLE exchange, so that a cancelled wait never leaves
        # the connection half in IDLE; `run` lets it finish before logging out.
        self._idling = asyncio.ensure_future(asyncio.to_thread(_idle_once, client, timeout))
        await asyncio.shield(self._idling)

    def _ok(self) -> None:
        self.status.state, self.status.failures = "ok", 0
        self.status.last_ok_at, self.status.last_error = utcnow(), None

    async def _failed(self, exc: Exception) -> None:
        self.status.state = "error"
        self.status.failures += 1
        self.status.last_error = type(exc).__name__
        pause = min(2.0**self.status.failures, MAX_BACKOFF_SECONDS) * random.uniform(0.8, 1.2)
        log.warning(
            "imap_mailbox_failed",
            mailbox=self.mailbox.name,
            error=type(exc).__name__,
            failures=self.status.failures,
            retry_in_s=round(pause, 1),
        )
        await asyncio.sleep(pause)
