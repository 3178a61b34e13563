"""The email channel inside the app and the CLI: drop folder, readiness, import."""

import asyncio
import mailbox
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer
from click.testing import CliRunner
from sqlalchemy import func, select

from interactions import schema
from interactions.models import Activity
from interactions.store import Store
from stik.app import create_app
from stik.cli import main
from stik.config import Settings
from tests.channels.email.conftest import build_mail


async def inbound(store: Store) -> int:
    async with store.sessions() as session:
        query = select(func.count()).select_from(Activity).where(Activity.direction == "inbound")
        return await session.scalar(query) or 0


async def test_app_reads_the_drop_folder_and_shows_email_state_in_readyz(
    store: Store, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, extra={"email": {"drop_poll_seconds": 0.1}})
    new = tmp_path / "maildrop" / "new"
    new.mkdir(parents=True)
    (new / "a.eml").write_bytes(build_mail(message_id="<app@x>"))
    app = create_app(settings, store)

    async with TestClient(TestServer(app)) as client:
        for _ in range(200):
            if await inbound(store) == 1 and not list(new.iterdir()):
                break
            await asyncio.sleep(0.05)
        response = await client.get("/readyz")
        body = await response.json()

    assert await inbound(store) == 1
    assert (tmp_path / "maildrop" / "cur" / "a.eml:2,S").exists()
    assert response.status == 200
    assert body["email"]["maildrop"]["state"] == "ok"
    assert body["email"]["maildrop"]["processed"] == 1
    assert body["email"]["maildrop"]["last_ok_at"] is not None
    assert body["email"]["mailboxes"] == {}
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1  # the acknowledgement


def test_cli_imports_a_folder_and_an_mbox_once(tmp_path: Path) -> None:
    database = tmp_path / "stik.db"
    folder = tmp_path / "export"
    folder.mkdir()
    for n in range(3):
        (folder / f"{n}.eml").write_bytes(build_mail(message_id=f"<f{n}@x>"))
    (folder / "notes.txt").write_text("not a mail")
    box = mailbox.mbox(str(tmp_path / "export.mbox"))
    for n in range(2):
        box.add(build_mail(message_id=f"<b{n}@x>"))
    box.close()
    env = {"STIK_DATA_DIR": str(tmp_path), "STIK_DATABASE_URL": f"sqlite:///{database}"}
    runner = CliRunner()

    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    first = runner.invoke(main, ["email", "import", str(folder)], env=env)
    again = runner.invoke(main, ["email", "import", str(folder)], env=env)
    mbox = runner.invoke(main, ["email", "import", str(tmp_path / "export.mbox")], env=env)

    assert "3 mails read, 3 new activities" in first.output, first.output
    assert "3 mails read, 0 new activities, 3 already there" in again.output
    assert "2 mails read, 2 new activities" in mbox.output, mbox.output
    assert not (tmp_path / "outbox").exists()  # an import acknowledges nobody

    async def count() -> int:
        store = Store.open(f"sqlite:///{database}")
        try:
            assert await schema.is_current(store.engine)
            return await inbound(store)
        finally:
            await store.close()

    assert asyncio.run(count()) == 5


def test_cli_fetch_reads_the_drop_folder_and_sends_the_acknowledgement(tmp_path: Path) -> None:
    env = {"STIK_DATA_DIR": str(tmp_path), "STIK_DATABASE_URL": f"sqlite:///{tmp_path}/s.db"}
    new = tmp_path / "maildrop" / "new"
    new.mkdir(parents=True)
    (new / "a.eml").write_bytes(build_mail(message_id="<fetch@x>"))
    runner = CliRunner()

    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(main, ["email", "fetch"], env=env)

    assert "1 from the drop folder, 0 from mailboxes" in result.output, result.output
    (ack,) = (tmp_path / "outbox").glob("*.eml")
    assert b"Auto-Submitted: auto-generated" in ack.read_bytes()
