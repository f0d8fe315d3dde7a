"""Fixtures for controller tests: a running app (SQLite by default) with its tokens."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from api.app import create_app
from api.clock import FakeClock
from api.services import SERVICES, Services, Settings


@dataclass
class ApiHarness:
    client: TestClient[Any, Any]
    token: str
    ro_token: str
    services: Services
    clock: FakeClock

    async def call(
        self, method: str, path: str, *, token: str | None = None, expect: int | None = None, **kwargs: Any
    ) -> Any:
        params = dict(kwargs.pop("params", {}))
        params.setdefault("token", token or self.token)
        response = await self.client.request(method, f"/api/1/{path}", params=params, **kwargs)
        assert response.content_type == "application/json", await response.text()
        body = await response.json()
        if expect is not None:
            assert response.status == expect, body
        return body

    async def count(self, token: str | None = None) -> int:
        return len(await self.call("GET", "checks", token=token))

    async def create(self, **fields: Any) -> dict[str, Any]:
        body = await self.call("POST", "checks", json=fields, expect=200)
        assert "_id" in body, body
        return body


def parse_tokens(text: str) -> tuple[str, str]:
    lines = {
        line.split(":")[0].strip(): line.split(":")[1].strip() for line in text.splitlines() if ":" in line
    }
    return lines["read-write token"], lines["read-only token"]


async def start_harness(database_url: str, *, run_probe: bool = False) -> tuple[ApiHarness, TestServer]:
    announced: list[str] = []
    clock = FakeClock(int(time.time() * 1000))
    settings = Settings(database_url=database_url, run_probe=run_probe, recheck_delay=0)
    app = create_app(settings, clock=clock, announce=announced.append)
    server = TestServer(app, host="127.0.0.1")
    client = TestClient(server)
    await client.start_server()
    rw, ro = parse_tokens(announced[0])
    return ApiHarness(client, rw, ro, app[SERVICES], clock), server


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    """The controller with no probe running: API tests only."""
    harness, _ = await start_harness(f"sqlite+aiosqlite:///{tmp_path}/vedette.db")
    try:
        yield harness
    finally:
        await harness.client.close()


@pytest.fixture
async def live_api(tmp_path: Path) -> AsyncIterator[ApiHarness]:
    """The controller with its in-process probe: the scheduler -> probe -> pipeline loop, on a fake clock."""
    harness, _ = await start_harness(f"sqlite+aiosqlite:///{tmp_path}/vedette.db", run_probe=True)
    try:
        yield harness
    finally:
        await harness.client.close()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The same test against the embedded SQLite and a real PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/vedette.db"
    return str(request.getfixturevalue("postgres_url"))
