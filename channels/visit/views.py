"""The info-office page: search, pick with the keyboard, type the purpose, Enter.

It sits behind the workspace's sign-in: the signed-in agent is recorded on the visit,
and every partner the page finds or shows is written to the audit trail.
"""

from typing import Any

import jinja2
from aiohttp import web
from aiohttp_session import get_session

from agent_ui.security import audit, csrf_token, current_user
from agent_ui.security import page as signed_in
from agent_ui.users import Permission
from channels.visit.service import Found, find_partners, register_visit
from channels.web.views import WEB_FORM
from interactions.models import Partner

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("channels.visit", "templates"), autoescape=True
)


async def page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    token = csrf_token(await get_session(request))
    context.setdefault("query", "")
    context.setdefault("subject", "")
    context.setdefault("note", "")
    html = TEMPLATES.get_template("visit.html").render(csrf=token, **context)
    return web.Response(text=html, content_type="text/html", status=status)


async def _audit_shown(request: web.Request, found: list[Found], action: str) -> None:
    """Write who saw which partner at the desk (not what they typed: that is personal)."""
    if not found:
        return
    user = current_user(request)
    async with request.app[WEB_FORM].store.sessions() as db, db.begin():
        for partner in found:
            audit(
                db,
                user,
                action,
                "partner",
                partner.partner_id,
                partner_id=partner.partner_id,
                details={"via": "visit"},
            )


@signed_in(Permission.WORK_TICKETS)
async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    results = await find_partners(request.app[WEB_FORM].store, query) if query else []
    await _audit_shown(request, results, "search")
    return await page(request, query=query, results=results, done=request.query.get("done"))


async def _partner(request: web.Request) -> Found:
    try:
        partner_id = int(request.match_info["partner_id"])
    except ValueError:
        raise web.HTTPNotFound() from None
    store = request.app[WEB_FORM].store
    async with store.sessions() as session:
        partner = await session.get(Partner, partner_id)
    if partner is None:
        raise web.HTTPNotFound()
    found = await find_partners(store, partner.tax_number or partner.display_name)
    match = next((f for f in found if f.partner_id == partner_id), None)
    if match is None:
        match = Found(partner_id, partner.display_name, ())
    return match


@signed_in(Permission.WORK_TICKETS)
async def show_visit(request: web.Request) -> web.Response:
    partner = await _partner(request)
    await _audit_shown(request, [partner], "view")
    return await page(request, partner=partner)


@signed_in(Permission.WORK_TICKETS)
async def post_visit(request: web.Request) -> web.Response:
    """Record the visit; the decorator has checked the session and its CSRF token."""
    user = current_user(request)
    partner = await _partner(request)
    posted = await request.post()
    subject = str(posted.get("subject", "")).strip()
    note = str(posted.get("note", "")).strip()
    if not subject:
        return await page(request, 422, partner=partner, note=note, error="Vpišite namen obiska.")
    recorded = await register_visit(
        request.app[WEB_FORM].store,
        partner.partner_id,
        subject,
        note,
        agent=user.login,
        employee_id=user.id,
        legal_entity=user.legal_entity,
    )
    raise web.HTTPSeeOther(f"/visit?done={recorded.activity_id}")
