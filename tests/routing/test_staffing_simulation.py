"""Erlang C against the reference figures, and the engine against Erlang C."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from interactions.store import Store
from routing.simulation import Trace, board, simulate, store_driver
from routing.staffing import agents_needed, erlang_c, evaluate


@pytest.mark.parametrize(("agents", "level", "asa"), [(14, 0.888, 7.8), (13, 0.796, 17.1)])
def test_erlang_c_matches_the_design_reference(agents: int, level: float, asa: float) -> None:
    # DESIGN.md: 100 calls per 30 minutes, 180 s handle time, 20 s target.
    result = evaluate(agents, arrivals=100, handle_s=180, target_s=20)

    assert round(result.service_level, 3) == level
    assert round(result.asa_s, 1) == asa


def test_agents_needed_for_80_percent_in_20_seconds() -> None:
    assert agents_needed(100, 180, 20, 0.8).agents == 14
    assert agents_needed(0, 180, 20, 0.8).agents == 0


def test_too_few_agents_never_catch_up() -> None:
    result = evaluate(10, arrivals=100, handle_s=180, target_s=20)

    assert result.service_level == 0.0
    assert math.isinf(result.asa_s)


@given(
    agents=st.integers(min_value=1, max_value=400),
    load=st.floats(min_value=0.0, max_value=500.0, allow_nan=False),
)
def test_waiting_probability_is_a_probability(agents: int, load: float) -> None:
    waits = erlang_c(agents, load)

    assert 0.0 <= waits <= 1.0
    if agents > load + 1:
        assert erlang_c(agents + 1, load) <= waits


async def test_database_engine_and_in_memory_board_decide_alike(store: Store) -> None:
    # The long simulation runs the engine's policy over in-memory state; this shows
    # the database engine takes exactly the same decisions for the same calls.
    in_store, in_memory = Trace([]), Trace([])
    driver = await store_driver(store, 2)

    await simulate(
        driver, 2, arrivals_per_interval=20, calls=30, seed=7, trace=in_store, warmup_calls=0
    )
    await simulate(
        board(2), 2, arrivals_per_interval=20, calls=30, seed=7, trace=in_memory, warmup_calls=0
    )

    assert len(in_store.answered) == 30
    assert any(wait > 0 for _, _, wait in in_store.answered)  # calls did queue
    assert ranked(in_store.answered) == ranked(in_memory.answered)


def ranked(answered: list[tuple[int, int, float]]) -> list[tuple[int, int, float]]:
    """Return the trace with database ids replaced by their rank among the trace's ids."""
    calls = {call: n for n, call in enumerate(sorted({c for c, _, _ in answered}))}
    agents = {agent: n for n, agent in enumerate(sorted({a for _, a, _ in answered}))}
    return [(calls[call], agents[agent], wait) for call, agent, wait in answered]
