"""Is it Twilio? Signatures from twilio-python's own vectors, then forged requests refused.

The vectors come from ../shared/corpus/twilio/signature_test_vectors.json.
"""

import json
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import make_mocked_request
from multidict import CIMultiDict, MultiDict
from sqlalchemy import func, select

from channels.phone import signature
from interactions.models import Activity, Blob
from tests.channels.phone.conftest import DIALLED, TOKEN, Line, twilio_example
from tests.conftest import corpus_path

SID = "CA" + "1" * 32


def vectors() -> dict[str, Any]:
    return dict(json.loads(corpus_path("twilio", "signature_test_vectors.json").read_text()))


def test_twilio_python_vectors_validate() -> None:
    data = vectors()
    token = data["auth_token"]
    cases = data["cases"]
    params = cases[0]["params"]
    for case in cases[:5]:
        expected = case.get("expected_signature") or case["validates_with"]
        headers = {signature.SIGNATURE_HEADER: expected}
        assert signature.valid(token, case["url"], params, headers), case["name"]
        assert not signature.valid(token, case["url"], {**params, "Digits": "9"}, headers)
        assert not signature.valid("another-token", case["url"], params, headers)
    repeated = cases[5]
    multi = MultiDict(repeated["params_multi"])
    assert signature.valid(
        token, repeated["url"], multi, {signature.SIGNATURE_HEADER: repeated["expected_signature"]}
    )


def test_corpus_payloads_with_slovenian_letters_validate() -> None:
    data = vectors()
    for case in data["computed_here"]["cases"]:
        name, key = case["params_file"].split("#")
        params = {
            k: str(v) for k, v in json.loads(corpus_path("twilio", name).read_text())[key].items()
        }
        headers = {signature.SIGNATURE_HEADER: case["signature"]}
        assert signature.valid(data["auth_token"], case["url"], params, headers), name


def request_with(path: str, headers: dict[str, str]) -> web.Request:
    return make_mocked_request(
        "POST", path, headers=CIMultiDict({"Host": "10.0.0.5:8080", **headers})
    )


def test_public_url_is_rebuilt_behind_a_proxy() -> None:
    plain = request_with("/phone/twilio/voice?line=1", {})
    proxied = request_with(
        "/phone/twilio/voice?line=1",
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "klic.example.si"},
    )
    assert signature.public_url(plain) == "http://10.0.0.5:8080/phone/twilio/voice?line=1"
    assert signature.public_url(proxied) == "https://klic.example.si/phone/twilio/voice?line=1"
    # A configured public URL wins over whatever headers a request carries.
    assert (
        signature.public_url(proxied, "https://stik.example.si/cc/")
        == "https://stik.example.si/cc/phone/twilio/voice?line=1"
    )


async def stored(line: Line) -> tuple[int, int]:
    async with line.store.sessions() as db:
        activities = await db.scalar(select(func.count()).select_from(Activity))
        blobs = await db.scalar(select(func.count()).select_from(Blob))
    return int(activities or 0), int(blobs or 0)


async def test_forged_and_unsigned_webhooks_are_refused_and_nothing_is_stored(line: Line) -> None:
    before = await stored(line)
    params = twilio_example("incoming_voice_call.json")
    params.update(CallSid=SID, To=DIALLED)
    assert line.twilio is not None
    unsigned = await line.twilio.post(line.url("/phone/twilio/voice"), data=params)
    forged, _ = await line.post("/phone/twilio/voice", params, token="not-our-token")
    other_url, _ = await line.post(
        "/phone/twilio/voice", params, signed_url=line.url("/phone/twilio/status")
    )
    tampered_sig = signature.sign(TOKEN, line.url("/phone/twilio/voice"), params)
    tampered = await line.twilio.post(
        line.url("/phone/twilio/voice"),
        data={**params, "From": "+38641000000"},
        headers={"X-Twilio-Signature": tampered_sig},
    )
    status_forged, _ = await line.post(
        "/phone/twilio/status", {"CallSid": SID, "CallStatus": "completed"}, token="x"
    )
    assert [unsigned.status, forged, other_url, tampered.status, status_forged] == [403] * 5
    assert await stored(line) == before


async def test_signature_with_query_string_port_and_proxied_scheme(line: Line) -> None:
    params = twilio_example("incoming_voice_call.json")
    params.update(CallSid=SID, To=DIALLED)
    path = "/phone/twilio/voice?tenant=1&line=main"
    direct, _ = await line.post(path, params)  # signed over http://127.0.0.1:PORT/...?query
    public = f"https://klic.example.si{path}"
    proxied, twiml = await line.post(
        path,
        {**params, "CallSid": "CA" + "2" * 32},
        signed_url=public,
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "klic.example.si"},
    )
    # Twilio sometimes signs with the default port spelled out; that is accepted too.
    with_port, _ = await line.post(
        path,
        {**params, "CallSid": "CA" + "3" * 32},
        signed_url=f"https://klic.example.si:443{path}",
        headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "klic.example.si"},
    )
    assert (direct, proxied, with_port) == (200, 200, 200)
    assert "<Enqueue" in twiml


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"CallSid=" + b"x" * 70_000, "application/x-www-form-urlencoded", 413),
        (b'{"CallSid": "CA1"}', "application/json", 415),
    ],
)
async def test_oversized_and_foreign_bodies_are_refused(
    line: Line, body: bytes, content_type: str, status: int
) -> None:
    assert line.twilio is not None
    response = await line.twilio.post(
        line.url("/phone/twilio/voice"), data=body, headers={"Content-Type": content_type}
    )
    assert response.status == status
    assert (await stored(line))[0] == 1  # only the world's email
