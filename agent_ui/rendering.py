"""Rendering a page with what every template needs: the user, CSRF token, language, time."""

from typing import Any

import aiohttp_jinja2
from aiohttp import web
from aiohttp_session import get_session

from agent_ui import i18n
from agent_ui.security import USER, csrf_token
from agent_ui.users import Permission
from interactions.types import utcnow


async def render(
    request: web.Request, name: str, context: dict[str, Any], status: int = 200
) -> web.Response:
    session = await get_session(request)
    user = request.get(USER)
    base = {
        "user": user,
        "csrf": csrf_token(session),
        "lang": i18n.current_language(),
        "now": utcnow(),
        "Permission": Permission,
    }
    response = aiohttp_jinja2.render_template(name, request, {**base, **context})
    response.set_status(status)
    return response
