"""Is this request really from Twilio? X-Twilio-Signature, checked by twilio's validator.

Twilio signs the URL it requested (scheme, host, port, path and query) followed by the
sorted form parameters, with the account's auth token. Behind a reverse proxy Stik sees
another URL than Twilio asked for, so the URL is rebuilt: from STIK_PUBLIC_URL when it is
configured (the reliable way), else from the proxy's X-Forwarded-Proto and -Host.
"""

from collections.abc import Mapping
from urllib.parse import urlsplit

from aiohttp import web
from twilio.request_validator import RequestValidator, get_signature_algorithm

SIGNATURE_HEADER = "X-Twilio-Signature"
SETTINGS_HEADER = "X-Twilio-Webhooks-Signature-Settings"


def public_url(request: web.Request, configured: str = "") -> str:
    """The URL Twilio requested, as Twilio saw it."""
    path = request.rel_url.raw_path_qs
    if configured:
        base = urlsplit(configured)
        prefix = base.path.rstrip("/")
        return f"{base.scheme}://{base.netloc}{prefix}{path}"
    scheme = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip() or request.scheme
    host = request.headers.get("X-Forwarded-Host", "").split(",")[0].strip() or request.host
    return f"{scheme}://{host}{path}"


def valid(token: str, url: str, params: Mapping[str, str], headers: Mapping[str, str]) -> bool:
    """Return whether the request carries Twilio's signature over `url` and `params`."""
    signature = headers.get(SIGNATURE_HEADER)
    if not token or not signature:
        return False
    algorithm = get_signature_algorithm(headers.get(SETTINGS_HEADER))
    return bool(RequestValidator(token).validate(url, params, signature, algorithm))


def sign(token: str, url: str, params: Mapping[str, str]) -> str:
    """The signature Twilio would send; for `stik call` and the tests."""
    return str(RequestValidator(token).compute_signature(url, params))
