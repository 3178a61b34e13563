"""Uploaded files: their type read from their first bytes, never from their name."""

import filetype

#: What customers may attach to a web form: the type by content, and its usual suffix.
FORM_TYPES = {"application/pdf": "pdf", "image/jpeg": "jpg", "image/png": "png"}


def sniff(data: bytes) -> str | None:
    """Return the MIME type the bytes' signature says, or None when unknown."""
    kind = filetype.guess(data[:8192])
    return kind.mime if kind is not None else None
