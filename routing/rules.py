"""A queue's routing rules: data in `Queue.rules`, read here and told back in words.

The stored form, with its defaults::

    {
      "ring_timeout_s": 15,              # a call rings this long at one agent
      "agent_order": "longest_idle",     # or "least_loaded"
      "prefer_skill": true,              # higher skill levels first
      "wrap_up_s": 0,                    # after a call, before the next one
      "on_away": "return",               # tickets of an agent on break/offline: or "keep"
      "away_grace_s": 900,               # ... after this long away, untouched ones return
      "overflow": [                      # widen the target after a wait, in order
        {"after_s": 60, "org_units": ["back_office"], "skills": {"phone": 1}},
        {"after_s": 300, "action": "voicemail"}
      ]
    }

Supervisors read `describe(rules)` in the admin pages; nothing here is code to edit.
"""

from dataclasses import dataclass, field
from typing import Any

AGENT_ORDERS = ("longest_idle", "least_loaded")
AWAY_RULES = ("return", "keep")
ACTIONS = ("widen", "voicemail", "callback")


class RuleError(ValueError):
    """Queue rules that cannot be followed; the message says which value and why."""


@dataclass(frozen=True)
class OverflowStep:
    after_s: float
    action: str = "widen"
    org_units: tuple[str, ...] = ()
    skills: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class QueueRules:
    ring_timeout_s: float = 15
    agent_order: str = "longest_idle"
    prefer_skill: bool = True
    wrap_up_s: float = 0
    on_away: str = "return"
    away_grace_s: float = 900
    overflow: tuple[OverflowStep, ...] = ()

    @classmethod
    def parse(cls, data: dict[str, Any] | None) -> "QueueRules":
        """Read the stored form; unknown keys are kept for other packages and ignored."""
        data = data or {}
        rules = cls(
            ring_timeout_s=_seconds(data, "ring_timeout_s", 15),
            agent_order=_choice(data, "agent_order", "longest_idle", AGENT_ORDERS),
            prefer_skill=bool(data.get("prefer_skill", True)),
            wrap_up_s=_seconds(data, "wrap_up_s", 0),
            on_away=_choice(data, "on_away", "return", AWAY_RULES),
            away_grace_s=_seconds(data, "away_grace_s", 900),
            overflow=tuple(_step(n, s) for n, s in enumerate(data.get("overflow") or ())),
        )
        waits = [step.after_s for step in rules.overflow]
        if waits != sorted(waits):
            raise RuleError("overflow steps must be listed in the order of their waits")
        return rules

    def next_step_at(self, level: int) -> float | None:
        """Return the wait after which step `level` (0-based) applies, if there is one."""
        return self.overflow[level].after_s if level < len(self.overflow) else None


def _seconds(data: dict[str, Any], key: str, default: float) -> float:
    value = data.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise RuleError(f"{key} must be a number of seconds, not {value!r}")
    return float(value)


def _choice(data: dict[str, Any], key: str, default: str, allowed: tuple[str, ...]) -> str:
    value = data.get(key, default)
    if value not in allowed:
        raise RuleError(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    return str(value)


def _step(number: int, data: Any) -> OverflowStep:
    if not isinstance(data, dict):
        raise RuleError(f"overflow step {number + 1} must be an object")
    after = _seconds(data, "after_s", 0)
    action = _choice(data, "action", "widen", ACTIONS)
    units = data.get("org_units") or ()
    skills = data.get("skills") or {}
    if not isinstance(units, list | tuple) or not all(isinstance(u, str) for u in units):
        raise RuleError(f"overflow step {number + 1}: org_units must be a list of names")
    if not isinstance(skills, dict) or not all(
        isinstance(k, str) and isinstance(v, int) and not isinstance(v, bool)
        for k, v in skills.items()
    ):
        raise RuleError(f"overflow step {number + 1}: skills must map names to levels")
    return OverflowStep(after, action, tuple(units), dict(skills))


def describe(rules: QueueRules) -> list[str]:
    """Tell the rules as sentences, for a supervisor."""
    order = "the longest idle" if rules.agent_order == "longest_idle" else "the least loaded"
    lines = [
        f"Work goes to {order} agent who has the skills and free capacity"
        + (", higher skill levels first." if rules.prefer_skill else "."),
        f"A call rings {rules.ring_timeout_s:g} s at one agent, then the next agent's"
        " turn comes and the first is set to missed.",
    ]
    if rules.wrap_up_s:
        lines.append(f"After a call, the agent has {rules.wrap_up_s:g} s of wrap-up.")
    if rules.on_away == "return":
        lines.append(
            f"When an agent goes on break or offline, their calls are re-offered at once;"
            f" tickets they have not touched go back to the queue after"
            f" {rules.away_grace_s / 60:g} min."
        )
    else:
        lines.append(
            "When an agent goes on break or offline, their calls are re-offered at once;"
            " their tickets stay with them."
        )
    for step in rules.overflow:
        if step.action == "widen":
            who = ", ".join(step.org_units) or "any unit"
            skills = ", ".join(f"{k} {v}+" for k, v in step.skills.items())
            lines.append(
                f"After {step.after_s:g} s of waiting, agents of {who}"
                + (f" with {skills}" if skills else "")
                + " may take it too."
            )
        else:
            lines.append(
                f"After {step.after_s:g} s of waiting, the caller is offered {step.action}."
            )
    return lines
