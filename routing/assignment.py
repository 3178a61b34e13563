"""The assignment policy, as pure functions over snapshots of tasks and agents.

Tasks wait in the order of the policy's keys: highest priority (1) first, then the
earliest SLA deadline, then the longest waiting. For one task, an agent qualifies
with the legal entity, org unit (or an overflow step's), skills at the levels asked,
the language, a routable presence and free capacity for the channel; among those
the higher skill comes first, then the longest idle or the least loaded.

Capacity per channel: calls and written tickets count apart. An agent takes a call
only with no call and at most `max_written_on_call` tickets, and a ticket only below
`max_written` (or below `max_written_on_call` during a call).
"""

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from routing.models import Presence, TaskKind
from routing.rules import QueueRules

FAR_FUTURE = datetime.max.replace(tzinfo=UTC)

#: Languages that a skill name also proves (a "slovenian" skill speaks "sl").
LANGUAGE_SKILLS = {
    "sl": "slovenian",
    "en": "english",
    "de": "german",
    "it": "italian",
    "hr": "croatian",
    "hu": "hungarian",
    "sr": "serbian",
}

#: Capacity of an agent whose employee record gives none.
DEFAULT_CAPACITY = {"phone": 1, "written": 4, "written_on_call": 2}

TASK_ORDER_KEYS = ("priority", "due", "waiting")


@dataclass(frozen=True)
class AgentView:
    """What the policy needs of one agent at the moment of a decision."""

    id: int
    legal_entity: str
    org_unit: str
    skills: dict[str, int]
    languages: frozenset[str]
    presence: str
    idle_since: datetime
    calls: int = 0
    written: int = 0
    max_calls: int = 1
    max_written: int = 4
    max_written_on_call: int = 2

    def can_take(self, kind: str) -> bool:
        """Tell whether the agent has presence and capacity for one more task of `kind`."""
        if kind == TaskKind.CALL:
            return (
                self.presence == Presence.AVAILABLE
                and self.calls < self.max_calls
                and self.written <= self.max_written_on_call
            )
        if self.presence not in (Presence.AVAILABLE, Presence.BUSY, Presence.WRAP_UP):
            return False
        limit = self.max_written_on_call if self.calls else self.max_written
        return self.written < limit

    @property
    def load(self) -> float:
        calls = self.calls / self.max_calls if self.max_calls else 0.0
        written = self.written / self.max_written if self.max_written else 0.0
        return max(calls, written)

    def speaks(self, language: str | None) -> bool:
        if not language:
            return True
        skill = LANGUAGE_SKILLS.get(language)
        return language in self.languages or bool(skill and self.skills.get(skill, 0) > 0)


@dataclass(frozen=True)
class TaskView:
    """What the policy needs of one waiting task."""

    id: int
    kind: str
    legal_entity: str
    created_at: datetime
    queue_id: int | None = None
    priority: int = 3
    due_at: datetime | None = None
    required_skills: dict[str, int] = field(default_factory=dict)
    language: str | None = None
    overflow_level: int = 0
    preferred_agent_id: int | None = None
    missed_by: tuple[int, ...] = ()


@dataclass(frozen=True)
class QueueView:
    """The target of a queue: its entity, org unit, base skills and rules."""

    id: int | None
    legal_entity: str
    org_unit: str | None
    skills: dict[str, int] = field(default_factory=dict)
    rules: QueueRules = field(default_factory=QueueRules)


def capacity_limits(capacity: dict[str, int] | None) -> tuple[int, int, int]:
    """Return (calls, written, written during a call) from an employee's capacity map.

    An agent whose map names channels takes only those: {"written": 4} takes no calls.
    """
    cap = capacity or DEFAULT_CAPACITY
    calls = int(cap.get("phone", 0))
    written = int(cap.get("written", 0))
    on_call = int(cap.get("written_on_call", min(written, DEFAULT_CAPACITY["written_on_call"])))
    return calls, written, min(on_call, written)


def task_sort_key(
    task: TaskView, order: Sequence[str] = TASK_ORDER_KEYS
) -> tuple[float | datetime | int, ...]:
    """Sort key: the first task in the line sorts lowest."""
    keys: list[float | datetime | int] = []
    for name in order:
        if name == "priority":
            keys.append(task.priority)
        elif name == "due":
            keys.append(task.due_at or FAR_FUTURE)
        elif name == "waiting":
            keys.append(task.created_at)
        else:
            raise ValueError(f"unknown task order key {name!r}")
    keys.append(task.id)
    return tuple(keys)


def _has_skills(agent: AgentView, *needs: dict[str, int]) -> bool:
    return all(
        agent.skills.get(skill, 0) >= level for need in needs for skill, level in need.items()
    )


def qualifies(agent: AgentView, task: TaskView, queue: QueueView) -> bool:
    """Tell whether `agent` may take `task` of `queue` at its overflow level (capacity aside)."""
    if agent.legal_entity != task.legal_entity or agent.id in task.missed_by:
        return False
    if not agent.speaks(task.language):
        return False
    at_home = queue.org_unit is None or agent.org_unit == queue.org_unit
    if at_home and _has_skills(agent, task.required_skills, queue.skills):
        return True
    for step in queue.rules.overflow[: task.overflow_level]:
        if step.action != "widen":
            continue
        if step.org_units and agent.org_unit not in step.org_units:
            continue
        if _has_skills(agent, task.required_skills, step.skills):
            return True
    return False


def skill_score(agent: AgentView, task: TaskView, queue: QueueView) -> int:
    """The sum of the agent's levels in the skills the task and queue ask for."""
    wanted = {**queue.skills, **task.required_skills}
    return sum(agent.skills.get(skill, 0) for skill in wanted)


def rank_agents(task: TaskView, queue: QueueView, agents: Iterable[AgentView]) -> list[AgentView]:
    """Return the agents who may take `task` now, the one to offer it to first."""
    rules = queue.rules
    fit = [a for a in agents if a.can_take(task.kind) and qualifies(a, task, queue)]

    def key(agent: AgentView) -> tuple[float | datetime | int, ...]:
        preferred = 0 if agent.id == task.preferred_agent_id else 1
        skill = -skill_score(agent, task, queue) if rules.prefer_skill else 0
        if rules.agent_order == "least_loaded":
            return (preferred, skill, agent.load, agent.idle_since, agent.id)
        return (preferred, skill, agent.idle_since, agent.load, agent.id)

    return sorted(fit, key=key)


def pick(
    tasks: Iterable[TaskView],
    agents: Sequence[AgentView],
    queue_of: Callable[[TaskView], QueueView],
) -> tuple[TaskView, AgentView] | None:
    """The decision: the first task in line that some agent may take, and its best agent.

    `tasks` come in line order (see `task_sort_key`); a task no free agent fits does
    not hold up the ones behind it.
    """
    for task in tasks:
        ranked = rank_agents(task, queue_of(task), agents)
        if ranked:
            return task, ranked[0]
    return None


def overflow_level(queue: QueueView, waited_s: float) -> int:
    """Return how many overflow steps apply after waiting `waited_s` seconds."""
    return sum(1 for step in queue.rules.overflow if waited_s >= step.after_s)
