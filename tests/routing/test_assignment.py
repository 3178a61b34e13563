"""The assignment policy, case by case: skills, levels, capacity, priorities, deadlines."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from routing.assignment import (
    AgentView,
    QueueView,
    TaskView,
    capacity_limits,
    overflow_level,
    pick,
    task_sort_key,
)
from routing.models import Presence
from routing.rules import QueueRules

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def agent(id: int, **kw: object) -> AgentView:
    base = AgentView(
        id=id,
        legal_entity="supplier",
        org_unit="back_office",
        skills={"slovenian": 5},
        languages=frozenset({"sl"}),
        presence=Presence.AVAILABLE,
        idle_since=T0 - timedelta(minutes=id),
    )
    return replace(base, **kw)


def task(id: int = 1, **kw: object) -> TaskView:
    return replace(TaskView(id=id, kind="ticket", legal_entity="supplier", created_at=T0), **kw)


BACK_OFFICE = QueueView(1, "supplier", "back_office")
LEAST_LOADED = replace(BACK_OFFICE, rules=QueueRules(agent_order="least_loaded"))
CALLS = QueueView(
    2,
    "supplier",
    "call_centre",
    {"phone": 1},
    QueueRules.parse(
        {
            "overflow": [
                {"after_s": 60, "org_units": ["back_office"], "skills": {"phone": 1}},
                {"after_s": 300, "action": "voicemail"},
            ]
        }
    ),
)

CASES = [
    # (name, queue, tasks, agents, expected (task id, agent id) or None)
    ("longest idle wins", BACK_OFFICE, [task()], [agent(1), agent(3), agent(2)], (1, 3)),
    (
        "skill is required at its level",
        BACK_OFFICE,
        [task(required_skills={"complaints": 3})],
        [agent(1, skills={"complaints": 2}), agent(2, skills={"complaints": 3})],
        (1, 2),
    ),
    (
        "higher skill is preferred over longer idle",
        BACK_OFFICE,
        [task(required_skills={"complaints": 1})],
        [agent(5, skills={"complaints": 1}), agent(1, skills={"complaints": 4})],
        (1, 1),
    ),
    (
        "nobody has the skill",
        BACK_OFFICE,
        [task(required_skills={"dso-connections": 2})],
        [agent(1), agent(2)],
        None,
    ),
    (
        "language by a language skill",
        BACK_OFFICE,
        [task(language="en")],
        [agent(9), agent(1, skills={"english": 3})],
        (1, 1),
    ),
    (
        "other legal entity never gets it",
        BACK_OFFICE,
        [task()],
        [agent(9, legal_entity="dso")],
        None,
    ),
    (
        "least loaded wins when the queue says so",
        LEAST_LOADED,
        [task()],
        [agent(9, written=3), agent(1, written=1)],
        (1, 1),
    ),
    (
        "full agent is skipped",
        BACK_OFFICE,
        [task()],
        [agent(9, written=4), agent(1, written=3)],
        (1, 1),
    ),
    (
        "agent on a call takes a third ticket? no",
        BACK_OFFICE,
        [task()],
        [agent(9, calls=1, written=2, presence=Presence.BUSY)],
        None,
    ),
    (
        "agent on a call takes a second ticket",
        BACK_OFFICE,
        [task()],
        [agent(9, calls=1, written=1, presence=Presence.BUSY)],
        (1, 9),
    ),
    (
        "agent with three tickets takes no call",
        CALLS,
        [task(kind="call")],
        [agent(9, org_unit="call_centre", skills={"phone": 1}, written=3)],
        None,
    ),
    (
        "agent with two tickets takes a call",
        CALLS,
        [task(kind="call")],
        [agent(9, org_unit="call_centre", skills={"phone": 1}, written=2)],
        (1, 9),
    ),
    (
        "agent on break gets nothing",
        BACK_OFFICE,
        [task()],
        [agent(9, presence=Presence.BREAK)],
        None,
    ),
    (
        "wrap-up takes tickets but no calls",
        CALLS,
        [task(kind="call")],
        [agent(9, org_unit="call_centre", skills={"phone": 1}, presence=Presence.WRAP_UP)],
        None,
    ),
    (
        "priority first",
        BACK_OFFICE,
        [task(1, priority=3), task(2, priority=1)],
        [agent(1)],
        (2, 1),
    ),
    (
        "then the earliest deadline",
        BACK_OFFICE,
        [task(1, due_at=T0 + timedelta(hours=5)), task(2, due_at=T0 + timedelta(hours=2))],
        [agent(1)],
        (2, 1),
    ),
    (
        "then the longest waiting",
        BACK_OFFICE,
        [task(1, created_at=T0), task(2, created_at=T0 - timedelta(minutes=3))],
        [agent(1)],
        (2, 1),
    ),
    (
        "a task nobody fits does not block the next",
        BACK_OFFICE,
        [task(1, priority=1, required_skills={"debt": 1}), task(2, priority=4)],
        [agent(1)],
        (2, 1),
    ),
    (
        "back office may not take a fresh call",
        CALLS,
        [task(kind="call")],
        [agent(1, skills={"phone": 1})],
        None,
    ),
    (
        "back office with phone skill takes an overflowed call",
        CALLS,
        [task(kind="call", overflow_level=1)],
        [agent(1, skills={"phone": 1}), agent(2)],
        (1, 1),
    ),
    (
        "the agent who missed the call is not offered it again",
        CALLS,
        [task(kind="call", missed_by=(1,))],
        [agent(1, org_unit="call_centre", skills={"phone": 1})],
        None,
    ),
    (
        "the previous assignee of a reopened ticket comes first",
        BACK_OFFICE,
        [task(preferred_agent_id=1)],
        [agent(1), agent(8)],
        (1, 1),
    ),
]


@pytest.mark.parametrize(
    ("queue", "tasks", "agents", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_pick(
    queue: QueueView,
    tasks: list[TaskView],
    agents: list[AgentView],
    expected: tuple[int, int] | None,
) -> None:
    line = sorted(tasks, key=task_sort_key)

    choice = pick(line, agents, lambda _t: queue)

    assert (None if choice is None else (choice[0].id, choice[1].id)) == expected


@pytest.mark.parametrize(
    ("waited", "level"), [(0, 0), (59.999, 0), (60, 1), (299, 1), (300, 2), (10_000, 2)]
)
def test_overflow_steps_apply_at_the_exact_second(waited: float, level: int) -> None:
    assert overflow_level(CALLS, waited) == level


@pytest.mark.parametrize(
    ("capacity", "limits"),
    [
        (None, (1, 4, 2)),
        ({}, (1, 4, 2)),
        ({"written": 4}, (0, 4, 2)),
        ({"phone": 1}, (1, 0, 0)),
        ({"phone": 1, "written": 6, "written_on_call": 1}, (1, 6, 1)),
    ],
)
def test_capacity_from_the_employee_record(
    capacity: dict[str, int] | None, limits: tuple[int, int, int]
) -> None:
    assert capacity_limits(capacity) == limits
