"""The agents' upload page for scanned letters.

TODO(#7): the page has no sign-in of its own yet; put it behind the agent login of
agent_ui when that is merged.
"""

from typing import Any

import jinja2
import structlog
from aiohttp import BodyPartReader, web
from sqlalchemy.exc import DBAPIError, OperationalError

from channels.post.service import NotAScan, ScanResult, import_scan
from channels.web.security import CSRF_COOKIE
from channels.web.views import WEB_FORM

log = structlog.get_logger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("channels.post", "templates"), autoescape=True
)


def page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    signer = request.app[WEB_FORM].signer
    cookie = request.cookies.get(CSRF_COOKIE) or signer.new_cookie()
    html = TEMPLATES.get_template("upload.html").render(csrf=signer.token(cookie), **context)
    response = web.Response(text=html, content_type="text/html", status=status)
    if CSRF_COOKIE not in request.cookies:
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="Lax")
    return response


async def show_upload(request: web.Request) -> web.Response:
    return page(request)


async def post_upload(request: web.Request) -> web.Response:
    """Record each uploaded scan; list what became of it, and why any was refused."""
    form = request.app[WEB_FORM]
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        limit = MAX_UPLOAD_BYTES // 2**20
        return page(request, 413, refusals=[("*", f"skupaj več kot {limit} MB")])
    reader = await request.multipart()
    csrf: str | None = None
    results: list[ScanResult] = []
    refusals: list[tuple[str, str]] = []
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "csrf":
            csrf = (await part.read(decode=True)).decode(errors="replace")
            continue
        if part.filename is None:
            continue
        if not form.signer.check(request.cookies.get(CSRF_COOKIE), csrf):
            return page(request, 403, refusals=[("*", "obrazec je potekel; naložite znova")])
        data = await _read_limited(part)
        if data is None:
            refusals.append((part.filename, f"večja od {MAX_FILE_BYTES // 2**20} MB"))
            continue
        if not data:
            continue
        try:
            results.append(await import_scan(form.store, data, part.filename))
        except NotAScan as exc:
            refusals.append((part.filename, f"ni PDF, TIFF, PNG ali JPEG ({exc.content_type})"))
        except (OperationalError, DBAPIError):
            refusals.append((part.filename, "baza trenutno ni dosegljiva; poskusite znova"))
    status = 200 if results or not refusals else 422
    return page(request, status, results=results, refusals=refusals)


async def _read_limited(part: BodyPartReader) -> bytes | None:
    chunks, size = [], 0
    while chunk := await part.read_chunk(256 * 1024):
        size += len(chunk)
        if size > MAX_FILE_BYTES:
            while await part.read_chunk(256 * 1024):
                pass
            return None
        chunks.append(chunk)
    return b"".join(chunks)
