"""Telling an outage from a bad event: outages are waited out, bad events are dead-lettered."""

from __future__ import annotations

import asyncpg
from sqlalchemy import exc as sa_exc

# Postgres SQLSTATEs that say "try again": connection failures, shutdown, overload, serialization.
_RETRYABLE_SQLSTATE_PREFIXES = ("08", "57P", "53", "40001", "40P01")


class TransientError(Exception):
    """A dependency is away (Temporal, a registry API...): retry until it is back, never dead-letter."""


def is_transient(error: BaseException) -> bool:
    if isinstance(error, TransientError | ConnectionError | TimeoutError | OSError):
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        sqlstate = getattr(error.orig, "sqlstate", None) or getattr(error.orig, "pgcode", None)
        return bool(sqlstate and sqlstate.startswith(_RETRYABLE_SQLSTATE_PREFIXES))
    if isinstance(error, sa_exc.TimeoutError | sa_exc.DisconnectionError):
        return True
    # Statements sent to asyncpg directly (the hot paths) raise its own errors.
    if isinstance(error, asyncpg.InterfaceError | asyncpg.exceptions.PostgresConnectionError):
        return True
    if isinstance(error, asyncpg.PostgresError):
        return bool(error.sqlstate and error.sqlstate.startswith(_RETRYABLE_SQLSTATE_PREFIXES))
    cause = error.__cause__
    return cause is not None and cause is not error and is_transient(cause)
