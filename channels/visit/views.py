"""The info-office page: search, pick with the keyboard, type the purpose, Enter.

TODO(#7): the page has no sign-in of its own yet; put it behind the agent login of
agent_ui when that is merged, and record the signed-in agent as the employee.
"""

from typing import Any

import jinja2
from aiohttp import web

from channels.visit.service import Found, find_partners, register_visit
from channels.web.security import CSRF_COOKIE
from channels.web.views import WEB_FORM
from interactions.models import Partner

TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("channels.visit", "templates"), autoescape=True
)


def page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    signer = request.app[WEB_FORM].signer
    cookie = request.cookies.get(CSRF_COOKIE) or signer.new_cookie()
    context.setdefault("query", "")
    context.setdefault("subject", "")
    context.setdefault("note", "")
    html = TEMPLATES.get_template("visit.html").render(csrf=signer.token(cookie), **context)
    response = web.Response(text=html, content_type="text/html", status=status)
    if CSRF_COOKIE not in request.cookies:
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="Lax")
    return response


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "")
    results = await find_partners(request.app[WEB_FORM].store, query) if query else []
    return page(request, query=query, results=results, done=request.query.get("done"))


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


async def show_visit(request: web.Request) -> web.Response:
    return page(request, partner=await _partner(request))


async def post_visit(request: web.Request) -> web.Response:
    form = request.app[WEB_FORM]
    partner = await _partner(request)
    posted = await request.post()
    subject = str(posted.get("subject", "")).strip()
    note = str(posted.get("note", "")).strip()
    if not form.signer.check(request.cookies.get(CSRF_COOKIE), str(posted.get("csrf", ""))):
        return page(
            request,
            403,
            partner=partner,
            subject=subject,
            note=note,
            error="Obrazec je potekel; pošljite ga znova.",
        )
    if not subject:
        return page(request, 422, partner=partner, note=note, error="Vpišite namen obiska.")
    recorded = await register_visit(form.store, partner.partner_id, subject, note)
    raise web.HTTPSeeOther(f"/visit?done={recorded.activity_id}")
