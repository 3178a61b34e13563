"""The fax provider's signed upload webhook.

The provider POSTs JSON: `{"fax_id", "from", "to", "content_base64", "filename"}`, with
headers `X-Stik-Timestamp` (Unix seconds) and `X-Stik-Signature` (hex HMAC-SHA256 of
`timestamp.body` under the shared secret). A bad signature is 403 and nothing is stored.
"""

import base64
import binascii
import json
from dataclasses import dataclass

import structlog
from aiohttp import web
from sqlalchemy.exc import DBAPIError, OperationalError

from channels.fax import signing
from channels.post.service import NotAScan, import_scan
from interactions.identifiers import InvalidIdentifier, normalize_phone
from interactions.models import Channel
from interactions.store import Store

log = structlog.get_logger(__name__)

MAX_BODY = 40 * 1024 * 1024


@dataclass(frozen=True)
class FaxWebhook:
    store: Store
    secret: bytes


FAX_WEBHOOK = web.AppKey("fax_webhook", FaxWebhook)


async def receive_fax(request: web.Request) -> web.Response:
    """Check the signature, then record the fax; retries of one fax id are one activity."""
    hook = request.app[FAX_WEBHOOK]
    if request.content_length is not None and request.content_length > MAX_BODY:
        return web.json_response({"error": "body too large"}, status=413)
    body = await request.read()
    if not body:
        return web.json_response({"error": "body missing"}, status=400)
    if len(body) > MAX_BODY:
        return web.json_response({"error": "body too large"}, status=413)
    timestamp = request.headers.get("X-Stik-Timestamp")
    if not signing.check(hook.secret, timestamp, request.headers.get("X-Stik-Signature"), body):
        log.warning("fax_webhook_bad_signature")
        return web.json_response({"error": "signature"}, status=403)

    try:
        payload = _payload(body)
    except ValueError as exc:
        return web.json_response({"error": str(exc)}, status=400)
    fax_id, number, data, filename = payload
    try:
        result = await import_scan(
            hook.store,
            data,
            filename,
            channel=Channel.FAX,
            external_id=f"fax:{fax_id}",
            sender_number=number,
            meta={"source": "fax_webhook"},
        )
    except NotAScan as exc:
        return web.json_response({"error": str(exc)}, status=422)
    except (OperationalError, DBAPIError, OSError):
        log.warning("fax_webhook_store_unavailable")
        return web.json_response({"error": "try again"}, status=503)
    return web.json_response(
        {"activity_id": result.activity_id, "ticket_number": result.ticket_number},
        status=201 if result.created else 200,
    )


def _payload(body: bytes) -> tuple[str, str | None, bytes, str]:
    try:
        fields = json.loads(body)
    except (ValueError, RecursionError):
        raise ValueError("body is not JSON (or nested too deeply)") from None
    if not isinstance(fields, dict):
        raise ValueError("body is not a JSON object")
    fax_id = fields.get("fax_id")
    if not isinstance(fax_id, str) or not 0 < len(fax_id) <= 200:
        raise ValueError("fax_id missing")
    try:
        data = base64.b64decode(str(fields.get("content_base64", "")), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("content_base64 is not base64") from None
    if not data:
        raise ValueError("content_base64 is empty")
    try:
        number = normalize_phone(str(fields.get("from") or ""))
    except InvalidIdentifier:
        number = None
    return fax_id, number, data, str(fields.get("filename") or f"fax-{fax_id}")[:200]
