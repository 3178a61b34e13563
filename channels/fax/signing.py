"""Signatures of the fax provider's webhook: HMAC-SHA256 over `timestamp.body`."""

import hashlib
import hmac
import time

MAX_SKEW_SECONDS = 300


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    return hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def check(
    secret: bytes,
    timestamp: str | None,
    signature: str | None,
    body: bytes,
    now: float | None = None,
) -> bool:
    """Return whether the body was signed with our secret within the last five minutes."""
    if not secret or not timestamp or not signature:
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        return False
    current = now if now is not None else time.time()
    if abs(current - int(timestamp)) > MAX_SKEW_SECONDS:
        return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected, signature.removeprefix("sha256="))
