"""A running Stik app around a test store, and a browser-like way to fill its forms."""

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import func, select

from interactions.models import Activity
from interactions.store import Store
from stik.app import create_app
from stik.config import Settings

CSRF = re.compile(r'name="csrf" value="([^"]+)"')
TICKET = re.compile(r'id="ticket-number">(\d{4}-\d{6})<')


@asynccontextmanager
async def running_app(store: Store, data_dir: Path, **sections: Any) -> AsyncIterator[TestClient]:
    """Serve Stik on a free port; `sections` are config sections, e.g. web={...}."""
    sections.setdefault("post", {"watch": False})
    settings = Settings(data_dir=data_dir, extra=sections)
    client = TestClient(TestServer(create_app(settings, store=store)))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()


async def csrf_token(client: TestClient, kind: str, **query: str) -> str:
    page = await client.get(f"/form/{kind}", params=query)
    assert page.status == 200
    match = CSRF.search(await page.text())
    assert match is not None
    return match.group(1)


def form_data(
    fields: dict[str, str], files: list[tuple[str, bytes, str]] | None = None
) -> FormData:
    data = FormData()
    for name, value in fields.items():
        data.add_field(name, value)
    for filename, content, content_type in files or []:
        data.add_field("attachments", content, filename=filename, content_type=content_type)
    return data


async def submit(
    client: TestClient,
    kind: str,
    fields: dict[str, str],
    files: list[tuple[str, bytes, str]] | None = None,
    **query: str,
) -> tuple[int, str]:
    """Open the form like a browser, then post it with its token; return status and page."""
    token = await csrf_token(client, kind, **query)
    response = await client.post(
        f"/form/{kind}", data=form_data({"csrf": token, **fields}, files), params=query
    )
    return response.status, await response.text()


async def activity_count(store: Store) -> int:
    async with store.sessions() as session:
        return (await session.scalar(select(func.count()).select_from(Activity))) or 0


def minimal_pdf(text: str = "Priloga") -> bytes:
    """A small, valid one-page PDF."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


#: The first bytes of a Windows program: what a renamed .exe really is.
WINDOWS_EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + bytes(512)


async def signed_in_agent(client: TestClient, store: Store, login: str = "desk") -> str:
    """Add an agent of the supplier, sign them in on `client`; return their CSRF token."""
    from tests.agent_ui.factories import employee, sign_in

    await employee(store, login)
    return await sign_in(client, login)
