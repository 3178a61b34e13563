"""The dashboards' tests count what they wrote: the routing engine stays out of them."""

import pytest


@pytest.fixture(autouse=True)
def no_routing_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the engine, queued tasks stay queued and presence stays as written."""
    monkeypatch.setenv("STIK_ROUTING", "off")
