"""`stik triage`: classify JSON lines without a server; review, label and retrain."""

import asyncio
import json
import re
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from interactions import InboundContact, record_contact
from interactions.models import Channel
from interactions.store import Store
from interactions.triage import install
from stik.cli import main

EXTRACTED_KEYS = {
    "metering_points", "gsrns", "tax_numbers", "ibans", "readings", "amounts_eur", "dates",
    "ticket_numbers",
}  # fmt: skip


def run(args: list[str], stdin: str = "", env: dict[str, str] | None = None) -> list[dict]:
    result = CliRunner().invoke(main, args, input=stdin, env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.output.splitlines() if line.startswith("{")]


def test_classify_writes_one_json_line_per_message(tmp_path: Path) -> None:
    lines = [
        {"id": "a1", "subject": "Stanje števca",
         "body": "MM 3-345341, stanje na dan 1. 3. 2026: VT 12456, MT 7834."},
        {"id": "a2", "subject": "", "body": "Iz omarice iskri, pošljite nekoga takoj!"},
        {"id": "a3", "subject": "Račun", "body": "Račun 412,36 € je previsok, IBAN SI56 1910 "
         "0000 0123 438, zadeva 2026-000401.", "channel": "email"},
    ]  # fmt: skip
    source = tmp_path / "in.jsonl"
    source.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")

    out = run(["triage", "classify", str(source), "--received", "2026-03-02"])

    assert [o["id"] for o in out] == ["a1", "a2", "a3"]
    assert [o["category"] for o in out] == ["meter_reading", "outage", "billing_complaint"]
    assert set(out[0]["extracted"]) >= EXTRACTED_KEYS
    assert out[0]["extracted"]["readings"] == [
        {"register": "VT", "value": 12456},
        {"register": "MT", "value": 7834},
    ]
    assert out[0]["extracted"]["metering_points"] == ["3-345341"]
    assert (out[1]["priority"], out[1]["urgent"]) == (1, True)
    assert out[2]["extracted"]["amounts_eur"] == [412.36]
    assert out[2]["extracted"]["ibans"] == ["SI56191000000123438"]
    assert out[2]["extracted"]["ticket_numbers"] == ["2026-000401"]
    assert all(0 <= o["confidence"] <= 1 and o["language"] == "sl" for o in out)


def test_classify_reads_stdin_and_answers_bad_lines_with_an_error() -> None:
    deep = "[" * 100_000 + "]" * 100_000
    stdin = (
        f'not json\n[1, 2]\n\n{{"id": 7, "subject": 5}}\n{deep}\n{{"id": 8, "body": "no power"}}\n'
    )
    out = run(["triage", "classify"], stdin)

    assert [o.get("error", "") != "" for o in out] == [True, True, True, True, False]
    assert out[2]["id"] == 7
    assert out[4]["category"] == "outage"


@settings(max_examples=40, deadline=None)
@given(st.text(max_size=300))
def test_classify_never_fails_on_any_input(stdin: str) -> None:
    out = run(["triage", "classify"], stdin)
    assert len(out) <= len(re.split(r"\r\n|\r|\n", stdin))


def test_queue_label_and_retrain_from_the_command_line(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'stik.db'}"
    env = {"STIK_DATABASE_URL": url, "STIK_DATA_DIR": str(tmp_path / "var")}
    CliRunner().invoke(main, ["db", "upgrade"], env=env, catch_exceptions=False)

    async def record_unsure_contact() -> int:
        store = Store.open(url)
        install(store)
        when = datetime(2026, 3, 2, 9, tzinfo=UTC)
        unsure = InboundContact(Channel.WEB, "form-1", when, subject="", text="??")
        try:
            return (await record_contact(store, unsure)).activity_id
        finally:
            await store.close()

    activity_id = asyncio.run(record_unsure_contact())
    pending = run(["triage", "queue"], env=env)
    assert [p["activity_id"] for p in pending] == [activity_id]

    result = CliRunner().invoke(
        main, ["triage", "label", str(activity_id), "nonsense", "--by", "maja"], env=env
    )
    assert result.exit_code != 0 and "not in the code list" in result.output
    run(["triage", "label", str(activity_id), "general_question", "--by", "maja"], env=env)
    assert run(["triage", "queue"], env=env) == []

    figures = run(["triage", "retrain"], env=env)[0]
    assert figures["labels"] == 1
    assert (tmp_path / "var" / "triage" / "model.joblib").exists()
    out = run(["triage", "classify"], '{"id": 1, "body": "Stanje VT 1 MT 2"}\n', env=env)
    assert out[0]["model_version"] == figures["version"]
