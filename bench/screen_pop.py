"""Screen-pop latency: from the incoming-call webhook's arrival to the agent's WebSocket.

`stik serve` runs as its own process on PostgreSQL with the demo book of partners
(1M by default, reused between runs when the database already holds them). Call-centre
agents sign in, open the workspace's socket and go available. This process then plays
Twilio: signed incoming-call webhooks of callers drawn from the book (one in ten
unknown), open-loop at a fixed rate; each pop is answered and the call hung up at once,
so that the agent is free for the next. Latency is measured in this process from the
moment the webhook is sent to the moment its pop arrives on the agent's socket.

The ceiling, measured in the same run at the same rate: a bare aiohttp handler in its
own process doing one INSERT (autocommit) per request, timed to its response. Then the
call rate is raised until Stik's p99 passes 100 ms: that rate is `saturation_calls_per_s`.

    .venv/bin/python bench/screen_pop.py --quick

Last line: {"p50_ms", "p99_ms", "ceiling_p99_ms", "saturation_calls_per_s", ...}.
"""

import argparse
import asyncio
import json
import os
import random
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout: the project's packages, not bench/

from channels.phone.signature import sign  # noqa: E402

ADMIN_DSN = os.environ.get("STIK_BENCH_POSTGRES", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "stik_bench_screen_pop"
PASSWORD = "bench password 1"
TOKEN = "bench-twilio-token"
DIALLED = "+38615800100"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


async def _fetch(dsn: str, query: str, *args: object) -> Any:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchval(query, *args)
    finally:
        await conn.close()


def database(partners: int) -> str:
    """The bench database, with at least `partners` demo partners (kept between runs)."""
    if not asyncio.run(_fetch(ADMIN_DSN, "SELECT 1 FROM pg_database WHERE datname = $1", DATABASE)):
        asyncio.run(_fetch(ADMIN_DSN, f'CREATE DATABASE "{DATABASE}"'))
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + "/" + DATABASE
    env = {**os.environ, "STIK_DATABASE_URL": dsn, "STIK_LOG_LEVEL": "warning"}
    stik = [sys.executable, "-m", "stik"]
    subprocess.run([*stik, "db", "upgrade"], env=env, cwd=ROOT, check=True, capture_output=True)
    have = asyncio.run(_fetch(dsn, "SELECT count(*) FROM partner"))
    if have < partners:
        print(f"loading {partners - have} demo partners (once; kept for later runs)", flush=True)
        subprocess.run(
            [*stik, "demo-data", "--partners", str(partners - have), "--seed", str(have + 1)],
            env=env,
            cwd=ROOT,
            check=True,
        )
    return dsn


async def prepare(dsn: str, agents: int) -> list[str]:
    """Call-centre agents who can sign in, a phone queue that takes them; return callers."""
    from sqlalchemy import delete, select, text

    from agent_ui.users import Role, add_employee, configure_hasher
    from interactions.models import Employee, OrgUnit, Queue
    from interactions.store import Store

    configure_hasher(time_cost=1, memory_cost=8)
    store = Store.open(dsn)
    try:
        async with store.sessions() as db, db.begin():
            await db.execute(text("DELETE FROM agent_event"))
            await db.execute(text("DELETE FROM routing_task WHERE kind = 'call'"))
            await db.execute(text("DELETE FROM activity WHERE channel = 'phone'"))
            queue = await db.scalar(select(Queue).where(Queue.code == "bench-calls"))
            if queue is None:
                db.add(
                    Queue(
                        code="bench-calls",
                        name="Bench call centre",
                        legal_entity="supplier",
                        org_unit=OrgUnit.CALL_CENTRE,
                        channels=["phone"],
                    )
                )
            await db.execute(delete(Employee).where(Employee.login.like("bench-agent-%")))
            for n in range(agents):
                await add_employee(
                    db,
                    login=f"bench-agent-{n}",
                    password=PASSWORD,
                    role=Role.AGENT,
                    legal_entity="supplier",
                    org_unit=OrgUnit.CALL_CENTRE,
                    languages=["sl", "en"],
                )
        async with store.sessions() as db:
            rows = await db.execute(
                text("SELECT value FROM contact_point WHERE kind = 'phone' ORDER BY id LIMIT 5000")
            )
            return [str(r[0]) for r in rows]
    finally:
        await store.close()


def serve_ceiling(port: int, dsn: str) -> None:
    from aiohttp import web

    async def start(app: web.Application) -> None:
        app["pool"] = await asyncpg.create_pool(dsn, min_size=10, max_size=10)
        async with app["pool"].acquire() as conn:
            await conn.execute(
                "CREATE TABLE IF NOT EXISTS bench_ceiling"
                " (id bigserial PRIMARY KEY, body text NOT NULL, at timestamptz DEFAULT now())"
            )

    async def insert(request: web.Request) -> web.Response:
        form = await request.post()
        async with request.app["pool"].acquire() as conn:
            await conn.execute("INSERT INTO bench_ceiling (body) VALUES ($1)", str(form["CallSid"]))
        return web.Response(text="<Response/>", content_type="text/xml")

    app = web.Application()
    app.on_startup.append(start)
    app.router.add_post("/insert", insert)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


async def wait_ready(url: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                async with session.get(url) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server at {url} did not start")


class Floor:
    """The agents' side: signed-in sessions with open sockets, answering every pop."""

    def __init__(self, base: str, twilio: "Twilio") -> None:
        self.base = base
        self.twilio = twilio
        self.sent: dict[int, float] = {}  # activity id -> when its webhook was sent
        self.sid_of: dict[int, str] = {}
        self.latencies: list[float] = []
        self.popped = asyncio.Event()
        self.sessions: list[aiohttp.ClientSession] = []
        self.readers: list[asyncio.Task[None]] = []
        self.early: dict[int, float] = {}
        self.answering: set[asyncio.Task[None]] = set()

    async def sign_in(self, login: str) -> None:
        session = aiohttp.ClientSession(
            base_url=self.base, cookie_jar=aiohttp.CookieJar(unsafe=True)
        )
        self.sessions.append(session)
        page = await (await session.get("/login")).text()
        token = CSRF.search(page)
        assert token, "no sign-in form"
        answer = await session.post(
            "/login", data={"login": login, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        signed = CSRF.search(await answer.text())
        assert signed, f"{login} could not sign in"
        csrf = signed.group(1)
        ws = await session.ws_connect("/ws")
        await ws.receive_json()  # hello
        await session.post("/presence", data={"csrf_token": csrf, "state": "available"})
        self.readers.append(asyncio.create_task(self.read(session, ws, csrf)))

    async def read(
        self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse, csrf: str
    ) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            event = json.loads(message.data)
            if event.get("kind") != "screen_pop":
                continue
            arrived = time.perf_counter()
            payload = event["payload"]
            activity = int(payload["activity_id"])
            if activity in self.sent:
                self.latencies.append(arrived - self.sent[activity])
            else:
                self.early[activity] = arrived  # the pop beat the webhook's answer
            task = asyncio.create_task(self.answer(session, csrf, payload))
            self.answering.add(task)
            task.add_done_callback(self.answering.discard)

    async def answer(
        self, session: aiohttp.ClientSession, csrf: str, payload: dict[str, Any]
    ) -> None:
        await session.post(f"/calls/{payload['task_id']}/accept", headers={"X-CSRF-Token": csrf})
        sid = self.sid_of.get(int(payload["activity_id"]))
        for _ in range(50):
            if sid is not None:
                break
            await asyncio.sleep(0.01)
            sid = self.sid_of.get(int(payload["activity_id"]))
        if sid is not None:
            await self.twilio.post("/phone/twilio/status", sid, CallStatus="completed")

    async def close(self) -> None:
        for task in self.readers:
            task.cancel()
        for session in self.sessions:
            await session.close()


class Twilio:
    def __init__(self, base: str, session: aiohttp.ClientSession) -> None:
        self.base = base
        self.session = session

    async def post(self, path: str, sid: str, **fields: str) -> tuple[int, str, float]:
        params = {"CallSid": sid, "AccountSid": "AC" + "0" * 32, "To": DIALLED, **fields}
        started = time.perf_counter()
        async with self.session.post(
            self.base + path,
            data=urlencode(params).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sign(TOKEN, self.base + path, params),
            },
        ) as response:
            return response.status, await response.text(), started


async def calls_at(
    base: str, floor: Floor, twilio: Twilio, callers: list[str], rate: float, seconds: float
) -> dict[str, float]:
    """Incoming calls at `rate` per second for `seconds`; figures of the pops."""
    floor.latencies.clear()
    pick = random.Random(int(rate * 1000))
    gap = 1.0 / rate
    pending: list[asyncio.Task[None]] = []
    errors = 0

    async def one(n: int) -> None:
        nonlocal errors
        sid = "CA" + secrets.token_hex(16)
        caller = pick.choice(callers) if n % 10 else f"+38640{pick.randrange(10**6):06d}"
        sent = time.perf_counter()
        status, _body, _ = await twilio.post(
            "/phone/twilio/voice", sid, From=caller, Caller=caller, CallStatus="ringing"
        )
        if status != 200:
            errors += 1
            return
        activity = await activity_of(twilio, sid)
        if activity is None:
            errors += 1
            return
        floor.sid_of[activity] = sid
        floor.sent[activity] = sent
        if activity in floor.early:
            floor.latencies.append(floor.early.pop(activity) - sent)

    start = time.perf_counter()
    n = 0
    while time.perf_counter() - start < seconds:
        pending.append(asyncio.create_task(one(n)))
        n += 1
        await asyncio.sleep(max(0.0, start + n * gap - time.perf_counter()))
    await asyncio.gather(*pending)
    await asyncio.sleep(1.0)  # the last pops
    got = list(floor.latencies)
    return {
        "rate": rate,
        "calls": n,
        "pops": len(got),
        "errors": errors,
        "p50_ms": percentile(got, 0.50) * 1000,
        "p99_ms": percentile(got, 0.99) * 1000,
    }


ACTIVITY_DSN: dict[str, asyncpg.Pool] = {}


async def activity_of(twilio: Twilio, sid: str) -> int | None:
    pool = ACTIVITY_DSN["pool"]
    return await pool.fetchval(
        "SELECT id FROM activity WHERE channel = 'phone' AND external_id = $1", sid
    )


async def ceiling_at(url: str, rate: float, seconds: float) -> dict[str, float]:
    latencies: list[float] = []
    gap = 1.0 / rate
    async with aiohttp.ClientSession() as session:

        async def one(n: int) -> None:
            started = time.perf_counter()
            async with session.post(url, data={"CallSid": f"CA{n:032x}"}) as response:
                await response.read()
            latencies.append(time.perf_counter() - started)

        tasks = []
        start = time.perf_counter()
        n = 0
        while time.perf_counter() - start < seconds:
            tasks.append(asyncio.create_task(one(n)))
            n += 1
            await asyncio.sleep(max(0.0, start + n * gap - time.perf_counter()))
        await asyncio.gather(*tasks)
    return {
        "p50_ms": percentile(latencies, 0.5) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    dsn = database(args.partners)
    callers = asyncio.run(prepare(dsn, args.agents))
    data_dir = Path(tempfile.mkdtemp(prefix="stik-bench-pop-"))
    config = data_dir / "stik.toml"
    config.write_text(
        f'[phone]\nauth_token = "{TOKEN}"\n[post]\nwatch = false\n'
        '[[phone.lines]]\nnumber = "+38615800100"\nlegal_entity = "supplier"\n'
        'queue = "bench-calls"\n'
    )
    env = {
        **os.environ,
        "STIK_DATABASE_URL": dsn,
        "STIK_DATA_DIR": str(data_dir),
        "STIK_LOG_LEVEL": "warning",
    }
    port, ceiling_port = free_port(), free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "stik", "--config", str(config), "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
    )
    ceiling = subprocess.Popen(
        [sys.executable, __file__, "--ceiling-server", str(ceiling_port), dsn], cwd=ROOT
    )
    try:
        return asyncio.run(measure(args, dsn, callers, port, ceiling_port))
    finally:
        server.terminate()
        ceiling.terminate()
        server.wait(timeout=20)
        ceiling.wait(timeout=20)


async def measure(
    args: argparse.Namespace, dsn: str, callers: list[str], port: int, ceiling_port: int
) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    await wait_ready(base + "/readyz")
    await wait_ready(f"http://127.0.0.1:{ceiling_port}/insert")
    ACTIVITY_DSN["pool"] = await asyncpg.create_pool(dsn, min_size=2, max_size=20)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200)) as http:
        twilio = Twilio(base, http)
        floor = Floor(base, twilio)
        for n in range(args.agents):
            await floor.sign_in(f"bench-agent-{n}")
        await calls_at(base, floor, twilio, callers, args.rate, 2.0)  # warm-up
        target = await calls_at(base, floor, twilio, callers, args.rate, args.seconds)
        ceiling_figures = await ceiling_at(
            f"http://127.0.0.1:{ceiling_port}/insert", args.rate, args.seconds
        )
        print(
            f"{args.rate:g} calls/s: {target['pops']}/{target['calls']} pops,"
            f" p50 {target['p50_ms']:.1f} ms, p99 {target['p99_ms']:.1f} ms;"
            f" ceiling (bare INSERT) p50 {ceiling_figures['p50_ms']:.1f} ms,"
            f" p99 {ceiling_figures['p99_ms']:.1f} ms",
            flush=True,
        )
        saturation: float | str | None = None
        for rate in args.ramp:
            step = await calls_at(base, floor, twilio, callers, rate, args.ramp_seconds)
            print(
                f"  ramp {rate:g} calls/s: p50 {step['p50_ms']:.1f} ms,"
                f" p99 {step['p99_ms']:.1f} ms, {step['pops']}/{step['calls']} pops",
                flush=True,
            )
            if step["p99_ms"] > 100 or step["pops"] < step["calls"] * 0.95:
                saturation = rate
                break
        await floor.close()
    await ACTIVITY_DSN["pool"].close()
    return {
        "partners": args.partners,
        "agents": args.agents,
        "rate_calls_per_s": args.rate,
        "calls": target["calls"],
        "pops": target["pops"],
        "p50_ms": round(target["p50_ms"], 2),
        "p99_ms": round(target["p99_ms"], 2),
        "ceiling_p50_ms": round(ceiling_figures["p50_ms"], 2),
        "ceiling_p99_ms": round(ceiling_figures["p99_ms"], 2),
        "saturation_calls_per_s": saturation if saturation is not None else f">{args.ramp[-1]}",
    }


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--ceiling-server":
        serve_ceiling(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="a run of about a minute")
    parser.add_argument("--partners", type=int)
    parser.add_argument("--agents", type=int, default=60)
    parser.add_argument("--rate", type=float, default=20.0, help="calls per second")
    parser.add_argument("--seconds", type=float)
    args = parser.parse_args()
    args.partners = args.partners or (20_000 if args.quick else 1_000_000)
    args.seconds = args.seconds or (10.0 if args.quick else 60.0)
    args.ramp_seconds = 5.0 if args.quick else 20.0
    # The rate is raised from a trickle, so that the first rate past 100 ms is found
    # whether it lies below the target rate or above it.
    args.ramp = [2, 5, 10, 15, 20, 30, 40] if args.quick else [2, 5, 10, 15, 20, 30, 40, 60, 80]
    print(json.dumps(run(args)))


if __name__ == "__main__":
    main()
