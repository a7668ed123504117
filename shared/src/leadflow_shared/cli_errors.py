"""One line instead of a traceback when a command finds the platform not (yet) there.

`describe(exc)` names what is missing and what to run: Postgres, Kafka, Temporal or a service's HTTP API
that does not answer, a service's tables not yet in the database, or no staff signing key. None for any other error (a bug,
whose traceback the `leadflow` command shows as it is).
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Iterator
from types import FrameType
from typing import Any
from urllib.parse import urlsplit

START_STACK = "start the local stack with `leadflow stack up` (or `make demo`), or set {var}"
# the client library that was connecting (innermost frame first) → the component it talks to
LIBRARIES = {"asyncpg": "postgres", "psycopg": "postgres", "sqlalchemy": "postgres", "alembic": "postgres",
             "aiokafka": "kafka", "faststream": "kafka", "temporalio": "temporal"}
NO_ANSWER_ERRNOS = {errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ETIMEDOUT,
                    errno.EADDRNOTAVAIL}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "0.0.0.0"}
MISSING_TABLE = re.compile(r'relation "(\w+)\.\w+" does not exist')


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """The exception, its causes and contexts, the errors a driver wraps and those of a group."""
    seen: set[int] = set()
    todo = [exc]
    while todo:
        node = todo.pop(0)
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        todo += [n for n in (node.__cause__, node.__context__, getattr(node, "orig", None))
                 if isinstance(n, BaseException)]
        if isinstance(node, BaseExceptionGroup):
            todo += list(node.exceptions)


def _frames(exc: BaseException) -> list[FrameType]:
    """Frames the exception went through, innermost first."""
    frames, tb = [], exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames[::-1]


def _connecting_library(exc: OSError) -> str | None:
    """The component whose client raised this OSError while connecting."""
    frames = _frames(exc)
    refused = isinstance(exc, (ConnectionRefusedError, socket.gaierror)) or exc.errno in NO_ANSWER_ERRNOS
    if not refused and not any("connect" in f.f_code.co_name for f in frames):
        return None
    for frame in frames:
        component = LIBRARIES.get(str(frame.f_globals.get("__name__", "")).split(".")[0])
        if component:
            return component
    return None


def _component(exc: BaseException) -> tuple[str, str | None] | None:
    """("postgres" | "kafka" | "temporal", None) or ("http", url) of the first thing that did not answer."""
    import httpx
    from aiokafka.errors import KafkaConnectionError

    nodes = list(_chain(exc))
    for node in nodes:
        if isinstance(node, (httpx.ConnectError, httpx.ConnectTimeout)):
            try:
                return "http", str(node.request.url)
            except RuntimeError:  # no request attached
                return "http", None
        if isinstance(node, KafkaConnectionError):
            return "kafka", None
        status = getattr(node, "status", None)  # temporalio's RPCError: the server went away
        if type(node).__module__.startswith("temporalio") and getattr(status, "name", None) == "UNAVAILABLE":
            return "temporal", None
        if isinstance(node, RuntimeError) and str(node).startswith("Failed client connect"):  # temporalio's
            return "temporal", None
    for node in nodes:
        if isinstance(node, OSError):
            component = _connecting_library(node)
            if component:
                return component, None
    return None


def _host_port(address: str, default_port: int) -> str:
    parts = urlsplit(f"//{address}")
    return f"{parts.hostname or 'localhost'}:{parts.port or default_port}"


def _settings() -> Any:
    from leadflow_shared.settings import LeadflowSettings

    return LeadflowSettings()


def _postgres_at(dsn: str) -> str:
    from sqlalchemy.engine import make_url

    url = make_url(dsn)
    return f"{url.host or 'localhost'}:{url.port or 5432}"


def _infra_line(component: str) -> str:
    settings = _settings()
    if component == "postgres":
        where, name, var = _postgres_at(settings.pg_dsn), "Postgres", "LEADFLOW_PG_DSN"
    elif component == "kafka":
        where, name, var = settings.kafka_bootstrap, "Kafka", "LEADFLOW_KAFKA_BOOTSTRAP"
    else:
        where, name, var = _host_port(settings.temporal_address, 7233), "Temporal", "LEADFLOW_TEMPORAL_ADDRESS"
    return f"{name} at {where} does not answer: {START_STACK.format(var=var)}"


def _http_line(url: str | None) -> str:
    from leadflow_shared.service import discover_services

    if url is None:
        return "a service's HTTP API does not answer: start the services with `leadflow services up`"
    parts = urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}"
    if parts.hostname in LOCAL_HOSTS:
        for name, service in discover_services().items():
            if service.http_port == (parts.port or 80):
                return f"{name} at {base} does not answer: run `leadflow services up {name}`"
    return f"{base} does not answer: is the service running there? (`leadflow services status`)"


def _missing_tables_line(exc: BaseException) -> str | None:
    """A service's schema not in the database (its migrations never applied there)."""
    from asyncpg.exceptions import UndefinedTableError

    from leadflow_shared.service import discover_services

    for node in _chain(exc):
        found = MISSING_TABLE.search(str(node)) if isinstance(node, UndefinedTableError) else None
        if found and found.group(1) in discover_services():
            name = found.group(1)
            return (f"{name}'s tables are not in the database at {_postgres_at(_settings().pg_dsn)}: run `leadflow {name} migrate` "
                    f"(or `leadflow services up {name}`, which migrates)")
    return None


def describe(exc: BaseException) -> str | None:
    """One line naming what is missing and what to run, or None when `exc` is not about that."""
    from leadflow_shared.staff import StaffKeyMissing

    if isinstance(exc, StaffKeyMissing):
        return str(exc)
    found = _component(exc)
    if found is None:
        return _missing_tables_line(exc)
    component, url = found
    return _http_line(url) if component == "http" else _infra_line(component)


__all__ = ["describe"]
