"""A discrete-event simulation of one call queue, driven through the real engine.

Calls arrive as a Poisson stream and are handled for exponential times; every
arrival, offer, answer and hang-up goes through `RoutingEngine` on a real store
with a simulated clock (`now=`). The measured share answered within the target is
what Erlang C predicts for the same load, which is the check that the engine
queues and assigns the way the theory assumes (first come, first served, no idle
agent while a call waits).
"""

import heapq
import itertools
import math
import random
import statistics
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select

from interactions.models import Employee, Queue
from interactions.store import Store
from routing.assignment import AgentView, QueueView, TaskView, pick, task_sort_key
from routing.engine import RoutingEngine
from routing.models import Presence, TaskKind
from routing.rules import QueueRules
from routing.staffing import evaluate

EPOCH = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
ANSWER_TARGET_S = 20.0


@dataclass(frozen=True)
class SimResult:
    agents: int
    arrivals_per_interval: float
    handle_s: float
    calls: int
    simulated_days: float
    measured_sl: float
    erlang_sl: float
    measured_asa_s: float
    erlang_asa_s: float
    #: Standard error of the measured service level, by 20 batch means.
    sl_stderr: float = 0.0

    @property
    def error_points(self) -> float:
        return abs(self.measured_sl - self.erlang_sl) * 100


async def prepare(store: Store, agents: int, prefix: str = "sim") -> int:
    """Create a call-centre queue and `agents` identical agents; return the queue id."""
    async with store.sessions() as session, session.begin():
        queue = Queue(
            code=f"{prefix}-calls",
            name="Simulated call queue",
            legal_entity="supplier",
            org_unit="call_centre",
            channels=["phone"],
            skills={},
            rules={"ring_timeout_s": 30},
            sla_policy_id=None,
        )
        session.add(queue)
        await session.flush()
        queue_id = queue.id
        await session.execute(
            insert(Employee),
            [
                {
                    "login": f"{prefix}-agent-{n}",
                    "full_name": f"Agent {n}",
                    "org_unit": "call_centre",
                    "legal_entity": "supplier",
                    "skills": {},
                    "languages": [],
                    "capacity": {"phone": 1},
                }
                for n in range(agents)
            ],
        )
    return queue_id


class Board:
    """Engine state in memory, for long runs: every decision is made by the same
    `assignment.pick` the database engine calls, with the same bookkeeping of idle
    time, so both give the same answer for the same calls (a test checks this)."""

    def __init__(self, queue: QueueView, agent_ids: list[int], now: datetime) -> None:
        self.queue = queue
        self.idle_since = dict.fromkeys(agent_ids, now)
        self.busy: set[int] = set()
        self.waiting: dict[int, TaskView] = {}
        self.ids = itertools.count(1)

    async def enqueue_call(self, now: datetime) -> int:
        task_id = next(self.ids)
        self.waiting[task_id] = TaskView(
            id=task_id,
            kind=TaskKind.CALL,
            legal_entity=self.queue.legal_entity,
            created_at=now,
            queue_id=self.queue.id,
            due_at=now + timedelta(seconds=ANSWER_TARGET_S),
        )
        return task_id

    async def dispatch(self, now: datetime) -> list[tuple[int, int]]:
        decisions = []
        while self.waiting and len(self.busy) < len(self.idle_since):
            free = [
                AgentView(
                    id=agent_id,
                    legal_entity=self.queue.legal_entity,
                    org_unit=self.queue.org_unit or "",
                    skills={},
                    languages=frozenset(),
                    presence=Presence.AVAILABLE,
                    idle_since=idle,
                    max_written=0,
                    max_written_on_call=0,
                )
                for agent_id, idle in self.idle_since.items()
                if agent_id not in self.busy
            ]
            line = sorted(self.waiting.values(), key=task_sort_key)
            choice = pick(line, free, lambda _task: self.queue)
            if choice is None:
                break
            task, agent = choice
            del self.waiting[task.id]
            self.busy.add(agent.id)
            self.idle_since[agent.id] = now
            decisions.append((task.id, agent.id))
        return decisions

    async def accept(self, task_id: int, agent_id: int, now: datetime) -> None:
        return None

    async def complete(self, task_id: int, agent_id: int, now: datetime) -> None:
        self.busy.discard(agent_id)
        self.idle_since[agent_id] = now


class StoreDriver:
    """The database engine behind the same four calls the simulation makes."""

    def __init__(self, engine: RoutingEngine, queue_id: int) -> None:
        self.engine = engine
        self.queue_id = queue_id

    async def enqueue_call(self, now: datetime) -> int:
        return await self.engine.enqueue_call("supplier", self.queue_id, now=now)

    async def dispatch(self, now: datetime) -> list[tuple[int, int]]:
        return [(d.task_id, d.agent_id) for d in await self.engine.dispatch(now)]

    async def accept(self, task_id: int, agent_id: int, now: datetime) -> None:
        if not await self.engine.accept(task_id, agent_id, now):
            raise RuntimeError(f"task {task_id} could not be accepted")

    async def complete(self, task_id: int, agent_id: int, now: datetime) -> None:
        await self.engine.complete(task_id, now)


Driver = Board | StoreDriver


async def store_driver(store: Store, agents: int, prefix: str = "sim") -> StoreDriver:
    """The real engine on `store`, with a fresh queue and `agents` available agents."""
    queue_id = await prepare(store, agents, prefix)
    engine = RoutingEngine(store, node="simulation")
    async with store.sessions() as session:
        agent_ids = list(
            (
                await session.execute(
                    select(Employee.id)
                    .where(Employee.login.startswith(prefix))
                    .order_by(Employee.id)
                )
            ).scalars()
        )
    for agent_id in agent_ids:
        await engine.set_presence(agent_id, Presence.AVAILABLE, now=EPOCH)
    return StoreDriver(engine, queue_id)


def board(agents: int) -> Board:
    queue = QueueView(1, "supplier", "call_centre", {}, QueueRules(ring_timeout_s=30))
    return Board(queue, list(range(1, agents + 1)), EPOCH)


@dataclass
class Trace:
    """What happened to each call: its agent and its wait, in the order answered."""

    answered: list[tuple[int, int, float]]


async def simulate(
    driver: Driver,
    agents: int,
    arrivals_per_interval: float = 100,
    handle_s: float = 180,
    calls: int = 5000,
    seed: int = 1,
    interval_s: float = 1800,
    warmup_calls: int = 200,
    trace: Trace | None = None,
) -> SimResult:
    """Run `calls` Poisson arrivals with exponential handle times through `driver`."""
    rng = random.Random(seed)
    rate = arrivals_per_interval / interval_s
    events: list[tuple[float, int, str, int, int]] = []
    order = itertools.count()
    heapq.heappush(events, (rng.expovariate(rate), next(order), "arrive", 0, 0))
    arrived_at: dict[int, float] = {}
    waits: list[float] = []
    made = 0

    while events:
        clock, _, kind, task_id, agent_id = heapq.heappop(events)
        now = EPOCH + timedelta(seconds=clock)
        if kind == "arrive":
            made += 1
            arrived_at[await driver.enqueue_call(now)] = clock
            if made < calls:
                next_at = clock + rng.expovariate(rate)
                heapq.heappush(events, (next_at, next(order), "arrive", 0, 0))
        else:
            await driver.complete(task_id, agent_id, now)

        for answered, agent in await driver.dispatch(now):
            await driver.accept(answered, agent, now)
            wait = clock - arrived_at.pop(answered)
            waits.append(wait)
            if trace is not None:
                trace.answered.append((answered, agent, round(wait, 6)))
            hangup = clock + rng.expovariate(1 / handle_s)
            heapq.heappush(events, (hangup, next(order), "hangup", answered, agent))

    counted = waits[warmup_calls:]
    theory = evaluate(agents, arrivals_per_interval, handle_s, ANSWER_TARGET_S, interval_s)
    return SimResult(
        agents=agents,
        arrivals_per_interval=arrivals_per_interval,
        handle_s=handle_s,
        calls=len(counted),
        simulated_days=calls / rate / 86400,
        measured_sl=sum(w <= ANSWER_TARGET_S for w in counted) / len(counted),
        erlang_sl=theory.service_level,
        measured_asa_s=sum(counted) / len(counted),
        erlang_asa_s=theory.asa_s,
        sl_stderr=_batch_stderr([w <= ANSWER_TARGET_S for w in counted]),
    )


def _batch_stderr(answered_in_time: list[bool], batches: int = 20) -> float:
    size = len(answered_in_time) // batches
    if size < 2:
        return float("nan")
    means = [sum(answered_in_time[b * size : (b + 1) * size]) / size for b in range(batches)]
    return statistics.stdev(means) / math.sqrt(batches)
