"""A running Stik with the phone channel, call-centre agents who sign in, and Twilio's side.

Twilio's cloud cannot run here, so the tests play its part: they post the parameters
Twilio really posts (../shared/corpus/twilio), signed with twilio's own validator over
the URL the test server is reached at, and follow the TwiML that Stik answers.
"""

import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from aiohttp.test_utils import TestServer
from sqlalchemy import select

from agent_ui.users import Role, add_employee, configure_hasher
from channels.fax.signing import sign as hmac_sign
from channels.phone.signature import sign
from interactions.models import Activity, Channel, Employee, OrgUnit, Queue
from interactions.store import Store
from stik.app import create_app
from stik.config import Settings
from tests.agent_ui import factories
from tests.conftest import corpus_path

TOKEN = "test-auth-token-0123456789abcdef"
CTI_SECRET = "cti-shared-secret"
DIALLED = "+38615800100"
KNOWN_CALLER = "+38641123456"  # the world's Ana Novak: "041 123 456"
PASSWORD = factories.PASSWORD
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def twilio_example(name: str, key: str = "example") -> dict[str, str]:
    """The parameters Twilio posts, from the corpus (names from Twilio's documentation)."""
    data = json.loads(corpus_path("twilio", name).read_text(encoding="utf-8"))
    return {k: str(v) for k, v in data[key].items()}


def phone_config(**overrides: Any) -> dict[str, Any]:
    config: dict[str, Any] = {
        "auth_token": TOKEN,
        "cti_secret": CTI_SECRET,
        "wait_poll_seconds": 1,
        "lines": [{"number": "01 580 01 00", "legal_entity": "supplier", "queue": "sup-calls"}],
    }
    config.update(overrides)
    return config


@dataclass
class Agent:
    login: str
    id: int
    session: aiohttp.ClientSession
    csrf: str
    sockets: list[aiohttp.ClientWebSocketResponse] = field(default_factory=list)

    async def available(self) -> None:
        response = await self.session.post(
            "/presence", data={"csrf_token": self.csrf, "state": "available"}
        )
        assert response.status == 200, await response.text()

    async def socket(self, after: int | None = None) -> aiohttp.ClientWebSocketResponse:
        url = "/ws" if after is None else f"/ws?after={after}"
        ws = await self.session.ws_connect(url)
        self.sockets.append(ws)
        if after is None:  # a fresh page: hello first; a returning one gets what it missed
            hello = await ws.receive_json(timeout=5)
            assert hello["kind"] == "hello"
        return ws

    async def press(self, task_id: int, button: str) -> aiohttp.ClientResponse:
        return await self.session.post(
            f"/calls/{task_id}/{button}", headers={"X-CSRF-Token": self.csrf}
        )


async def next_event(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The next pushed event of `kind` (others are skipped)."""
    while True:
        event = await ws.receive_json(timeout=5)
        if event.get("kind") == kind:
            return dict(event)


@dataclass
class Line:
    """Stik served on a free port, and what a test does to it as Twilio, a PBX or an agent."""

    store: Store
    server: TestServer
    world: factories.World
    queue_id: int
    agents: dict[str, Agent] = field(default_factory=dict)
    twilio: aiohttp.ClientSession | None = None

    def url(self, path: str) -> str:
        return str(self.server.make_url(path))

    async def post(
        self,
        path: str,
        params: dict[str, str],
        *,
        token: str = TOKEN,
        signed_url: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Post as Twilio does: form-encoded, signed over the URL and the parameters."""
        assert self.twilio is not None
        signature = sign(token, signed_url or self.url(path), params)
        response = await self.twilio.post(
            self.url(path),
            data=urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": signature,
                **(headers or {}),
            },
        )
        return response.status, await response.text()

    async def cti(self, event: dict[str, Any], secret: str = CTI_SECRET) -> aiohttp.ClientResponse:
        assert self.twilio is not None
        body = json.dumps(event).encode()
        stamp = str(int(time.time()))
        return await self.twilio.post(
            self.url("/phone/cti/events"),
            data=body,
            headers={
                "Content-Type": "application/json",
                "X-Stik-Timestamp": stamp,
                "X-Stik-Signature": hmac_sign(secret.encode(), stamp, body),
            },
        )

    async def sign_in(self, login: str) -> Agent:
        session = aiohttp.ClientSession(
            base_url=self.server.make_url("/"), cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        page = await session.get("/login")
        token = CSRF.search(await page.text())
        assert token
        response = await session.post(
            "/login", data={"login": login, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        assert response.status == 200, await response.text()
        after = CSRF.search(await response.text())
        assert after
        agent = Agent(login, await employee_id(self.store, login), session, after.group(1))
        self.agents[login] = agent
        return agent

    async def call(self, sid: str, caller: str = KNOWN_CALLER, **extra: str) -> tuple[int, str]:
        params = twilio_example("incoming_voice_call.json")
        params.update(CallSid=sid, From=caller, Caller=caller, To=DIALLED, Called=DIALLED)
        params.update(extra)
        return await self.post("/phone/twilio/voice", params)

    async def callback(self, path: str, sid: str, **fields: str) -> tuple[int, str]:
        params = twilio_example("call_status_callback.json", "example_completed")
        for name in ("CallDuration", "Timestamp", "SequenceNumber", "CallbackSource"):
            params.pop(name, None)
        params.update(CallSid=sid, From=KNOWN_CALLER, To=DIALLED, **fields)
        return await self.post(path, params)


async def employee_id(store: Store, login: str) -> int:
    async with store.sessions() as db:
        found = await db.scalar(select(Employee.id).where(Employee.login == login))
    assert found is not None
    return int(found)


async def call_activity(store: Store, sid: str) -> Activity:
    async with store.sessions() as db:
        found = await db.scalar(
            select(Activity).where(Activity.channel == Channel.PHONE, Activity.external_id == sid)
        )
    assert found is not None, f"no activity for {sid}"
    return found


async def add_call_centre(store: Store, **queue: Any) -> int:
    """A supplier call-centre queue, and two agents (one speaks English) and a DSO agent."""
    async with store.sessions() as db, db.begin():
        line = Queue(
            code="sup-calls",
            name="Klicni center dobavitelja",
            legal_entity="supplier",
            org_unit=OrgUnit.CALL_CENTRE,
            channels=["phone"],
            **queue,
        )
        db.add(line)
        for login, entity, languages in (
            ("ana", "supplier", ["sl", "en"]),
            ("bor", "supplier", ["sl"]),
            ("dan", "dso", ["sl", "en"]),
        ):
            await add_employee(
                db,
                login=login,
                password=PASSWORD,
                role=Role.AGENT,
                legal_entity=entity,
                org_unit=OrgUnit.CALL_CENTRE,
                full_name=login.title(),
                languages=languages,
            )
        await db.flush()
        return int(line.id)


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> None:
    configure_hasher(time_cost=1, memory_cost=8)


@asynccontextmanager
async def serving(
    store: Store, data_dir: Path, world: factories.World, queue_id: int, **phone: Any
) -> AsyncIterator[Line]:
    """Serve Stik with the phone channel configured; close every client afterwards."""
    settings = Settings(data_dir=data_dir, extra={"phone": phone_config(**phone)})
    server = TestServer(create_app(settings, store=store))
    await server.start_server()
    here = Line(store, server, world, queue_id, twilio=aiohttp.ClientSession())
    try:
        yield here
    finally:
        for agent in here.agents.values():
            for ws in agent.sockets:
                await ws.close()
            await agent.session.close()
        assert here.twilio is not None
        await here.twilio.close()
        await server.close()


@pytest.fixture
async def line(store: Store, tmp_path: Path) -> AsyncIterator[Line]:
    world = await factories.world(store)
    queue_id = await add_call_centre(store)
    async with serving(store, tmp_path, world, queue_id) as here:
        yield here
