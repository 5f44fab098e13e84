"""Sending fixtures: the outbox tests' store and services."""

from tests.outbox.conftest import services, store

__all__ = ["services", "store"]
