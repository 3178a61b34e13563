"""The agents' upload page for scanned letters, behind the workspace's sign-in."""

from typing import Any

import jinja2
import structlog
from aiohttp import BodyPartReader, web
from aiohttp_session import get_session
from sqlalchemy.exc import DBAPIError, OperationalError

from agent_ui.security import CSRF_FIELD, csrf_matches, csrf_token, current_user
from agent_ui.security import page as signed_in
from agent_ui.users import Permission
from channels.post.service import NotAScan, ScanResult, import_scan
from channels.web.views import WEB_FORM

log = structlog.get_logger(__name__)

MAX_FILE_BYTES = 50 * 1024 * 1024
MAX_UPLOAD_BYTES = 200 * 1024 * 1024
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("channels.post", "templates"), autoescape=True
)


async def page(request: web.Request, status: int = 200, **context: Any) -> web.Response:
    token = csrf_token(await get_session(request))
    html = TEMPLATES.get_template("upload.html").render(csrf=token, **context)
    return web.Response(text=html, content_type="text/html", status=status)


@signed_in(Permission.WORK_TICKETS)
async def show_upload(request: web.Request) -> web.Response:
    return await page(request)


@signed_in(Permission.WORK_TICKETS, streamed=True)
async def post_upload(request: web.Request) -> web.Response:
    """Record each uploaded scan; list what became of it, and why any was refused.

    The body is streamed part by part (letters are large), so the CSRF field, which
    the form sends first, is checked here before any file is read.
    """
    form = request.app[WEB_FORM]
    if (request.content_length or 0) > MAX_UPLOAD_BYTES:
        limit = MAX_UPLOAD_BYTES // 2**20
        return await page(request, 413, refusals=[("*", f"skupaj več kot {limit} MB")])
    session = await get_session(request)
    login = current_user(request).login
    reader = await request.multipart()
    csrf: str | None = None
    results: list[ScanResult] = []
    refusals: list[tuple[str, str]] = []
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == CSRF_FIELD:
            csrf = (await part.read(decode=True)).decode(errors="replace")
            continue
        if part.filename is None:
            continue
        if not csrf_matches(session, csrf):
            refused = [("*", "obrazec je potekel; naložite znova")]
            return await page(request, 403, refusals=refused)
        data = await _read_limited(part)
        if data is None:
            refusals.append((part.filename, f"večja od {MAX_FILE_BYTES // 2**20} MB"))
            continue
        if not data:
            continue
        try:
            results.append(
                await import_scan(form.store, data, part.filename, meta={"uploaded_by": login})
            )
        except NotAScan as exc:
            refusals.append((part.filename, f"ni PDF, TIFF, PNG ali JPEG ({exc.content_type})"))
        except (OperationalError, DBAPIError):
            refusals.append((part.filename, "baza trenutno ni dosegljiva; poskusite znova"))
    status = 200 if results or not refusals else 422
    return await page(request, status, results=results, refusals=refusals)


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
