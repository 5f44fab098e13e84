"""Errors raised by `store`."""

from __future__ import annotations


class StoreError(Exception):
    """Root of every error raised by `store`."""


class NotFoundError(StoreError):
    """A row that was asked for by key does not exist."""


class DatabaseVersionError(StoreError):
    """The database was written by a newer wabridge than this one."""
