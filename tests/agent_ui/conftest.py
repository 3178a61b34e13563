"""Fixtures of the workspace tests: a real app on each database, with people and data."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from agent_ui.users import Role, configure_hasher
from interactions.store import Store
from tests.agent_ui import factories


@dataclass
class Web:
    store: Store
    data_dir: Path
    world: factories.World
    ids: dict[str, int]
    clients: list[TestClient]

    async def client(self) -> TestClient:
        made = await factories.client(self.store, self.data_dir)
        self.clients.append(made)
        return made

    async def signed_in(self, login: str) -> tuple[TestClient, str]:
        made = await self.client()
        return made, await factories.sign_in(made, login)


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashing() -> None:
    """Argon2 at its lowest costs: the same code, without seconds per sign-in."""
    configure_hasher(time_cost=1, memory_cost=8)


PEOPLE = {
    "ana": (Role.AGENT, "supplier"),
    "bor": (Role.AGENT, "supplier"),
    "sara": (Role.SUPERVISOR, "supplier"),
    "adam": (Role.ADMIN, "supplier"),
    "dan": (Role.AGENT, "dso"),
}


@pytest.fixture
async def web(store: Store, tmp_path: Path) -> AsyncIterator[Web]:
    ids = {
        login: await factories.employee(store, login, role, entity)
        for login, (role, entity) in PEOPLE.items()
    }
    here = Web(store, tmp_path, await factories.world(store), ids, [])
    yield here
    for made in here.clients:
        await made.close()
