"""IMAP intake against a real Dovecot: exactly once, through cuts, restarts and robots."""

import asyncio
import itertools
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import func, select

from channels.email.imap import MailboxReader
from channels.email.maildrop import process_drop_folder
from channels.email.models import MailboxState
from channels.email.parse import parse_mail
from channels.email.settings import EmailSettings
from interactions.models import Activity
from interactions.store import Store
from interactions.types import utcnow
from tests.channels.email.conftest import (
    TEST_USERS,
    CuttingProxy,
    Dovecot,
    build_mail,
    email_settings,
)

_users = iter(TEST_USERS)


def user() -> str:
    """A fresh mailbox per test, so that tests on both databases do not meet."""
    return next(_users)


def settings_for(
    tmp_path: Path, dovecot: Dovecot, address: str, **mailbox: object
) -> EmailSettings:
    base = email_settings(tmp_path, acknowledge=False)
    return replace(base, mailboxes=(dovecot.mailbox(address, **mailbox), *base.mailboxes))


async def inbound(store: Store) -> list[Activity]:
    async with store.sessions() as session:
        rows = await session.scalars(
            select(Activity).where(Activity.direction == "inbound").order_by(Activity.id)
        )
        return list(rows)


def seen_flags(dovecot: Dovecot, address: str, folder: str = "INBOX") -> list[bool]:
    client = dovecot.client(address)
    try:
        client.select_folder(folder, readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
    finally:
        client.logout()
    return [b"\\Seen" in flags[uid] for uid in sorted(flags)]


_serial = itertools.count()


def mails(count: int, size: int = 0) -> list[bytes]:
    return [
        build_mail(message_id=f"<imap{n}-{next(_serial)}@x>", body=f"Mail {n}\n" + "x" * size)
        for n in range(count)
    ]


async def test_fetch_records_each_mail_once_and_flags_it_after_commit(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = user()
    settings = settings_for(tmp_path, dovecot, address)
    reader = MailboxReader(store, settings, settings.mailboxes[0])
    dovecot.deliver(address, *mails(3))

    first = await reader.fetch_new()
    again = await reader.fetch_new()

    assert (first, again) == (3, 0)
    assert [a.text for a in await inbound(store)] == [f"Mail {n}" for n in range(3)]
    assert seen_flags(dovecot, address) == [True, True, True]
    async with store.sessions() as session:
        state = await session.get_one(MailboxState, settings.mailboxes[0].name)
    assert state.last_uid == 3


async def test_mail_is_moved_to_the_done_folder_when_configured(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = user()
    settings = settings_for(tmp_path, dovecot, address, done_folder="Processed")
    dovecot.deliver(address, *mails(2))
    client = dovecot.client(address)
    client.create_folder("Processed")
    client.logout()

    await MailboxReader(store, settings, settings.mailboxes[0]).fetch_new()

    assert seen_flags(dovecot, address) == []
    assert len(seen_flags(dovecot, address, "Processed")) == 2
    assert len(await inbound(store)) == 2


async def test_bad_middle_mail_does_not_block_the_mailbox(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = user()
    settings = settings_for(tmp_path, dovecot, address)
    middle = (
        b"From: ana.novak@example.si\r\nSubject: x\r\nMessage-ID: <mid@x>\r\n"
        b'Content-Type: text/plain; charset="1252"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'
        + "Café Müller".encode("cp1252")
    )
    garbage = b"\xff\xfe\x00\x01 not a mail at all \r\n\r\n--\r\n"
    dovecot.deliver(address, mails(1)[0], middle, garbage, mails(1)[0])

    count = await MailboxReader(store, settings, settings.mailboxes[0]).fetch_new()

    assert count == 4
    texts = [a.text or "" for a in await inbound(store)]
    assert "Café Müller" in texts[1]
    assert seen_flags(dovecot, address) == [True] * 4


async def test_same_8bit_mail_by_imap_and_drop_folder_is_one_identical_activity(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = user()
    settings = settings_for(tmp_path, dovecot, address)
    crlf = (
        b"From: Ana Novak <ana.novak@example.si>\r\nTo: info@stik.test\r\n"
        b"Subject: Naslov\r\nDate: Mon, 02 Mar 2026 09:30:00 +0100\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + "Ljubljana, Šmartinska 152\r\n".encode()
    )
    lf = crlf.replace(b"\r\n", b"\n")
    drop = settings.maildrop / "new"
    drop.mkdir(parents=True)
    (drop / "one.eml").write_bytes(lf)
    dovecot.deliver(address, crlf)

    await process_drop_folder(store, settings)
    await MailboxReader(store, settings, settings.mailboxes[0]).fetch_new()

    (stored,) = await inbound(store)
    assert stored.text == "Ljubljana, Šmartinska 152"
    from_imap, from_drop = parse_mail(crlf, utcnow()), parse_mail(lf, utcnow())
    assert from_imap.message_id == from_drop.message_id == stored.external_id
    assert (from_imap.subject, from_imap.text) == (from_drop.subject, from_drop.text)
    assert stored.meta["seen_in"] == [address.split("@")[0]]  # the drop folder is no mailbox


async def test_connection_cut_mid_fetch_loses_and_duplicates_nothing(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = user()
    dovecot.deliver(address, *mails(6, size=30_000))
    proxy = CuttingProxy(dovecot.port, limit=100_000)
    cut = settings_for(tmp_path, dovecot, address, port=proxy.port)
    direct = settings_for(tmp_path, dovecot, address)

    with pytest.raises(Exception):  # noqa: B017 - whatever the socket error is called
        await MailboxReader(store, cut, cut.mailboxes[0]).fetch_new()
    partial = len(await inbound(store))
    await MailboxReader(store, direct, direct.mailboxes[0]).fetch_new()
    proxy.close()

    assert proxy.cuts >= 1 and partial < 6
    stored = await inbound(store)
    assert sorted(a.text.split("\n")[0] for a in stored) == [f"Mail {n}" for n in range(6)]
    assert seen_flags(dovecot, address) == [True] * 6


async def test_restart_mid_batch_records_every_mail_exactly_once(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = user()
    settings = settings_for(tmp_path, dovecot, address)
    dovecot.deliver(address, *mails(5))
    reader = MailboxReader(store, settings, settings.mailboxes[0])
    task = asyncio.create_task(reader.fetch_new())
    recorded: list[int] = []

    async def stop_after_two(event: str, payload: dict[str, object]) -> None:
        recorded.append(int(payload["activity_id"]))  # type: ignore[arg-type]
        if len(recorded) == 2:
            task.cancel()  # the process is stopped between commit and flag

    store.bus.subscribe("activity.recorded", stop_after_two)
    with pytest.raises(asyncio.CancelledError):
        await task
    restarted = Store(engine=store.engine, sessions=store.sessions)
    await MailboxReader(restarted, settings, settings.mailboxes[0]).fetch_new()

    stored = await inbound(store)
    assert len(stored) == 5
    assert len({a.external_id for a in stored}) == 5
    assert seen_flags(dovecot, address) == [True] * 5


async def test_oversized_mail_is_refused_from_its_header_and_later_mail_flows(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = user()
    settings = replace(settings_for(tmp_path, dovecot, address), max_message_bytes=1_000_000)
    dovecot.deliver(address, mails(1, size=3_000_000)[0], mails(1)[0])

    await MailboxReader(store, settings, settings.mailboxes[0]).fetch_new()

    big, small = await inbound(store)
    assert "exceeds the limit" in big.meta["refused"]
    assert big.subject == "Števec št. 12345"
    assert small.meta.get("refused") is None
    assert seen_flags(dovecot, address) == [True, True]


async def test_reader_waits_with_idle_and_backs_off_on_bad_login(
    store: Store, dovecot: Dovecot, tmp_path: Path
) -> None:
    address = user()
    settings = settings_for(tmp_path, dovecot, address)
    reader = MailboxReader(store, settings, settings.mailboxes[0])
    wrong = replace(settings.mailboxes[0], user="nobody-here@stik.test")
    failing = MailboxReader(store, settings, wrong)
    running = [asyncio.create_task(reader.run()), asyncio.create_task(failing.run())]
    try:
        await _until(lambda: reader.status.idle and reader.status.state == "ok")
        dovecot.deliver(address, *mails(1))
        await _until(lambda: reader.status.processed == 1)
        await _until(lambda: failing.status.failures >= 1)
    finally:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    assert failing.status.state == "error"
    assert failing.status.last_error is not None and "Login" in failing.status.last_error
    assert reader.status.as_json()["state"] == "ok"
    assert await _count(store) == 1


async def _count(store: Store) -> int:
    async with store.sessions() as session:
        query = select(func.count()).select_from(Activity).where(Activity.direction == "inbound")
        return await session.scalar(query) or 0


async def _until(check: object, seconds: float = 15) -> None:
    for _ in range(int(seconds / 0.05)):
        if check():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition not reached in time")
