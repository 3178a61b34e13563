"""`stik users add` and `stik users list`, and signing in as the user it made."""

import asyncio
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from interactions.models import Employee
from interactions.store import Store
from stik.cli import main


async def run(store: Store, tmp_path: Path, *args: str, password: str | None = None) -> Any:
    url = store.engine.url.render_as_string(hide_password=False)
    env = {"STIK_DATABASE_URL": url, "STIK_DATA_DIR": str(tmp_path)}
    if password is not None:
        env["STIK_USER_PASSWORD"] = password
    runner = CliRunner()
    return await asyncio.to_thread(runner.invoke, main, list(args), env=env)


async def test_add_and_list_users(store: Store, tmp_path: Path) -> None:
    from tests.agent_ui import factories

    added = await run(
        store,
        tmp_path,
        "users",
        "add",
        "mojca",
        "--role",
        "supervisor",
        "--legal-entity",
        "dso",
        "--org-unit",
        "call_centre",
        "--full-name",
        "Mojca Zupan",
        password="dolgo geslo 42",
    )
    again = await run(
        store,
        tmp_path,
        "users",
        "add",
        "mojca",
        "--legal-entity",
        "dso",
        "--org-unit",
        "call_centre",
        password="dolgo geslo 42",
    )
    short = await run(
        store,
        tmp_path,
        "users",
        "add",
        "tina",
        "--legal-entity",
        "dso",
        "--org-unit",
        "call_centre",
        password="kratko",
    )
    nowhere = await run(
        store,
        tmp_path,
        "users",
        "add",
        "tina",
        "--legal-entity",
        "elsewhere",
        "--org-unit",
        "call_centre",
        password="dolgo geslo 42",
    )
    listed = await run(store, tmp_path, "users", "list")

    assert added.exit_code == 0, added.output
    assert again.exit_code != 0 and "taken" in again.output
    assert short.exit_code != 0 and "10 characters" in short.output
    assert nowhere.exit_code != 0 and "no legal entity" in nowhere.output
    assert "mojca\tsupervisor\tdso\tcall_centre\tactive" in listed.output
    async with store.sessions() as db:
        mojca = await db.scalar(select(Employee).where(Employee.login == "mojca"))
    assert mojca is not None and mojca.password_hash and "dolgo" not in mojca.password_hash

    client = await factories.client(store, tmp_path)
    try:
        await factories.sign_in(client, "mojca", "dolgo geslo 42")
        assert (await client.get("/team", allow_redirects=False)).status == 200
    finally:
        await client.close()


def test_password_is_asked_for_when_not_in_the_environment(tmp_path: Path) -> None:
    db = tmp_path / "stik.db"
    env = {"STIK_DATABASE_URL": f"sqlite:///{db}", "STIK_DATA_DIR": str(tmp_path)}
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"], env=env).exit_code == 0
    result = runner.invoke(
        main,
        ["users", "add", "eva", "--legal-entity", "supplier", "--org-unit", "info_office"],
        env=env,
        input="dolgo geslo 42\ndolgo geslo 42\n",
    )
    assert result.exit_code == 0, result.output
    assert "dolgo geslo" not in result.output
