"""The managers' pages over HTTP: who may open them, what they show, CSV, bad input."""

import asyncio
import csv
import io
from datetime import timedelta

import pytest

from agent_ui.dashboards.facts import refresh_contacts
from agent_ui.dashboards.queries import local_today
from agent_ui.dashboards.views import WALLBOARD_HUB
from agent_ui.users import Role
from interactions.models import Employee
from interactions.types import utcnow
from routing.models import AgentState, ClockState, SlaClock, SlaRecord, Task, TaskState
from tests.agent_ui import factories as web_factories
from tests.agent_ui.conftest import Web
from tests.agent_ui.dashboards import factories as f
from tests.agent_ui.dashboards.factories import DAY, at

PAGES = [
    "/dashboards/wallboard",
    "/dashboards/wallboard?layout=desk",
    "/dashboards/report",
    "/dashboards/report.csv?table=summary",
    "/dashboards/staffing",
    "/dashboards/staffing.csv",
    "/dashboards/agents",
    "/dashboards/agents.csv",
    "/dashboards/regulator",
    "/dashboards/regulator.csv",
]
APIS = [
    "/api/dashboards/wallboard",
    "/api/dashboards/report",
    "/api/dashboards/staffing",
    "/api/dashboards/agents",
    "/api/dashboards/regulator",
    "/api/dashboards/definitions",
]


def rows_of(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


async def test_an_agent_is_refused_every_page_and_api(web: Web) -> None:
    client, _ = await web.signed_in("ana")
    for url in [*PAGES, *APIS, "/dashboards/ws"]:
        response = await client.get(url, allow_redirects=False)
        assert response.status == 403, url
    workspace = await client.get("/")
    assert "/dashboards/wallboard" not in await workspace.text()


async def test_supervisors_and_admins_open_every_page_and_api(web: Web) -> None:
    for login in ("sara", "adam"):
        client, _ = await web.signed_in(login)
        for url in [*PAGES, *APIS]:
            response = await client.get(url)
            assert response.status == 200, (login, url, await response.text())
        workspace = await client.get("/")
        assert "/dashboards/wallboard" in await workspace.text()


async def test_signed_out_is_sent_to_sign_in(web: Web) -> None:
    client = await web.client()
    page = await client.get("/dashboards/report", allow_redirects=False)
    api = await client.get("/api/dashboards/report")
    socket = await client.get("/dashboards/ws")
    assert (page.status, page.headers["Location"]) == (302, "/login")
    assert api.status == 401
    assert socket.status == 401


async def test_a_supplier_supervisor_sees_supplier_queues_only(web: Web) -> None:
    await web_factories.employee(web.store, "dora", Role.SUPERVISOR, "dso")
    supplier, _ = await web.signed_in("sara")
    dso, _ = await web.signed_in("dora")

    board = await (await supplier.get("/api/dashboards/wallboard")).json()
    assert [q["queue"] for q in board["queues"]] == ["Supplier back office"]
    dso_board = await (await dso.get("/api/dashboards/wallboard")).json()
    assert [q["queue"] for q in dso_board["queues"]] == ["DSO back office"]

    other_queue = await supplier.get(f"/api/dashboards/report?queue={web.world.dso_queue_id}")
    assert other_queue.status == 400
    assert "no queue" in (await other_queue.json())["error"]
    other_entity = await supplier.get("/api/dashboards/report?legal_entity=dso")
    assert other_entity.status == 403
    other_agent = await supplier.get(f"/api/dashboards/agents?agent={web.ids['dan']}")
    assert other_agent.status == 400


async def test_the_dso_does_not_count_supplier_calls(web: Web) -> None:
    await web_factories.employee(web.store, "dora", Role.SUPERVISOR, "dso")
    await f.call(web.store, at(DAY, 9), web.world.queue_id, "answered", wait=5, talk=60)
    dso, _ = await web.signed_in("dora")
    supplier, _ = await web.signed_in("sara")
    query = f"/api/dashboards/report?from={DAY}&to={DAY}"

    def calls(body: dict) -> float:
        return next(r["value"] for r in body["tables"]["summary"]["rows"] if r["code"] == "calls")

    assert calls(await (await supplier.get(query)).json()) == 1
    assert calls(await (await dso.get(query)).json()) == 0


BAD_REPORT_QUERIES = [
    ("from=2026-13-01", "from"),
    ("from=yesterday", "from"),
    ("from=2026-11-10&to=2026-11-01", "ends before"),
    ("from=2020-01-01&to=2026-01-01", "longer than"),
    ("from=1900-01-01", "between 2000"),
    ("from=2026-11-10T00:00:00", "YYYY-MM-DD"),
    ("queue=999999999", "no queue"),
    ("queue=-1", "whole number"),
    ("queue=1e3", "whole number"),
    ("queue=99999999999999999999999", "whole number"),
    ("channel=pigeon", "channel"),
    ("category=%3DHYPERLINK(1)", "category"),
    ("target=0", "target"),
    ("target=999999", "target"),
    ("agent=abc", "agent"),
    ("agent=424242", "no agent"),
]


async def test_bad_report_parameters_are_a_clear_400(web: Web) -> None:
    client, _ = await web.signed_in("sara")
    for query, says in BAD_REPORT_QUERIES:
        for url in (
            f"/api/dashboards/report?{query}",
            f"/dashboards/report?{query}",
            f"/dashboards/report.csv?table=summary&{query}",
            f"/api/dashboards/agents?{query}",
        ):
            response = await client.get(url)
            assert response.status == 400, (url, await response.text())
            assert says in await response.text(), url


BAD_OTHER_QUERIES = [
    ("/api/dashboards/regulator?quarter=2026-Q5", "quarter"),
    ("/api/dashboards/regulator?quarter=Q1", "quarter"),
    ("/api/dashboards/regulator?quarter=1850-Q1", "between 2000"),
    ("/dashboards/regulator.csv?quarter=2026-07", "quarter"),
    ("/api/dashboards/wallboard?target=-5", "target"),
    ("/dashboards/wallboard?layout=ceiling", "layout"),
    ("/dashboards/report.csv?table=../../etc/passwd", "table"),
    ("/dashboards/report.csv", "table"),
    ("/api/dashboards/staffing?legal_entity=dso", "own legal entity"),
]


async def test_bad_parameters_of_the_other_pages(web: Web) -> None:
    client, _ = await web.signed_in("sara")
    for url, says in BAD_OTHER_QUERIES:
        response = await client.get(url)
        assert response.status in (400, 403), url
        assert says in await response.text(), url


async def test_a_year_long_report_is_allowed(web: Web) -> None:
    client, _ = await web.signed_in("sara")
    response = await client.get("/api/dashboards/report?from=2025-12-01&to=2026-11-30")
    assert response.status == 200


async def test_csv_cells_that_look_like_formulas_are_defused(web: Web) -> None:
    evil = ['=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)"]
    for n, category in enumerate(evil):
        await f.ticket(web.store, at(DAY, 9, n), kind="complaint", category=category)
    client, _ = await web.signed_in("sara")

    response = await client.get(f"/dashboards/report.csv?table=complaints&from={DAY}&to={DAY}")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = rows_of(await response.text())

    assert rows[0] == ["Category", "Outcome", "Complaints"]
    assert sorted(r[0] for r in rows[1:]) == sorted("'" + e for e in evil)
    assert all(not r[0].startswith(("=", "+", "-", "@")) for r in rows[1:])


async def test_every_report_table_exports_as_csv(web: Web) -> None:
    client, _ = await web.signed_in("sara")
    report = await (await client.get("/api/dashboards/report")).json()
    assert set(report["tables"]) >= {
        "summary",
        "service_level_by_day",
        "volume_by_hour",
        "volume_by_channel",
        "sla_by_kind_category",
        "backlog_by_age",
        "complaints",
        "breaches_by_category",
    }
    for code in report["tables"]:
        response = await client.get(f"/dashboards/report.csv?table={code}")
        assert response.status == 200, code
        assert len(rows_of(await response.text())[0]) == len(report["tables"][code]["columns"])


async def test_wallboard_report_csv_and_api_agree_on_today(web: Web) -> None:
    now = utcnow()
    queue_id = web.world.queue_id
    for wait in (5, 10, 30):
        await f.call(
            web.store, now - timedelta(minutes=5), queue_id, "answered", wait=wait, talk=60
        )
    await f.call(web.store, now - timedelta(minutes=3), queue_id, "abandoned", wait=40)
    client, _ = await web.signed_in("sara")

    board = await (await client.get("/api/dashboards/wallboard")).json()
    report = await (await client.get(f"/api/dashboards/report?queue={queue_id}")).json()
    summary = {r["code"]: r["value"] for r in report["tables"]["summary"]["rows"]}
    exported = rows_of(
        await (await client.get(f"/dashboards/report.csv?table=summary&queue={queue_id}")).text()
    )
    page = await (await client.get(f"/dashboards/report?queue={queue_id}")).text()

    row = next(q for q in board["queues"] if q["queue_id"] == queue_id)
    assert row["service_level"] == summary["service_level"] == pytest.approx(2 / 4)
    assert row["abandonment_rate"] == summary["abandonment_rate"] == pytest.approx(1 / 4)
    assert ["Service level", "0.5", "share"] in exported
    assert "50.0 %" in page
    assert "answered within 20 s of queueing" in page  # the definition, beside the figure


async def test_the_wallboard_counts_waiting_agents_and_tickets(web: Web) -> None:
    now = utcnow()
    queue_id = web.world.queue_id
    async with web.store.sessions() as db, db.begin():
        for minutes in (1, 4):
            db.add(
                Task(
                    kind="call",
                    channel="phone",
                    queue_id=queue_id,
                    legal_entity="supplier",
                    state=TaskState.QUEUED,
                    created_at=now - timedelta(minutes=minutes),
                )
            )
        db.add(AgentState(employee_id=web.ids["ana"], presence="available"))
        db.add(AgentState(employee_id=web.ids["bor"], presence="wrap_up"))
        db.add(
            SlaClock(
                ticket_id=web.world.supplier_ticket,
                metric="first_response",
                target_seconds=3600,
                state=ClockState.RUNNING,
                started_at=now - timedelta(hours=2),
                warn_at=now - timedelta(minutes=10),
                due_at=now + timedelta(minutes=10),
            )
        )
    await f.call(
        web.store,
        now - timedelta(minutes=1),
        queue_id,
        None,
        meta={
            **f.call_meta(now - timedelta(minutes=1), queue_id, "answered", wait=5, talk=10),
            "outcome": None,
            "ended_at": None,
        },
    )
    client, _ = await web.signed_in("sara")

    board = await (await client.get("/api/dashboards/wallboard")).json()
    row = next(q for q in board["queues"] if q["queue_id"] == queue_id)

    assert row["waiting"] == 2
    assert 239 <= row["longest_wait"] <= 300
    assert row["in_progress"] == 1
    # The queue's unit is the back office: ana, bor, sara and adam work there.
    assert (row["agents_available"], row["agents_wrap_up"], row["agents_offline"]) == (1, 1, 2)
    assert (row["tickets_open"], row["tickets_at_risk"], row["tickets_breached"]) == (1, 1, 0)
    assert board["total"]["waiting"] == 2


async def test_agents_figures_by_channel_presence_and_breaches(web: Web) -> None:
    from routing.models import PresenceChange

    ana = web.ids["ana"]
    await f.call(
        web.store,
        at(DAY, 9),
        web.world.queue_id,
        "answered",
        wait=5,
        talk=100,
        wrap=20,
        agent_id=ana,
    )
    await f.call(
        web.store,
        at(DAY, 10),
        web.world.queue_id,
        "answered",
        wait=5,
        talk=200,
        wrap=40,
        agent_id=ana,
    )
    async with web.store.sessions() as db, db.begin():
        for hour, state in ((8, "available"), (12, "break"), (13, "available"), (16, "offline")):
            db.add(PresenceChange(employee_id=ana, presence=state, at=at(DAY, hour)))
        db.add(
            SlaRecord(
                ticket_id=web.world.supplier_ticket,
                metric="first_response",
                kind="breach",
                at=at(DAY, 11),
                assignee_id=ana,
                legal_entity="supplier",
            )
        )
    client, _ = await web.signed_in("sara")

    body = await (
        await client.get(f"/api/dashboards/agents?from={DAY}&to={DAY}&agent={ana}")
    ).json()

    assert len(body["rows"]) == 1
    row = body["rows"][0]
    assert row["contacts_phone"] == 2
    assert row["aht"] == pytest.approx((100 + 20 + 200 + 40) / 2)
    assert row["presence_available"] == 7 * 3600
    assert row["presence_break"] == 3600
    assert row["presence_offline"] == 8 * 3600
    assert row["breaches"] == 1


async def test_metrics_are_exposed_for_prometheus(web: Web) -> None:
    client, _ = await web.signed_in("sara")
    await client.get("/api/dashboards/wallboard")
    response = await client.get("/metrics")
    text = await response.text()
    assert response.status == 200
    assert 'stik_http_request_seconds_count{method="GET",route="/api/dashboards/wallboard"}' in text
    assert 'stik_queue_waiting{legal_entity="supplier",queue="Supplier back office"}' in text
    assert 'stik_contacts_recorded_5m{channel="email"}' not in text or "email" in text
    assert "stik_errors_total" in text


async def test_report_pages_show_the_charts_and_definitions(web: Web) -> None:
    client, _ = await web.signed_in("sara")
    page = await (await client.get("/dashboards/report")).text()
    for chart in (
        "volume_by_hour",
        "service_level_by_day",
        "backlog_by_age",
        "breaches_by_category",
    ):
        assert f'id="chart-{chart}"' in page
    assert "/static/chart.umd.min.js" in page
    script = await client.get("/static/chart.umd.min.js")
    assert script.status == 200
    assert "Chart" in (await script.text())[:5000]


async def test_staffing_forecasts_from_the_same_weekday(web: Web) -> None:
    now = utcnow()
    queue_id = await f.queue(web.store, "calls", org_unit="call_centre")
    today = local_today(now)
    async with web.store.sessions() as db, db.begin():
        ids = []
        # 90, 110, 100 and 100 calls in this half hour of the same weekday: 100 on average.
        for weeks, count in ((1, 90), (2, 110), (3, 100), (4, 100)):
            then = now - timedelta(weeks=weeks)
            assert local_today(then) == today - timedelta(weeks=weeks)
            for _ in range(count):
                meta = f.call_meta(then, queue_id, "answered", wait=5, talk=150, wrap=30)
                ids.append(f.activity_of(then, meta))
        db.add_all(ids)
        staff = [
            Employee(
                login=f"cc{n}",
                full_name=f"Agent {n}",
                org_unit="call_centre",
                legal_entity="supplier",
            )
            for n in range(13)
        ]
        db.add_all(staff)
        await db.flush()
        await refresh_contacts(db, [a.id for a in ids])
        db.add_all(AgentState(employee_id=e.id, presence="available") for e in staff)
    client, _ = await web.signed_in("sara")

    body = await (await client.get("/api/dashboards/staffing")).json()

    first = next(r for r in body["rows"] if r["queue"] == "Calls")
    assert first["forecast_calls"] == pytest.approx(100)
    assert first["handle_seconds"] == pytest.approx(180)
    # DESIGN.md's reference: 100 calls per 30 min, 180 s, 20 s: 14 agents give 0.888,
    # 13 give 0.796, so 80 % needs 14 and the 13 logged in fall short.
    assert first["agents_needed"] == 14
    assert first["agents_logged_in"] == 13
    assert first["expected_service_level"] == pytest.approx(0.796, abs=0.001)
    assert first["short"] is True
    page = await (await client.get("/dashboards/staffing")).text()
    assert 'class="short"' in page


async def test_the_regulator_report_counts_written_complaints_and_calls(web: Web) -> None:
    created = at(DAY, 9)
    due = created + timedelta(days=10)
    for resolved in (due - timedelta(days=1), due + timedelta(days=1)):
        ticket_id = await f.ticket(
            web.store, created, kind="complaint", resolution_due=due, resolved_at=resolved
        )
        async with web.store.sessions() as db, db.begin():
            from interactions.models import Activity

            activity = await db.get(Activity, await f.contact(web.store, created))
            activity.ticket_id = ticket_id
    await f.ticket(web.store, created, kind="complaint")  # by phone only: not written
    await f.call(web.store, at(DAY, 9), web.world.queue_id, "answered", wait=30, talk=60)
    await f.call(web.store, at(DAY, 9), web.world.queue_id, "answered", wait=10, talk=60)
    client, _ = await web.signed_in("sara")

    body = await (await client.get("/api/dashboards/regulator?quarter=2026-Q4")).json()
    figures = {r["code"]: r["value"] for r in body["rows"]}
    exported = rows_of(await (await client.get("/dashboards/regulator.csv?quarter=2026-Q4")).text())
    page = await (await client.get("/dashboards/regulator?quarter=2026-Q4")).text()

    assert body["quarter"] == "2026-Q4"
    assert figures["written_complaint_received"] == 2
    assert figures["written_complaint_answered_in_time"] == 1
    assert figures["written_complaint_answered_in_time_share"] == pytest.approx(0.5)
    assert figures["calls_answered"] == 2
    assert figures["calls_service_level_20s"] == pytest.approx(0.5)
    assert figures["calls_service_level_60s"] == pytest.approx(1.0)
    assert ["written_complaint_received", "Written complaints received", "2.0"] in exported
    assert "data-print" in page


async def test_the_pages_speak_slovenian(web: Web) -> None:
    await web_factories.employee(web.store, "mojca", Role.SUPERVISOR, "supplier", language="sl")
    client, _ = await web.signed_in("mojca")

    wallboard = await (await client.get("/dashboards/wallboard")).text()
    report = await (await client.get("/dashboards/report")).text()

    assert "Raven storitve" in wallboard
    assert "Delež ponujenih klicev, odgovorjenih v 20 s" in report
    assert "Nadzorne plošče" in report


async def test_the_wallboard_socket_sends_a_new_snapshot_after_a_call_event(web: Web) -> None:
    client, _ = await web.signed_in("sara")
    hub = client.app[WALLBOARD_HUB]
    hub.tick_seconds = 600  # only the event can bring the next snapshot in time
    hub.wake()
    await asyncio.sleep(0.5)
    queue_id = web.world.queue_id
    socket = await client.ws_connect("/dashboards/ws")
    first = await socket.receive_json(timeout=5)
    row = next(q for q in first["payload"]["queues"] if q["queue_id"] == queue_id)
    assert (first["kind"], row["in_progress"]) == ("wallboard", 0)

    now = utcnow()
    live = f.call_meta(now, queue_id, "answered", wait=2, talk=10) | {"outcome": None}
    async with web.store.sessions() as db, db.begin():
        activity = f.activity_of(now, live)
        db.add(activity)
    started = asyncio.get_running_loop().time()
    await web.store.bus.publish("call.answered", {"activity_id": activity.id})

    while True:
        frame = await socket.receive_json(timeout=5)
        row = next(q for q in frame["payload"]["queues"] if q["queue_id"] == queue_id)
        if row["in_progress"] == 1:
            break
    assert asyncio.get_running_loop().time() - started < 5
    await socket.close()
