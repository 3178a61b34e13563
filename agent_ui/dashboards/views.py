"""The managers' pages, their JSON API and CSV exports: thin handlers over `queries`.

Every handler is guarded by `Permission.SEE_TEAM` (supervisors and administrators;
an agent gets 403) and counts the viewer's own legal entity only.
"""

import csv
import io
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp_session import get_session
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_ui.dashboards import filters, kpis, queries
from agent_ui.dashboards.live import WallboardHub
from agent_ui.dashboards.queries import Filters, Table
from agent_ui.keys import STORE
from agent_ui.rendering import render
from agent_ui.security import api, current_user, load_user, page
from agent_ui.tickets import Refused
from agent_ui.users import Permission, User
from interactions.models import Channel, Employee
from interactions.types import utcnow

MANAGERS = Permission.SEE_TEAM
#: Cells a spreadsheet would run as a formula; they are written with a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
LAYOUTS = ("wall", "desk")

WALLBOARD_HUB = web.AppKey("dashboards_wallboard_hub", WallboardHub)
#: The report's tables, as `report.csv?table=` names them.
REPORT_TABLES = (
    "summary",
    "service_level_by_day",
    "volume_by_hour",
    "volume_by_channel",
    "sla_by_kind_category",
    "backlog_by_age",
    "complaints",
    "breaches_by_category",
)


def safe_cell(value: object) -> object:
    """A CSV cell that no spreadsheet will run: text starting like a formula is quoted."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return "" if value is None else value


def csv_response(table: Table, filename: str) -> web.Response:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe_cell(title) for _key, title in table.columns])
    for row in table.rows:
        writer.writerow([safe_cell(row.get(key)) for key, _title in table.columns])
    return web.Response(
        body=("\ufeff" + out.getvalue()).encode(),
        content_type="text/csv",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )


def _table_choice(request: web.Request) -> str:
    code = request.query.get("table", "")
    if code not in REPORT_TABLES:
        raise Refused(400, f"table: one of {', '.join(REPORT_TABLES)}")
    return code


async def _with_db(
    request: web.Request, work: Callable[[AsyncSession, User], Awaitable[Any]]
) -> Any:
    async with request.app[STORE].sessions() as db:
        return await work(db, current_user(request))


# -- the report -----------------------------------------------------------------------------


async def _report(request: web.Request) -> tuple[Filters, dict[str, Table]]:
    async def work(db: AsyncSession, user: User) -> tuple[Filters, dict[str, Table]]:
        now = utcnow()
        found = await filters.report_filters(db, request.query, user, now)
        return found, await queries.report(db, found, now)

    return await _with_db(request, work)


@page(MANAGERS)
async def report_page(request: web.Request) -> web.Response:
    found, tables = await _report(request)
    user = current_user(request)

    async def choices(db: AsyncSession, _user: User) -> tuple[list, list]:
        queues = await queries.entity_queues(db, user.legal_entity)
        people = await _people(db, user)
        return queues, people

    queues, people = await _with_db(request, choices)
    codes = (*kpis.CALL_SUMMARY, *kpis.TICKET_SUMMARY, "breaches")
    context = {
        "filters": found,
        "tables": tables,
        "definitions": {d["code"]: d for d in kpis.definitions(codes, found.params)},
        "queues": queues,
        "people": people,
        "channels": list(Channel),
        "charts": json.dumps({k: t.as_json() for k, t in tables.items()}, default=str),
        "query": found.query(),
    }
    return await render(request, "dashboards/report.html", context)


@api(MANAGERS)
async def report_json(request: web.Request) -> web.Response:
    found, tables = await _report(request)
    codes = (*kpis.CALL_SUMMARY, *kpis.TICKET_SUMMARY, "breaches")
    body = {
        "filters": found.query(),
        "definitions": kpis.definitions(codes, found.params),
        "tables": {k: t.as_json() for k, t in tables.items()},
    }
    return web.json_response(body, dumps=lambda o: json.dumps(o, default=str))


@page(MANAGERS)
async def report_csv(request: web.Request) -> web.Response:
    code = _table_choice(request)
    found, tables = await _report(request)
    table = tables[code]
    return csv_response(table, f"{table.code}-{found.day_from}-{found.day_to}")


async def _people(db: AsyncSession, user: User) -> list[Employee]:
    return list(
        await db.scalars(
            select(Employee)
            .where(Employee.legal_entity == user.legal_entity, Employee.active.is_(True))
            .order_by(Employee.full_name)
        )
    )


# -- the wallboard ----------------------------------------------------------------------------


async def _board(request: web.Request) -> dict[str, Any]:
    filters.check_entity(request.query, current_user(request))
    target = filters.target_seconds(request.query)
    hub = request.app[WALLBOARD_HUB]
    return await hub.snapshot(current_user(request).legal_entity, target)


@page(MANAGERS)
async def wallboard_page(request: web.Request) -> web.Response:
    layout = request.query.get("layout", "wall")
    if layout not in LAYOUTS:
        raise Refused(400, f"layout: one of {', '.join(LAYOUTS)}")
    board = await _board(request)
    context = {
        "board": board,
        "layout": layout,
        "figures": kpis.WALL_FIGURES,
        "definitions": {
            d["code"]: d
            for d in kpis.definitions(kpis.WALL_FIGURES, kpis.Params(target_s=board["target_s"]))
        },
        "board_json": json.dumps(board, default=str),
    }
    return await render(request, "dashboards/wallboard.html", context)


@api(MANAGERS)
async def wallboard_json(request: web.Request) -> web.Response:
    return web.json_response(await _board(request), dumps=lambda o: json.dumps(o, default=str))


async def wallboard_socket(request: web.Request) -> web.StreamResponse:
    """A wallboard's live feed; managers only, checked as for the pages."""
    origin = request.headers.get("Origin")
    if origin and origin.split("://", 1)[-1] != request.host:
        raise web.HTTPForbidden(text="cross-site socket refused")
    session = await get_session(request)
    uid = session.get("uid")
    user = None
    if isinstance(uid, int):
        async with request.app[STORE].sessions() as db:
            user = await load_user(db, uid)
    if user is None:
        raise web.HTTPUnauthorized(text="sign in first")
    if not user.may(MANAGERS):
        raise web.HTTPForbidden(text="your role does not allow this")
    target = filters.target_seconds(request.query)

    ws = web.WebSocketResponse(heartbeat=25)
    await ws.prepare(request)
    hub = request.app[WALLBOARD_HUB]
    hub.add(user.legal_entity, ws, target)
    try:
        board = await hub.snapshot(user.legal_entity, target)
        await ws.send_str(json.dumps({"kind": "wallboard", "payload": board}, default=str))
        async for message in ws:
            if message.type == WSMsgType.ERROR:
                break
    finally:
        hub.remove(user.legal_entity, ws)
    return ws


# -- staffing, agents, regulator --------------------------------------------------------------


async def _staffing(request: web.Request) -> Table:
    filters.check_entity(request.query, current_user(request))

    async def work(db: AsyncSession, user: User) -> Table:
        return await queries.staffing_table(db, user.legal_entity, utcnow())

    return await _with_db(request, work)


@page(MANAGERS)
async def staffing_page(request: web.Request) -> web.Response:
    return await render(
        request, "dashboards/table_page.html", _table_context(await _staffing(request), "staffing")
    )


@api(MANAGERS)
async def staffing_json(request: web.Request) -> web.Response:
    return web.json_response((await _staffing(request)).as_json())


@page(MANAGERS)
async def staffing_csv(request: web.Request) -> web.Response:
    return csv_response(await _staffing(request), "staffing")


async def _agents(request: web.Request) -> tuple[Filters, Table]:
    async def work(db: AsyncSession, user: User) -> tuple[Filters, Table]:
        now = utcnow()
        found = await filters.report_filters(db, request.query, user, now)
        return found, await queries.agents_table(db, found, now)

    return await _with_db(request, work)


@page(MANAGERS)
async def agents_page(request: web.Request) -> web.Response:
    found, table = await _agents(request)
    context = _table_context(table, "agents") | {"filters": found, "query": found.query()}
    return await render(request, "dashboards/table_page.html", context)


@api(MANAGERS)
async def agents_json(request: web.Request) -> web.Response:
    found, table = await _agents(request)
    return web.json_response({"filters": found.query(), **table.as_json()})


@page(MANAGERS)
async def agents_csv(request: web.Request) -> web.Response:
    found, table = await _agents(request)
    return csv_response(table, f"agents-{found.day_from}-{found.day_to}")


async def _regulator(request: web.Request) -> tuple[str, Table]:
    filters.check_entity(request.query, current_user(request))
    now = utcnow()
    year, number = filters.quarter(request.query, now)

    async def work(db: AsyncSession, user: User) -> Table:
        return await queries.regulator_table(db, user.legal_entity, year, number, now)

    return f"{year}-Q{number}", await _with_db(request, work)


@page(MANAGERS)
async def regulator_page(request: web.Request) -> web.Response:
    name, table = await _regulator(request)
    context = _table_context(table, "regulator") | {"quarter": name, "query": {"quarter": name}}
    return await render(request, "dashboards/table_page.html", context)


@api(MANAGERS)
async def regulator_json(request: web.Request) -> web.Response:
    name, table = await _regulator(request)
    return web.json_response({"quarter": name, **table.as_json()})


@page(MANAGERS)
async def regulator_csv(request: web.Request) -> web.Response:
    name, table = await _regulator(request)
    return csv_response(table, f"regulator-{name}")


@api(MANAGERS)
async def definitions_json(request: web.Request) -> web.Response:
    params = kpis.Params(target_s=filters.target_seconds(request.query))
    return web.json_response(kpis.definitions(tuple(kpis.KPIS), params))


def _table_context(table: Table, kind: str) -> dict[str, Any]:
    return {"table": table, "kind": kind, "query": {}}
