"""The HTTP fixtures (a real aiohttp server around FakeControl) for the public-route tests."""

from tests.http.conftest import client, control, serve

__all__ = ["client", "control", "serve"]
