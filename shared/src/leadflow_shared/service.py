"""A service, declared once: its schema, HTTP controllers, subscriptions and the bootstrap of its container.

`Service(...)` in a service's app.py is all the wiring there is: from it come the litestar app with
health and metrics, the Kafka consumers, the outbox relay, migrations, the process entry point and
the service's `leadflow <name> …` commands. What the service's own handlers need (its settings, its
database, its caches and workers) is a typed `Container`, built once per process by the service's
`bootstrap(settings, db)` (cosmicpython's bootstrap): handlers are given it, never look it up, and a test
builds the same container with parts of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Generic, Protocol, TypeVar

import asyncpg
import sqlalchemy.exc
import typer
import uvicorn
from aiokafka import AIOKafkaProducer
from aiokafka.errors import MessageSizeTooLargeError
from faststream.kafka import KafkaBroker
from litestar import Litestar
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from sqlalchemy import MetaData

from leadflow_shared import migrations
from leadflow_shared.consumers import (
    AnySubscription,
    DeliveredMessage,
    EventProcessor,
    dead_letter_headers,
    register_subscriptions,
)
from leadflow_shared.db import Database
from leadflow_shared.health import HealthController
from leadflow_shared.language import preferred_language
from leadflow_shared.kafka import ensure_topics, make_broker, make_relay_producer, physical_topic
from leadflow_shared.logging import configure_logging, get_logger
from leadflow_shared.outbox import OutboxRelay
from leadflow_shared.settings import LeadflowSettings
from leadflow_shared.staff import (
    SECURITY_SCHEME,
    STAFF_EXCEPTION_HANDLERS,
    VERIFIER_STATE_KEY,
    StaffVerifier,
    mark_handlers,
    staff_dependency,
)

log = get_logger(__name__)

# Python's defaults (700, 10, 10) run a young collection every 700 allocations and a full one often enough
# that, with a scorer's memo and model in memory, full collections took 12 s of a 68 s benchmark (160 ms
# each: a request's tail). Rarer collections of the same garbage: most of it is freed by reference
# counting anyway; the cycles wait a little longer.
GC_THRESHOLDS = (50_000, 20, 20)


class Component(Protocol):
    """Something a service runs beside HTTP and Kafka (a Temporal worker, a scheduler...)."""

    name: str

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def check(self) -> None:
        """Raise when not ready."""

    # A component may also have `def warnings(self) -> list[str]`: what an operator should know though it is
    # ready (a calendar that lacks next year...), shown on `/health/ready`.


class BackgroundComponent(ABC):
    """A component that is one long-running task (`run()`), cancelled at stop, not ready once it ended."""

    name = "background"
    _task: asyncio.Task[None] | None = None

    @abstractmethod
    async def run(self) -> None: ...

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def check(self) -> None:
        if self._task is None or self._task.done():
            raise RuntimeError(f"{self.name} not running")


class MetricsController(PrometheusController):
    """`/metrics` (Prometheus), public like the health checks."""

    opt = {"auth": "public"}


S = TypeVar("S", bound=LeadflowSettings)
C = TypeVar("C", bound="Container[Any]")


@dataclass
class Container(Generic[S]):
    """What a service's handlers need, built once per process by its bootstrap. A service's own container
    adds its parts as typed fields (a pipeline, caches, a Temporal worker) and lists the ones that run
    beside HTTP and Kafka in `components()`."""

    settings: S
    db: Database

    def components(self) -> Sequence[Component]:
        """What runs beside HTTP and Kafka, in start order (stopped in reverse)."""
        return ()


@dataclass
class Service(Generic[S, C]):
    name: str
    http_port: int
    metadata: MetaData
    settings_class: type[S]
    # (settings, db) → the container; handlers receive it as the dependency named after the service.
    bootstrap: Callable[[S, Database], C]
    # The container → the service's Kafka subscriptions (`consumers.subscriptions` in every service).
    subscriptions: Callable[[C], Sequence[AnySubscription]]
    description: str = ""
    controllers: Sequence[type] = ()
    commands: Sequence[Callable[..., Any]] = field(default_factory=tuple)
    exception_handlers: dict[type[Exception], Callable[..., Any]] = field(default_factory=dict)
    custom_plans: bool = False  # every statement carries a batch: plan each with its parameters (make_engine)
    # A service without events (the console) neither connects to Kafka nor relays an outbox.
    uses_kafka: bool = True
    # settings → more Litestar arguments (templates, CSRF, static files) for a service with pages.
    app_options: Callable[[S], dict[str, Any]] | None = None

    @property
    def package(self) -> str:
        return f"leadflow_{self.name}"

    def settings(self) -> S:
        settings = self.settings_class()
        if settings.http_port is None:
            settings.http_port = self.http_port
        return settings

    def migrate(self, dsn: str) -> None:
        migrations.upgrade(self.package, dsn)

    def create_app(self, settings: S | None = None) -> Litestar:
        runtime = Runtime(self, settings or self.settings())
        options = dict(self.app_options(runtime.settings)) if self.app_options else {}
        extra_handlers = list(options.pop("route_handlers", ()))
        openapi = OpenAPIConfig(
            title=f"leadflow {self.name}", version="1.0.0", description=self.description, path="/schema",
            create_examples=True,  # an example on every operation, generated from its schema
            components=Components(security_schemes={SECURITY_SCHEME: SecurityScheme(
                type="http", scheme="bearer", bearer_format="JWT",
                description="A staff token (`leadflow staff token`, or the company's identity provider); "
                            "each operation lists the roles it admits.")}),
        )
        app = Litestar(
            route_handlers=[HealthController, MetricsController, *self.controllers, *extra_handlers],
            dependencies={
                # Handlers ask for one dependency (the container) or build on it: litestar resolves a level
                # of several dependencies in an anyio task group, a task per dependency per request.
                self.name: Provide(lambda: runtime.container, sync_to_thread=False),
                "runtime": Provide(lambda: runtime, sync_to_thread=False),  # health only
                "staff": staff_dependency(),  # the verified caller of a staff endpoint (leadflow_shared.staff)
            },
            lifespan=[runtime.lifespan],
            middleware=[
                PrometheusConfig(app_name=f"leadflow_{self.name}", group_path=True,
                                 exclude=["/metrics", "/health"]).middleware
            ],
            openapi_config=openapi,
            state={"runtime": runtime, VERIFIER_STATE_KEY: StaffVerifier(runtime.settings)},
            exception_handlers={**STAFF_EXCEPTION_HANDLERS, **DATABASE_EXCEPTION_HANDLERS, **self.exception_handlers},
            after_exception=[_log_exception],
            logging_config=None,
            **options,
        )
        mark_handlers(app, public_paths=[openapi.path])
        return app

    def serve(self) -> None:
        """The process entry point (`leadflow-<name>`): HTTP, consumers and relay until SIGTERM."""
        settings = self.settings()
        configure_logging(settings.log_level, json=settings.log_json, service=self.name)
        os.environ[SERVICE_NAME_VARIABLE] = self.name  # for app_factory in worker processes
        uvicorn.run(
            "leadflow_shared.service:app_factory" if settings.http_workers > 1 else self.create_app(settings),
            factory=settings.http_workers > 1,
            workers=settings.http_workers,
            host=settings.http_host,
            port=settings.http_port or self.http_port,
            log_config=None,
            timeout_graceful_shutdown=int(settings.shutdown_grace_s),
            timeout_keep_alive=settings.http_keepalive_s,
        )

    def cli(self) -> typer.Typer:
        app = typer.Typer(help=f"leadflow {self.name}: {self.description}", no_args_is_help=True)
        app.command("serve", help="Run the service (HTTP API, Kafka consumers, outbox relay).")(self.serve)

        @app.command("migrate", help="Apply this service's migrations to LEADFLOW_PG_DSN.")
        def migrate() -> None:
            self.migrate(self.settings().pg_dsn)
            typer.echo(f"{self.name}: migrations applied")

        @app.command("revision", help="Autogenerate a migration from the tables in db.py (developers).")
        def revision(message: str = typer.Option(..., "-m", "--message")) -> None:
            migrations.revision(self.package, self.settings().pg_dsn, message)

        for command in self.commands:
            app.command()(command)
        return app


# What a dead-lettered record keeps of a value too large to travel with its error headers.
DLQ_HEAD_BYTES = 64 * 1024


class Runtime(Generic[S, C]):
    """The live parts of one service process, started and stopped with the HTTP app: the platform's
    (database, broker, consumers, relay) and the service's container."""

    def __init__(self, service: Service[S, C], settings: S,
                 bootstrap: Callable[[S, Database], C] | None = None) -> None:
        """`bootstrap` replaces the service's own (a test's container with parts of its own)."""
        self.service = service
        self.settings = settings
        self.db = Database(settings.pg_dsn, service.metadata, f"/leadflow/{service.name}",
                           pool_size=settings.pg_pool_size, custom_plans=service.custom_plans)
        self.broker = make_broker(settings.kafka_bootstrap, f"leadflow-{service.name}",
                                  graceful_timeout=settings.shutdown_grace_s)
        self.processor = EventProcessor(
            service.name, self.db, self.dead_letter,
            max_attempts=settings.consumer_max_attempts, backoff_s=settings.consumer_retry_backoff_s,
        )
        self.container: C = (bootstrap or service.bootstrap)(settings, self.db)
        self.components = list(self.container.components())
        register_subscriptions(
            self.broker, self.processor, list(service.subscriptions(self.container)),
            group_id=f"{settings.kafka_group_prefix}-{service.name}", topic_prefix=settings.kafka_topic_prefix,
        )
        self.relay = OutboxRelay(self.db, self.send, service=service.name,
                                 batch_size=settings.outbox_batch_size,
                                 poll_interval_s=settings.outbox_poll_interval_s,
                                 linger_s=settings.outbox_linger_s,
                                 processed_retention_days=settings.processed_retention_days)
        self.kafka_connected = asyncio.Event()
        self.relay_connected = asyncio.Event()
        self.relay_producer: AIOKafkaProducer | None = None
        self._connect_task: asyncio.Task[None] | None = None
        self._relay_task: asyncio.Task[None] | None = None

    async def send(self, topic: str, key: bytes, value: bytes, headers: dict[str, str]) -> Any:
        """Queue one outbox event on the relay's producer; returns the future of its delivery."""
        if self.relay_producer is None or not self.relay_connected.is_set():
            raise ConnectionError("Kafka is not connected yet")
        return await self.relay_producer.send(
            physical_topic(topic, self.settings.kafka_topic_prefix), value, key=key,
            headers=[(name, text.encode()) for name, text in headers.items()],
        )

    async def dead_letter(self, message: DeliveredMessage, topic: str, error: BaseException, attempts: int) -> None:
        """Publish to `<topic>.dlq`; retried until Kafka takes it (the offset waits for it)."""
        log.error("event dead-lettered", topic=topic, offset=message.offset, error=repr(error))
        headers = dead_letter_headers(message, self.service.name, error, attempts)
        value = message.value
        delay = 0.2
        while True:
            try:
                await self.broker.publish(value, physical_topic(f"{topic}.dlq", self.settings.kafka_topic_prefix),
                                          key=message.key, headers=headers)
                return
            except MessageSizeTooLargeError:
                # a record at the size limit no longer fits with the headers: its head goes, with its size (the
                # whole of it stays in the original topic, at the offset the headers name)
                value = value[:DLQ_HEAD_BYTES]
                headers = {**headers, "x-leadflow-value-truncated": str(len(message.value))}
            except Exception as exc:
                log.warning("dead letter not published yet", topic=topic, error=repr(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    @contextlib.asynccontextmanager
    async def lifespan(self, _: Litestar) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

    async def start(self) -> None:
        if self.settings.migrate_on_start:
            await asyncio.to_thread(self.service.migrate, self.settings.pg_dsn)
        if self.service.uses_kafka:
            self._relay_task = asyncio.create_task(_supervised("outbox relay", self.relay.run), name="outbox-relay")
        for component in self.components:
            await component.start()
        if not self.service.uses_kafka:
            log.info("service started", port=self.settings.http_port)
            return
        # Consumers only once the components are up (scoring's rules and model loaded): events polled before
        # would fail as transient and back off, holding their partitions for seconds after the start.
        self._connect_task = asyncio.create_task(self._connect_kafka(), name="kafka-connect")
        # What start-up built (modules, metadata, dictionaries) lives as long as the process: out of the
        # collector's sight, a full collection no longer walks it, which would pause requests for tens of ms.
        gc.collect()
        gc.freeze()
        gc.set_threshold(*GC_THRESHOLDS)
        log.info("service started", port=self.settings.http_port)

    async def _connect_kafka(self) -> None:
        """Connect in the background, so HTTP (and the outbox) work while Kafka is away."""
        delay = 0.5
        settings = self.settings
        while True:
            try:
                await ensure_topics(settings.kafka_bootstrap, prefix=settings.kafka_topic_prefix,
                                    partitions=settings.kafka_topic_partitions,
                                    replication=settings.kafka_topic_replication)
                # The relay's producer first: starting the subscribers can take a while (each group waits for
                # its other members to rejoin when a replica comes), and the outbox must not wait for them.
                self.relay_producer = make_relay_producer(settings.kafka_bootstrap, f"leadflow-{self.service.name}")
                await self.relay_producer.start()
                self.relay_connected.set()
                await _start_broker(self.broker)
                self.kafka_connected.set()
                log.info("kafka connected", bootstrap=self.settings.kafka_bootstrap)
                return
            except Exception as exc:
                log.warning("kafka not reachable yet", error=repr(exc), retry_in_s=delay)
                with contextlib.suppress(Exception):
                    await self.broker.stop()
                await self._close_relay_producer()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)

    async def stop(self) -> None:
        """Stop consuming, let in-flight handlers finish, publish what they wrote, then close.

        The whole stop takes at most the grace period (LEADFLOW_SHUTDOWN_GRACE_S), each step what is left of it:
        with Kafka or Postgres away, a step that waits on them is cut short, and what it did not finish is
        redelivered (offsets not committed) or relayed (outbox rows not marked) after the restart.
        """
        log.info("service stopping")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.shutdown_grace_s

        def left() -> float:
            return max(0.1, deadline - loop.time())

        if self._connect_task and not self._connect_task.done():
            self._connect_task.cancel()
            await asyncio.gather(self._connect_task, return_exceptions=True)
        # Subscribers first: each waits for the message it is handling.
        await _within(asyncio.gather(*(sub.stop() for sub in self.broker.subscribers), return_exceptions=True),
                      left(), "consumers")
        await self.relay.stop()
        if self._relay_task:
            try:
                await asyncio.wait_for(asyncio.shield(self._relay_task), left())
            except TimeoutError:
                self._relay_task.cancel()
                await asyncio.gather(self._relay_task, return_exceptions=True)
        if self.relay_connected.is_set():
            await self.relay.drain(timeout_s=left())
        await _within(self.broker.stop(), left(), "kafka producer")  # flushes the producer
        await self._close_relay_producer(left())
        for component in reversed(self.components):
            await _within(component.stop(), left(), type(component).__name__)
        await _within(self.db.dispose(), left(), "database pool")
        log.info("service stopped")

    async def _close_relay_producer(self, timeout_s: float = 5.0) -> None:
        self.relay_connected.clear()
        producer, self.relay_producer = self.relay_producer, None
        if producer is not None:
            try:
                await asyncio.wait_for(producer.stop(), timeout=timeout_s)  # flushes what is queued
            except Exception as exc:
                log.warning("relay producer not closed cleanly", error=repr(exc))

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        checks["postgres"] = await _check(self.db.ping())
        if self.service.uses_kafka:
            checks["kafka"] = await _check(self._check_kafka())
            checks["outbox"] = "ok" if self._relay_task and not self._relay_task.done() else "failed: relay not running"
        for component in self.components:
            checks[component.name] = await _check(component.check())
        return checks

    def warnings(self) -> list[str]:
        """The components' warnings: ready, but not as it should be."""
        return [w for c in self.components if callable(getattr(c, "warnings", None)) for w in c.warnings()]

    async def _check_kafka(self) -> None:
        if not self.kafka_connected.is_set():
            raise ConnectionError("not connected")
        if not await self.broker.ping(timeout=2):
            raise ConnectionError("no answer")


async def _start_broker(broker: KafkaBroker) -> None:
    """faststream's `start()`, with the subscribers started side by side: each waits for its group's
    assignment, and when a replica joins every group rebalances; one after another, that took seconds each."""
    await broker.connect()
    await asyncio.gather(*(subscriber.start() for subscriber in broker.subscribers))
    for publisher in broker.publishers:
        await publisher.start()
    broker.running = True


# Postgres text cannot hold a NUL character, nor a byte sequence that is not UTF-8: the caller's input.
_UNSTORABLE_TEXT = {"22021", "22P05"}  # character_not_in_repertoire, untranslatable_character


def _unstorable_text(exc: Exception) -> bool:
    orig = getattr(exc, "orig", exc)  # SQLAlchemy wraps the driver's error
    return (getattr(orig, "pgcode", None) or getattr(orig, "sqlstate", None)) in _UNSTORABLE_TEXT


def _database_problem(request: Any, exc: Exception) -> Any:
    """400 for text Postgres cannot hold (a NUL in a query parameter or a body), 500 for anything else."""
    from litestar import Response

    if not _unstorable_text(exc):
        return Response({"status_code": 500, "detail": "Internal Server Error"}, status_code=500)
    zh = preferred_language(request.headers.get("accept-language")) == "zh"
    detail = "请求中含有不允许的字符（如 NUL）" if zh else "The request holds a character that is not allowed (such as NUL)"
    return Response({"status_code": 400, "detail": detail}, status_code=400)


async def _log_exception(exc: Exception, scope: Any) -> None:
    """litestar answers 500 without logging: an unexpected error must leave a trace."""
    from litestar.exceptions import HTTPException

    if isinstance(exc, HTTPException) and exc.status_code < 500 or _unstorable_text(exc):
        return
    if getattr(exc, "quiet", False):  # an expected failure its handler reports (the console: a service away)
        return
    log.error("request failed", path=scope.get("path"), method=scope.get("method"), exc_info=exc)


DATABASE_EXCEPTION_HANDLERS: dict[type[Exception], Any] = {
    sqlalchemy.exc.DBAPIError: _database_problem, asyncpg.PostgresError: _database_problem,
}


async def _within(step: Awaitable[Any], timeout_s: float, what: str) -> None:
    """One step of a stop, cut short at its share of the grace period (logged, never raised)."""
    try:
        await asyncio.wait_for(step, timeout_s)
    except Exception as exc:
        log.warning("stopped without waiting further", part=what, error=repr(exc) or type(exc).__name__)


async def _supervised(name: str, run: Callable[[], Any]) -> None:
    """Run a background loop; if it ever dies of an unexpected error, log it and start it again."""
    while True:
        try:
            await run()
            return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error(f"{name} crashed; restarting", error=repr(exc))
            await asyncio.sleep(1.0)


async def _check(probe: Any, timeout: float = 3.0) -> str:
    try:
        await asyncio.wait_for(probe, timeout)
        return "ok"
    except Exception as exc:
        return f"failed: {exc!r}"[:300]


SERVICE_NAME_VARIABLE = "LEADFLOW_SERVICE_NAME"


def app_factory() -> Litestar:
    """Each uvicorn worker process builds its own app (LEADFLOW_HTTP_WORKERS > 1): its own runtime,
    consumers (one group), and relay (one per schema relays at a time)."""
    service = discover_services()[os.environ[SERVICE_NAME_VARIABLE]]
    configure_logging(service.settings().log_level, json=service.settings().log_json, service=service.name)
    return service.create_app()


def discover_services() -> dict[str, Service[Any, Any]]:
    """Every installed leadflow service, in platform order (entry point group `leadflow.services`)."""
    order = ["intake", "scoring", "assignment", "pool", "opportunity", "console", "notify"]
    found = {ep.name: ep.load() for ep in entry_points(group="leadflow.services")}
    return dict(sorted(found.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order)))
