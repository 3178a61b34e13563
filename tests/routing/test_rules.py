"""Queue rules are data: read with defaults, refused when wrong, told in words."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routing.rules import QueueRules, RuleError, describe


def test_defaults_and_a_full_rule_set_read_back() -> None:
    assert QueueRules.parse(None) == QueueRules()
    rules = QueueRules.parse(
        {
            "ring_timeout_s": 12,
            "agent_order": "least_loaded",
            "on_away": "keep",
            "overflow": [
                {"after_s": 60, "org_units": ["back_office"], "skills": {"phone": 1}},
                {"after_s": 300, "action": "voicemail"},
            ],
        }
    )

    assert rules.ring_timeout_s == 12
    assert rules.next_step_at(0) == 60
    assert rules.next_step_at(2) is None
    text = " ".join(describe(rules))
    assert "least loaded" in text
    assert "After 60 s of waiting, agents of back_office with phone 1+ may take it too." in text
    assert "offered voicemail" in text
    assert "their tickets stay with them" in text


@pytest.mark.parametrize(
    "rules",
    [
        {"ring_timeout_s": -1},
        {"ring_timeout_s": "15"},
        {"ring_timeout_s": True},
        {"agent_order": "random"},
        {"on_away": "drop"},
        {"overflow": ["60"]},
        {"overflow": [{"after_s": 300}, {"after_s": 60}]},
        {"overflow": [{"after_s": 60, "org_units": "back_office"}]},
        {"overflow": [{"after_s": 60, "skills": {"phone": "high"}}]},
        {"overflow": [{"after_s": 60, "action": "hang up"}]},
    ],
)
def test_wrong_rules_are_refused_with_a_reason(rules: dict[str, object]) -> None:
    with pytest.raises(RuleError):
        QueueRules.parse(rules)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=6,
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(
        st.sampled_from(
            ["ring_timeout_s", "agent_order", "overflow", "on_away", "away_grace_s", "other"]
        ),
        json_values,
    )
)
def test_any_stored_json_is_read_or_refused_never_crashes(data: dict[str, object]) -> None:
    try:
        rules = QueueRules.parse(data)
    except RuleError:
        return
    assert describe(rules)
