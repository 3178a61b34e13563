"""`stik routing`: staffing, rules in words and the sweep, through the real CLI."""

import asyncio

from click.testing import CliRunner

from interactions.store import Store
from stik.cli import main
from tests.routing.factories import add_queue


def test_staffing_answers_with_the_design_reference() -> None:
    result = CliRunner().invoke(
        main, ["routing", "staffing", "--arrivals", "100", "--agents", "13"]
    )

    assert result.exit_code == 0, result.output
    assert "load 10.00 Erlang: 14 agents give service level 0.888, ASA 7.8 s" in result.output
    assert "13 agents give service level 0.796" in result.output


def test_staffing_refuses_a_service_level_outside_zero_and_one() -> None:
    result = CliRunner().invoke(
        main, ["routing", "staffing", "--arrivals", "100", "--level", "1.5"]
    )

    assert result.exit_code == 2
    assert "--level" in result.output


def test_rules_and_sweep_on_a_fresh_database(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("STIK_DATABASE_URL", url)
    monkeypatch.setenv("STIK_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    assert runner.invoke(main, ["db", "upgrade"]).exit_code == 0

    async def add() -> None:
        store = Store.open(url)
        await add_queue(store, "calls", rules={"overflow": [{"after_s": 60, "action": "callback"}]})
        await add_queue(store, "broken", rules={"agent_order": "random"})
        await store.close()

    asyncio.run(add())
    told = runner.invoke(main, ["routing", "rules"])
    swept = runner.invoke(main, ["routing", "sweep"])

    assert told.exit_code == 0, told.output
    assert "After 60 s of waiting, the caller is offered callback." in told.output
    assert "RULES NOT USABLE: agent_order must be one of" in told.output
    assert swept.exit_code == 0, swept.output
    assert "offers expired 0" in swept.output
