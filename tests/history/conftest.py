"""The HTTP fixtures (fake control with a real in-memory store, served on loopback) for history tests."""

from tests.http.conftest import client, control, serve  # noqa: F401 - pytest fixtures
