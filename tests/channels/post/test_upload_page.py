"""The agents' upload page: many scans at once, each accounted for."""

import asyncio
import os
import re
import time
from pathlib import Path

from aiohttp import FormData

from interactions.store import Store
from tests.channels.post.render import render_letter
from tests.channels.web.helpers import WINDOWS_EXE, activity_count, running_app, signed_in_agent


async def test_upload_records_scans_and_names_refusals(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        await signed_in_agent(client, store)
        page = await (await client.get("/post/upload")).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = FormData()
        data.add_field("csrf_token", token)
        data.add_field("scans", render_letter(dpi=200), filename="pismo.png")
        data.add_field("scans", WINDOWS_EXE, filename="pismo2.pdf")
        response = await client.post("/post/upload", data=data)
        result = await response.text()
    assert response.status == 200
    assert re.search(r"<td>pismo.png</td><td>\d+</td><td>\d{4}-\d{6}</td>", result)
    assert "pismo2.pdf: ni PDF, TIFF, PNG ali JPEG" in result
    assert await activity_count(store) == 1


async def test_upload_without_token_is_refused(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        await signed_in_agent(client, store)
        data = FormData()
        data.add_field("scans", render_letter(dpi=200), filename="pismo.png")
        response = await client.post("/post/upload", data=data)
        assert response.status == 403
    assert await activity_count(store) == 0


async def test_upload_needs_a_signed_in_agent(store: Store, tmp_path: Path) -> None:
    async with running_app(store, tmp_path) as client:
        page = await client.get("/post/upload", allow_redirects=False)
        data = FormData()
        data.add_field("csrf_token", "guessed")
        data.add_field("scans", render_letter(dpi=200), filename="pismo.png")
        upload = await client.post("/post/upload", data=data, allow_redirects=False)
    assert (page.status, upload.status) == (302, 302)
    assert upload.headers["Location"] == "/login"
    assert await activity_count(store) == 0


async def test_running_app_watches_the_scan_folder(store: Store, tmp_path: Path) -> None:
    scans = tmp_path / "scans"
    scans.mkdir()
    letter = scans / "batch-0001.png"
    letter.write_bytes(render_letter(dpi=200))
    settled = time.time() - 60
    os.utime(letter, (settled, settled))

    async with running_app(store, tmp_path, post={"watch": True, "interval_seconds": 0.2}):
        for _ in range(300):
            if (scans / "done" / "batch-0001.png").exists():
                break
            await asyncio.sleep(0.1)
    assert (scans / "done" / "batch-0001.png").exists()
    assert await activity_count(store) == 1
