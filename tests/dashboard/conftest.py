"""The dashboard tests reuse the HTTP fixtures (a real server around a FakeControl)."""

from tests.http.conftest import client, control, serve  # noqa: F401
