"""`stik resolve` and `stik partners ...` as a user runs them: a real process, real data."""

import asyncio
import json
import os
import sys
from pathlib import Path

from sqlalchemy import select

from interactions.models import AuditEntry, ContactKind, ContactPoint, Partner
from interactions.store import Store

STIK = str(Path(sys.executable).with_name("stik"))


async def stik(store: Store, *args: str, stdin: str = "") -> tuple[int, str, str]:
    env = {**os.environ, "STIK_DATABASE_URL": store.engine.url.render_as_string(False)}
    process = await asyncio.create_subprocess_exec(
        STIK,
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
    )
    out, err = await process.communicate(stdin.encode())
    return process.returncode or 0, out.decode(), err.decode()


async def seed(store: Store) -> tuple[Partner, Partner]:
    ana = Partner(
        first_name="Ana",
        last_name="Kos",
        external_id="K-1001",
        contact_points=[
            ContactPoint(kind=ContactKind.PHONE, value="+38641123456"),
            ContactPoint(kind=ContactKind.ADDRESS, value="Celovška cesta 5, 1000 Ljubljana"),
        ],
    )
    copy = Partner(
        first_name="ANA",
        last_name="KOS",
        contact_points=[ContactPoint(kind=ContactKind.PHONE, value="041 123 456")],
    )
    async with store.sessions() as session, session.begin():
        session.add_all([ana, copy])
    return ana, copy


async def test_resolve_reads_and_writes_json_lines(store: Store) -> None:
    ana, copy = await seed(store)
    lines = [
        {"id": "a", "name": "Ana Kos", "address": "Celovška c. 5, 1000 Ljubljana"},
        {"id": "b", "phone": "041 123 456", "channel": "phone"},
        {"id": "c", "email": "nobody@example.si"},
        {"id": "d"},
    ]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n[1, 2]\n"

    code, out, err = await stik(store, "resolve", stdin=stdin)

    assert code == 0, err
    answers = [json.loads(line) for line in out.splitlines()]
    assert [a["id"] for a in answers] == ["a", "b", "c", "d", None, None]
    assert answers[0]["outcome"] == "matched"
    first = answers[0]["candidates"][0]
    assert (first["partner_id"], first["external_id"]) == (ana.id, "K-1001")
    assert 0 < first["score"] <= 1 and first["reasons"]
    assert answers[1]["outcome"] == "ambiguous"
    assert {c["partner_id"] for c in answers[1]["candidates"]} == {ana.id, copy.id}
    assert answers[2]["outcome"] == answers[3]["outcome"] == "unknown"
    assert "error" in answers[4] and "error" in answers[5]


async def test_duplicates_and_merge_from_the_command_line(store: Store) -> None:
    ana, copy = await seed(store)

    code, out, err = await stik(store, "partners", "duplicates", "--json")
    assert code == 0, err
    pairs = [json.loads(line) for line in out.splitlines()]
    assert [p["partner_ids"] for p in pairs] == [[ana.id, copy.id]]

    code, out, err = await stik(store, "partners", "merge", str(ana.id), str(copy.id))
    assert code == 0, err
    assert f"partner {copy.id} merged into {ana.id}" in out
    async with store.sessions() as session:
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "merge"))
        assert audit is not None and audit.entity_id == str(copy.id)

    code, out, err = await stik(store, "partners", "merge", str(ana.id), "999999")
    assert code != 0 and "not found" in err
    code, out, err = await stik(store, "partners", "duplicates", "--json")
    assert out == ""


async def test_reindex_rebuilds_the_index_after_a_bulk_load(store: Store) -> None:
    async with store.sessions() as session, session.begin():
        partner = Partner(first_name="Eva", last_name="Bizjak")
        session.add(partner)
        await session.flush()
        await session.execute(
            ContactPoint.__table__.insert().values(
                partner_id=partner.id, kind="phone", value="+38640555666", is_primary=False
            )
        )

    before = await stik(store, "resolve", stdin='{"id": 1, "phone": "040555666"}\n')
    code, out, err = await stik(store, "partners", "reindex")
    after = await stik(store, "resolve", stdin='{"id": 1, "phone": "040555666"}\n')

    assert code == 0 and "1 partners" in out, err
    assert json.loads(before[1])["outcome"] == "unknown", "a Core insert bypasses the index"
    assert json.loads(after[1])["outcome"] == "matched"
