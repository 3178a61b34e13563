"""A short day at the contact centre: `stik simulate day` against `stik serve` on PostgreSQL.

The simulator drives Stik only through its public doors (signed call webhooks, the
maildrop, the web form, the scans folder, the workspace). This test then reads the
database — which the simulator never does — and checks that what went in came out:
every contact once, the right partners, categories and queues, calls offered to the
call centre, the service level Stik recorded equal to the simulator's own tally, and SLA
breaches where the back office could not keep up.
"""

import asyncio
import json
import os
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from interactions.models import Activity, Employee, Partner, Queue, SlaPolicy, Ticket
from interactions.store import Store
from routing.models import SlaRecord, Task
from tests.conftest import corpus_path
from tests.e2e.conftest import free_port, stik_command, wait_until_ready

CONFIG = """
[web]
rate_per_address = 1000000
rate_per_email = 1000000

[post]
watch = true
interval_seconds = 1
"""


@dataclass
class Running:
    url: str
    env: dict[str, str]
    data_dir: Path


@pytest.fixture
def stik(e2e_store: Store, tmp_path: Path) -> Iterator[Running]:
    config = tmp_path / "stik.toml"
    config.write_text(CONFIG)
    env = {
        **os.environ,
        "STIK_DATABASE_URL": e2e_store.engine.url.render_as_string(hide_password=False),
        "STIK_DATA_DIR": str(tmp_path / "data"),
        "STIK_CONFIG": str(config),
        "STIK_LOG_LEVEL": "warning",
        "STIK_PORT": str(free_port()),
    }
    subprocess.run(
        [*stik_command(), "demo-data", "--partners", "200", "--seed", "7"],
        env=env,
        check=True,
        capture_output=True,
    )
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen([*stik_command(), "serve"], env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{env['STIK_PORT']}"
    try:
        wait_until_ready(url, process, tmp_path / "serve.log")
        yield Running(url, env, tmp_path / "data")
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


async def open_all_day(store: Store) -> None:
    """Queues open around the clock, and written answers due within a minute of real time."""
    async with store.sessions() as db, db.begin():
        always = await db.scalar(text("SELECT id FROM calendar WHERE code = 'always'"))
        await db.execute(update(Queue).values(calendar_id=always))
        await db.execute(
            update(SlaPolicy)
            .where(SlaPolicy.first_response_minutes.is_not(None))
            .values(first_response_minutes=1, business_hours=False)
        )


async def test_a_short_day_comes_out_as_it_went_in(stik: Running, e2e_store: Store) -> None:
    store = e2e_store
    await open_all_day(store)
    tally_file = stik.data_dir / "tally.json"
    run = await asyncio.create_subprocess_exec(
        *[
            *stik_command(),
            "simulate",
            "day",
            "--speed",
            "60",
            "--hours",
            "9-10",
            "--calls-per-hour",
            "60",
            "--handle",
            "240",
            "--patience",
            "600",
            "--emails-per-hour",
            "14",
            "--forms-per-hour",
            "4",
            "--letters",
            "2",
            "--partners",
            "200",
            "--seed",
            "7",
            "--corpus",
            str(corpus_path("email")),
            "--corpus-mails",
            "12",
            "--settle",
            "20",
            "--json-out",
            str(tally_file),
        ],
        env=stik.env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(run.communicate(), timeout=600)
    assert run.returncode == 0, err.decode()[-3000:]
    result = json.loads(tally_file.read_text())
    tally, summary = result["tally"], result["simulator"]
    calls = {c["sid"]: c for c in tally["calls"]}
    assert summary["calls"] >= 20 and not tally["refused"], summary

    async with store.sessions() as db:
        activities = list(await db.scalars(select(Activity).where(Activity.direction == "inbound")))
        partners = {p.id: p.external_id for p in await db.scalars(select(Partner))}
        tasks = list(await db.scalars(select(Task).where(Task.kind == "call")))
        units = {e.id: e.org_unit for e in await db.scalars(select(Employee))}
        tickets = list(await db.scalars(select(Ticket)))
        breaches = list(await db.scalars(select(SlaRecord).where(SlaRecord.kind == "breach")))

    # Every contact that went in is an activity, once, with its channel; none failed silently.
    phone = {a.external_id: a for a in activities if a.channel == "phone"}
    assert set(phone) == set(calls)
    by_channel = Counter(a.channel for a in activities)
    sent = Counter(w["channel"] for w in tally["written"])
    generated = {w["message_id"] for w in tally["written"] if w.get("message_id")}
    stored_ids = {a.external_id for a in activities if a.channel == "email"}
    assert generated <= stored_ids
    assert by_channel["web"] == sent["web"]
    assert by_channel["post"] == sent["post"]
    assert by_channel["email"] >= sent["email"] - 2  # corpus mails may repeat a Message-ID
    assert all(a.state == "processed" or a.failure_reason for a in activities)

    # Known callers and writers are matched to the right partner; shared numbers ambiguous.
    known = [c for c in calls.values() if c["partner"]]
    right = [c for c in known if partners.get(phone[c["sid"]].partner_id) == c["partner"]]
    assert len(right) >= 0.95 * len(known)
    shared = [c for c in calls.values() if c["household"]]
    ambiguous = [c for c in shared if phone[c["sid"]].match_outcome == "ambiguous"]
    assert len(ambiguous) >= 0.9 * len(shared)
    mails = {a.external_id: a for a in activities if a.channel == "email"}
    writers = [w for w in tally["written"] if w.get("message_id") and w["partner"]]
    matched = [
        w for w in writers if partners.get(mails[w["message_id"]].partner_id) == w["partner"]
    ]
    assert len(matched) >= 0.95 * len(writers)

    # Written contacts carry a category and a queue.
    written = [a for a in activities if a.channel in ("web", "post") or a.external_id in generated]
    assert all(a.category for a in written)
    labelled = [w for w in tally["written"] if w.get("message_id") and w.get("category")]
    same = [w for w in labelled if mails[w["message_id"]].category == w["category"]]
    assert len(same) >= 0.7 * len(labelled)
    assert all(t.queue_id is not None for t in tickets)

    # Calls were offered to the call centre only, and Stik's record agrees with the callers'.
    assert tasks and all(units[t.agent_id] == "call_centre" for t in tasks if t.agent_id)
    outcomes = {sid: phone[sid].meta["call"]["outcome"] for sid in calls}
    agree = [sid for sid, c in calls.items() if c["outcome"] == outcomes[sid]]
    assert len(agree) >= 0.95 * len(calls), Counter(
        (c["outcome"], outcomes[sid]) for sid, c in calls.items()
    )
    in_line = [
        p.meta["call"]
        for p in phone.values()
        if p.meta["call"]["outcome"] == "answered"
        or (p.meta["call"]["outcome"] == "abandoned" and p.meta["call"]["wait_seconds"] >= 5)
    ]
    within = [c for c in in_line if c["outcome"] == "answered" and c["wait_seconds"] <= 20]
    level = len(within) / len(in_line)
    assert abs(level - summary["service_level"]) <= 0.05
    abandoned = sum(c["outcome"] == "abandoned" for c in in_line) / len(in_line)
    assert abs(abandoned - summary["abandonment"]) <= 0.05

    # Stik's own report (read by the simulator's supervisor) shows the simulator's day.
    report = result["stik"]["phone"]
    assert report["calls"] == summary["calls"]
    assert abs(report["answered"] - summary["answered"]) <= max(1, 0.05 * summary["answered"])
    assert abs(report["service_level"] - summary["service_level"]) <= 0.05
    assert abs(report["abandonment_rate"] - summary["abandonment"]) <= 0.05

    # The back office could not answer everything within its minute: breaches appear.
    assert breaches, "no SLA breach although the written load exceeded two agents"
    assert tally["agent"].get("closed", 0) >= 1
