"""A real aiohttp server on a loopback port around a FakeControl, and login helpers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp.test_utils import TestClient, TestServer

from bridge.http import create_app
from tests.http.fake_control import FakeControl

TOKEN = "tok-3f9a1c7e5b2d4a6f8e0c1b3d5f7a9c2e"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
WORKSPACE = "Toko Budi"

Serve = Callable[..., Awaitable[TestClient]]


@pytest.fixture
def control() -> FakeControl:
    return FakeControl(simulate=True)


@pytest.fixture
async def serve() -> AsyncIterator[Serve]:
    """Start create_app(control) on 127.0.0.1:<free port>; closed (server shut down) after."""
    clients: list[TestClient] = []

    async def start(control: FakeControl, *, token: str = TOKEN) -> TestClient:
        app = create_app(control, token=token, workspace_name=WORKSPACE)
        client = TestClient(TestServer(app, host="127.0.0.1", port=0))
        await client.start_server()
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()


@pytest.fixture
async def client(serve: Serve, control: FakeControl) -> TestClient:
    return await serve(control)


async def login(client: TestClient, next_path: str = "/") -> None:
    """Log in through the form, as a browser would; the cookie lands in the client's jar."""
    response = await client.post("/login", data={"token": TOKEN, "next": next_path},
                                 allow_redirects=False)
    assert response.status == 303, await response.text()
