"""Service-quality dashboards for managers: wallboard, report, staffing, agents, regulator.

`setup(app)` is called by the workspace's own setup; it adds the pages, their JSON
API under `/api/dashboards/`, CSV exports, the wallboard's WebSocket, `/metrics`,
and the background loop that keeps `dash_contact` current and feeds the wallboards.
"""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp_jinja2
import jinja2
import structlog
from aiohttp import web

from agent_ui.dashboards import kpis, metrics, views
from agent_ui.dashboards.live import WallboardHub
from agent_ui.keys import STORE

log = structlog.get_logger(__name__)

HERE = Path(__file__).parent
NODE_MODULES = HERE.parents[1] / "node_modules"
CHART_JS = NODE_MODULES / "chart.js" / "dist" / "chart.umd.min.js"


async def chart_script(request: web.Request) -> web.StreamResponse:
    if not CHART_JS.exists():
        log.warning("chart_js_missing", hint="run make install")
        raise web.HTTPNotFound(text="chart.js is not installed: run make install")
    return web.FileResponse(CHART_JS, headers={"Cache-Control": "public, max-age=3600"})


async def to_wallboard(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound("/dashboards/wallboard")


def format_figure(value: float | None, unit: str) -> str:
    """A figure as the pages show it; dashboards.js formats live updates the same way."""
    if value is None:
        return "—"
    if unit == "share":
        return f"{value * 100:.1f} %"
    if unit == "seconds":
        whole = round(value)
        return f"{whole // 60}:{whole % 60:02d}" if whole >= 60 else f"{whole} s"
    return f"{value:g}" if isinstance(value, float) and not value.is_integer() else str(int(value))


def _add_templates(app: web.Application) -> None:
    env = aiohttp_jinja2.get_env(app)
    env.filters["figure"] = format_figure
    env.globals["kpi_units"] = {
        **{code: kpi.unit for code, kpi in kpis.KPIS.items()},
        "expected_service_level": "share",
    }
    env.loader = jinja2.ChoiceLoader(
        [
            env.loader,
            jinja2.PrefixLoader({"dashboards": jinja2.FileSystemLoader(HERE / "templates")}),
        ]
    )


async def _live(app: web.Application) -> AsyncIterator[None]:
    hub = app[views.WALLBOARD_HUB]
    task = asyncio.create_task(hub.run())
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await hub.close_all()


def setup(app: web.Application) -> None:
    """Add the dashboards to the workspace (after its templates and sessions are set up)."""
    app[views.WALLBOARD_HUB] = WallboardHub(app[STORE])
    app.middlewares.insert(0, metrics.measure)
    _add_templates(app)
    app.cleanup_ctx.append(_live)

    r = app.router
    r.add_get("/dashboards", to_wallboard)
    r.add_get("/dashboards/wallboard", views.wallboard_page)
    r.add_get("/dashboards/ws", views.wallboard_socket)
    r.add_get("/dashboards/report", views.report_page)
    r.add_get("/dashboards/report.csv", views.report_csv)
    r.add_get("/dashboards/staffing", views.staffing_page)
    r.add_get("/dashboards/staffing.csv", views.staffing_csv)
    r.add_get("/dashboards/agents", views.agents_page)
    r.add_get("/dashboards/agents.csv", views.agents_csv)
    r.add_get("/dashboards/regulator", views.regulator_page)
    r.add_get("/dashboards/regulator.csv", views.regulator_csv)
    r.add_get("/api/dashboards/wallboard", views.wallboard_json)
    r.add_get("/api/dashboards/report", views.report_json)
    r.add_get("/api/dashboards/staffing", views.staffing_json)
    r.add_get("/api/dashboards/agents", views.agents_json)
    r.add_get("/api/dashboards/regulator", views.regulator_json)
    r.add_get("/api/dashboards/definitions", views.definitions_json)
    r.add_get("/metrics", metrics.metrics_view)
    r.add_get("/static/chart.umd.min.js", chart_script)
    r.add_static("/static/dashboards/", HERE / "static", append_version=True)
