"""HTTP handlers of the customer form and its JSON twin: thin, over `forms` and `service`."""

import base64
import binascii
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import structlog
from aiohttp import BodyPartReader, web
from sqlalchemy.exc import DBAPIError, OperationalError

from channels.web import i18n
from channels.web.forms import (
    CALLBACK_TIMES,
    CHANGE_TYPES,
    MAX_FILE_BYTES,
    MAX_FILES,
    MAX_FILES_BYTES,
    REQUIRED,
    FormKind,
    Problem,
    Problems,
    Upload,
    fields_of,
    validate,
)
from channels.web.security import CSRF_COOKIE, CsrfSigner, RateLimit, RateLimiter
from channels.web.service import MailOut, Sender, sender_of, submission_key, submit
from interactions.store import Store
from interactions.types import utcnow

log = structlog.get_logger(__name__)

#: The largest request body read at all: the attachments plus room for the fields.
MAX_REQUEST = MAX_FILES_BYTES + 256 * 1024
MAX_FIELD_BYTES = 64 * 1024
HONEYPOT = "website"
OUTAGES = (OperationalError, DBAPIError, OSError)

INPUT_TYPES = {"email": "email", "phone": "tel", "reading_date": "date"}
AUTOCOMPLETE = {"name": "name", "email": "email", "phone": "tel"}
CHOICES = {"change_type": CHANGE_TYPES, "callback_time": CALLBACK_TIMES}


class TooLarge(Exception):
    """The request body passed `MAX_REQUEST` while being read."""


@dataclass
class WebForm:
    """What the handlers share: the store, the defences, the templates and the outbox."""

    store: Store
    signer: CsrfSigner
    limiter: RateLimiter
    per_address: RateLimit
    per_email: RateLimit
    outbox: Path
    templates: jinja2.Environment
    #: The email channel's sender when SMTP is configured; else the outbox folder.
    mail: MailOut | None = None
    senders: dict[str, Sender] = field(default_factory=dict)

    async def sender(self) -> Sender:
        code = self.store.default_legal_entity
        if code not in self.senders:
            self.senders[code] = await sender_of(self.store, code)
        return self.senders[code]


WEB_FORM = web.AppKey("web_form", WebForm)


def templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("channels.web", "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render(
    request: web.Request, name: str, language: str, status: int = 200, **context: Any
) -> web.Response:
    """Render a page in `language`, setting the CSRF cookie when the browser has none."""
    form = request.app[WEB_FORM]
    cookie = request.cookies.get(CSRF_COOKIE) or form.signer.new_cookie()
    other = "en" if language == "sl" else "sl"

    def say(problem: Problem) -> str:
        return i18n.text(f"err_{problem.code}", language, **problem.values)

    html = form.templates.get_template(name).render(
        lang=language,
        other_lang=other,
        switch_url=f"{request.path}?lang={other}",
        t=lambda key, **values: i18n.text(key, language, **values),
        say=say,
        csrf=form.signer.token(cookie),
        **context,
    )
    response = web.Response(text=html, content_type="text/html", status=status)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Content-Security-Policy"] = "default-src 'self'; style-src 'unsafe-inline'"
    if CSRF_COOKIE not in request.cookies:
        secure = request.secure
        response.set_cookie(CSRF_COOKIE, cookie, httponly=True, samesite="Lax", secure=secure)
    if "lang" in request.query:
        response.set_cookie(i18n.LANGUAGE_COOKIE, language, samesite="Lax", max_age=31536000)
    return response


async def choose(request: web.Request) -> web.Response:
    """The list of forms."""
    language = i18n.pick_language(request)
    return render(request, "choose.html", language, kinds=[k.value for k in FormKind])


def _kind(request: web.Request) -> FormKind:
    try:
        return FormKind(request.match_info["kind"])
    except ValueError:
        raise web.HTTPNotFound() from None


def render_form(
    request: web.Request,
    kind: FormKind,
    language: str,
    *,
    values: dict[str, str] | None = None,
    problems: Problems | None = None,
    had_files: bool = False,
    status: int = 200,
) -> web.Response:
    return render(
        request,
        "form.html",
        language,
        status=status,
        kind=kind.value,
        fields=fields_of(kind),
        required=REQUIRED[kind],
        values=values or {},
        problems=problems or {},
        had_files=had_files,
        input_types=INPUT_TYPES,
        autocomplete=AUTOCOMPLETE,
        choices=CHOICES,
    )


async def show_form(request: web.Request) -> web.Response:
    """An empty form of one kind."""
    return render_form(request, _kind(request), i18n.pick_language(request))


async def post_form(request: web.Request) -> web.Response:
    """Check and record a submitted form; on refusal, give it back with every problem named."""
    form = request.app[WEB_FORM]
    kind = _kind(request)
    language = i18n.pick_language(request)

    def refuse(
        status: int,
        problems: Problems,
        values: dict[str, str] | None = None,
        had_files: bool = False,
    ) -> web.Response:
        log.info("web_form_refused", kind=kind.value, status=status, problems=sorted(problems))
        return render_form(
            request,
            kind,
            language,
            values=values,
            problems=problems,
            had_files=had_files,
            status=status,
        )

    too_large = {"form": [Problem("request_too_large", {"limit": MAX_REQUEST // 2**20})]}
    if request.content_length is not None and request.content_length > MAX_REQUEST:
        return refuse(413, too_large)
    try:
        values, uploads = await read_body(request)
    except TooLarge:
        return refuse(413, too_large)
    kept = {k: v for k, v in values.items() if k in fields_of(kind)}
    had_files = any(u.data for u in uploads)

    cookie = request.cookies.get(CSRF_COOKIE)
    if not form.signer.check(cookie, values.get("csrf")):
        return refuse(403, {"form": [Problem("csrf")]}, kept, had_files)
    if values.get(HONEYPOT):
        log.info("web_form_honeypot", kind=kind.value)
        return refuse(400, {"form": [Problem("honeypot")]}, kept, had_files)

    submission, problems = validate(kind, values, uploads, utcnow().date())
    try:
        limited = await rate_limited(form, request, submission.email if submission else None)
        if limited:
            return refuse(429, limited, kept, had_files)
        if submission is None:
            return refuse(422, problems, kept, had_files)
        recorded = await submit(
            form.store,
            submission,
            external_id=submission_key(values.get("csrf", ""), submission),
            language=language,
            outbox=form.outbox,
            sender=await form.sender(),
            mail=form.mail,
        )
    except OUTAGES:
        log.warning("web_form_store_unavailable", step="record")
        return refuse(503, {"form": [Problem("unavailable")]}, kept, had_files)

    return render(
        request, "thanks.html", language, ticket=recorded.ticket_number, email=submission.email
    )


async def rate_limited(form: WebForm, request: web.Request, email: str | None) -> Problems:
    """Count this request for its client address and, once known, its email address.

    Refused requests count as well, so that a flood of bad forms is limited too.
    """
    address = client_key(request, form.limiter)
    rules = {address: form.per_address}
    email_key = form.limiter.key("email", email) if email else None
    if email_key:
        rules[email_key] = form.per_email
    over = await form.limiter.over_limit(rules)
    if address in over:
        return {"form": [Problem("rate_limited")]}
    if email_key in over:
        return {"email": [Problem("rate_limited")]}
    return {}


def client_key(request: web.Request, limiter: RateLimiter) -> str:
    """The rate-limit key of the client's address.

    TODO(#7): behind a reverse proxy every client shares the proxy's address; read
    X-Forwarded-For from a configured list of trusted proxies.
    """
    return limiter.key("address", request.remote or "unknown")


async def read_body(request: web.Request) -> tuple[dict[str, str], list[Upload]]:
    """Read the fields and files, stopping once the body passes `MAX_REQUEST`."""
    values: dict[str, str] = {}
    uploads: list[Upload] = []
    if request.content_type != "multipart/form-data":
        if (request.content_length or 0) > MAX_REQUEST:
            raise TooLarge()
        posted = await request.post()
        return {k: v for k, v in posted.items() if isinstance(v, str)}, uploads

    reader = await request.multipart()
    total = 0
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader):
            raise TooLarge()  # nested multipart is no browser's doing; refuse it whole
        chunks: list[bytes] = []
        size, oversized = 0, False
        limit = MAX_FILE_BYTES if part.filename is not None else MAX_FIELD_BYTES
        while chunk := await part.read_chunk(64 * 1024):
            total += len(chunk)
            if total > MAX_REQUEST:
                raise TooLarge()
            size += len(chunk)
            if size > limit:
                oversized, chunks = True, []
            elif not oversized:
                chunks.append(chunk)
        data = b"".join(chunks)
        if part.filename is not None:
            if part.filename or size:
                uploads.append(Upload(part.filename, data, oversized))
        elif part.name and not oversized:
            values[part.name] = data.decode(part.get_charset("utf-8"), errors="replace")
    return values, uploads


async def post_json(request: web.Request) -> web.Response:
    """The same forms for the utility's portal or app: JSON in, ticket number out."""
    form = request.app[WEB_FORM]
    if request.content_type != "application/json":
        return problem_json(415, {"body": [Problem("unsupported_media_type")]}, "en")
    if request.content_length is None or request.content_length > MAX_REQUEST * 4 // 3:
        limit = {"limit": MAX_REQUEST // 2**20}
        return problem_json(413, {"form": [Problem("request_too_large", limit)]}, "en")
    try:
        body = await request.json()
    except (ValueError, RecursionError):  # not JSON, or nested deeper than Python reads
        body = None
    if not isinstance(body, dict):
        return problem_json(400, {"body": [Problem("invalid_json")]}, "en")

    asked = body.get("language")
    if asked is not None and asked not in i18n.LANGUAGES:
        return problem_json(422, {"language": [Problem("invalid_choice")]}, "en")
    language = asked if asked in i18n.LANGUAGES else "sl"
    key = body.get("idempotency_key")
    if key is not None and not (
        isinstance(key, str) and 0 < len(key) <= MAX_IDEMPOTENCY_KEY and key.isprintable()
    ):
        # Never cut a key short: two different keys would become one submission.
        return problem_json(422, {"idempotency_key": [Problem("too_long")]}, language)
    try:
        kind = FormKind(body.get("kind"))
    except ValueError:
        return problem_json(422, {"kind": [Problem("invalid_choice")]}, language)
    values = {k: str(v) for k, v in body.items() if isinstance(v, str | int | float)}
    uploads, broken = json_uploads(body.get("attachments"))
    if broken:
        return problem_json(422, {"attachments": [Problem("file_type", {"file": "?"})]}, language)

    submission, problems = validate(kind, values, uploads, utcnow().date())
    try:
        limited = await rate_limited(form, request, submission.email if submission else None)
        if limited:
            return problem_json(429, limited, language)
        if submission is None:
            return problem_json(422, problems, language)
        origin = key or str(uuid.uuid4())
        recorded = await submit(
            form.store,
            submission,
            external_id=submission_key("api:" + origin, submission),
            language=language,
            outbox=form.outbox,
            sender=await form.sender(),
            mail=form.mail,
        )
    except OUTAGES:
        return problem_json(503, {"form": [Problem("unavailable")]}, language)
    status = 201 if recorded.created else 200
    return web.json_response(
        {"ticket_number": recorded.ticket_number, "activity_id": recorded.activity_id},
        status=status,
    )


MAX_IDEMPOTENCY_KEY = 200


def json_uploads(items: Any) -> tuple[list[Upload], bool]:
    """Decode `[{"filename", "content_base64"}]`; report whether any item was malformed."""
    if items is None:
        return [], False
    if not isinstance(items, list):
        return [], True
    uploads = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("content_base64"), str):
            return [], True
        try:
            data = base64.b64decode(item["content_base64"], validate=True)
        except (binascii.Error, ValueError):
            return [], True
        uploads.append(Upload(str(item.get("filename") or ""), data))
    return uploads, False


def problem_json(status: int, problems: Problems, language: str) -> web.Response:
    """Problems by field, each with its code and its words in `language`."""
    errors = {
        name: [
            {"code": p.code, "message": i18n.text(f"err_{p.code}", language, **p.values)}
            for p in items
        ]
        for name, items in problems.items()
    }
    return web.json_response({"errors": errors}, status=status)


async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI description of the form endpoint."""
    spec = Path(__file__).with_name("openapi.yaml").read_text()
    return web.Response(text=spec, content_type="application/yaml")


__all__ = ["MAX_FILES", "WEB_FORM", "WebForm"]
