"""Fixtures of notify's tests: local stand-ins for the robots (an HTTP server answering as DingTalk, WeCom, Lark
and Feishu do, checking signatures as they do) and for the mail relay (aiosmtpd), notify's settings pointed at
them, its API in this process, and its container with the real consumers and dispatcher on this test's database."""

from __future__ import annotations

import asyncio
import base64
import email
import email.policy
import hashlib
import hmac
import json
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiosmtpd.controller import Controller
from litestar.testing import AsyncTestClient
from pydantic import BaseModel
from sqlalchemy import select

from leadflow_notify.app import service
from leadflow_notify.bootstrap import Notify, bootstrap
from leadflow_notify.consumers import subscriptions
from leadflow_notify.db import metadata
from leadflow_notify.settings import NotifySettings
from leadflow_notify.tables import notifications
from leadflow_shared.consumers import DeliveredMessage, EventProcessor
from leadflow_shared.contracts import Topic
from leadflow_shared.db import Database
from leadflow_shared.events import CloudEvent

Token = Callable[..., str]


@pytest.fixture(scope="session")
def migrated(leadflow_env: dict[str, str]) -> dict[str, Any]:
    """notify's tests need notify's schema only (the plugin's fixture migrates every service)."""
    service.migrate(leadflow_env["LEADFLOW_PG_DSN"])
    return {"notify": service}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# ---- the robots ----------------------------------------------------------------------------------------

def dingtalk_sign(timestamp: str, secret: str) -> str:
    """DingTalk's signature: base64(HMAC-SHA256(key=secret, msg="<timestamp>\\n<secret>"))."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def lark_sign(timestamp: str, secret: str) -> str:
    """Lark's signature: base64(HMAC-SHA256(key="<timestamp>\\n<secret>", msg=""))."""
    return base64.b64encode(hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()


OK = {"dingtalk": {"errcode": 0, "errmsg": "ok"}, "wecom": {"errcode": 0, "errmsg": "ok"},
      "lark": {"code": 0, "msg": "success", "data": {}}, "feishu": {"code": 0, "msg": "success", "data": {}}}


@dataclass
class Received:
    robot: str  # dingtalk | wecom | lark | feishu
    credential: str  # the access token, key or hook id it came for
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes
    answered: int
    at: float = field(default_factory=time.monotonic)

    @property
    def body(self) -> Any:
        return json.loads(self.raw)


@dataclass
class Robots:
    """One local HTTP server standing in for every robot: DingTalk at /dingtalk/robot/send?access_token=, WeCom at
    /wecom/cgi-bin/webhook/send?key=, Lark and Feishu at /<robot>/open-apis/bot/v2/hook/<id>. A robot told its
    secret (`secure`) refuses a request whose signature does not verify, as the real ones do; `answer` scripts the
    next answers for a credential (then success)."""

    server: ThreadingHTTPServer | None = None
    received: list[Received] = field(default_factory=list)
    scripted: dict[str, list[tuple[int, Any]]] = field(default_factory=lambda: defaultdict(list))
    secrets: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def settings(self) -> dict[str, str]:
        return {"notify_dingtalk_url": f"{self.url}/dingtalk/robot/send",
                "notify_wecom_url": f"{self.url}/wecom/cgi-bin/webhook/send",
                "notify_lark_url": f"{self.url}/lark/open-apis/bot/v2/hook/",
                "notify_feishu_url": f"{self.url}/feishu/open-apis/bot/v2/hook"}

    def answer(self, credential: str, *answers: tuple[int, Any]) -> None:
        self.scripted[credential].extend(answers)

    def secure(self, credential: str, secret: str) -> None:
        self.secrets[credential] = secret

    def of(self, credential: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.credential == credential]

    def handle(self, path: str, headers: dict[str, str], raw: bytes) -> tuple[int, Any]:
        parts = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}  # decoded once, as a web server does
        robot = parts.path.split("/")[1]
        credential = (query.get("access_token") if robot == "dingtalk" else query.get("key") if robot == "wecom"
                      else parts.path.rstrip("/").rsplit("/", 1)[-1]) or ""
        status, answer = self._answer(robot, credential, query, raw)
        with self.lock:
            self.received.append(Received(robot, credential, parts.path, query, headers, raw, status))
        return status, answer

    def _answer(self, robot: str, credential: str, query: dict[str, str], raw: bytes) -> tuple[int, Any]:
        with self.lock:
            if self.scripted[credential]:
                return self.scripted[credential].pop(0)
        secret = self.secrets.get(credential)
        if secret and robot == "dingtalk":
            timestamp = query.get("timestamp", "0")
            if abs(time.time() * 1000 - int(timestamp)) > 3_600_000:
                return 200, {"errcode": 310000, "errmsg": "invalid timestamp"}
            if query.get("sign") != dingtalk_sign(timestamp, secret):
                return 200, {"errcode": 310000, "errmsg": "sign not match"}
        if secret and robot in ("lark", "feishu"):
            body = json.loads(raw)
            timestamp = str(body.get("timestamp", "0"))
            if abs(time.time() - int(timestamp)) > 3600 or body.get("sign") != lark_sign(timestamp, secret):
                return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"}
        return 200, OK[robot]

    async def wait_for(self, credential: str, count: int = 1, timeout_s: float = 15) -> list[Received]:
        deadline = time.monotonic() + timeout_s
        while len(self.of(credential)) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return self.of(credential)


@pytest.fixture
def robots() -> Iterator[Robots]:
    state = Robots()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            raw = self.rfile.read(int(self.headers.get("content-length") or 0))
            status, answer = state.handle(self.path, dict(self.headers), raw)
            body = answer if isinstance(answer, bytes) else (answer if isinstance(answer, str) else json.dumps(answer)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=state.server.serve_forever, daemon=True)
    thread.start()
    yield state
    state.server.shutdown()
    state.server.server_close()


# ---- the mail relay ------------------------------------------------------------------------------------

@dataclass
class Mailbox:
    """A local SMTP server (aiosmtpd): what it was given, parsed."""

    port: int
    messages: list[tuple[list[str], EmailMessage]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [message for rcpt, message in self.messages if address in rcpt]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


# ---- notify ----------------------------------------------------------------------------------------------

CONSOLE = "https://crm.example.cn"


@pytest.fixture
def notify_settings(settings_env: dict[str, str], robots: Robots, mailbox: Mailbox) -> NotifySettings:
    """notify's settings on this test's database, topics and groups, its channels pointed at the local robots
    and mail relay, with short backoffs."""
    return NotifySettings(
        **robots.settings(), notify_smtp_host="127.0.0.1", notify_smtp_port=mailbox.port, notify_smtp_security="none",
        notify_smtp_from="leadflow@example.cn", console_url=CONSOLE, notify_backoff_s=0.05,
        notify_backoff_max_s=0.2, notify_max_attempts=3, notify_poll_interval_s=0.05, notify_lease_s=30)


@pytest.fixture
async def db(notify_settings: NotifySettings) -> AsyncIterator[Database]:
    database = Database(notify_settings.pg_dsn, metadata, "/leadflow/notify-test", pool_size=4)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def notify(notify_settings: NotifySettings, db: Database) -> AsyncIterator[Notify]:
    """notify's container as the service builds it (its dispatcher not started: tests run its rounds)."""
    container = bootstrap(notify_settings, db)
    yield container
    await container.dispatcher.stop()


@pytest.fixture
async def api(notify_settings: NotifySettings) -> AsyncIterator[AsyncTestClient[Any]]:
    async with AsyncTestClient(app=service.create_app(notify_settings)) as client:
        yield client


def staff(token: Token, who: str, role: str = "rep", teams: tuple[str, ...] = ("east",), **headers: str
          ) -> dict[str, str]:
    return {"Authorization": token(who, role, teams=list(teams)), **headers}


class Deliver:
    """Events through notify's real consumers (the shared EventProcessor: parse, dedupe by event id, handle and
    record the event processed in one transaction), as Kafka would deliver them."""

    def __init__(self, container: Notify) -> None:
        self.subscriptions = {s.topic.name: s for s in subscriptions(container)}
        self.processor = EventProcessor("notify", container.db, self._dead_letter, max_attempts=1)
        self.offset = 0

    async def _dead_letter(self, message: DeliveredMessage, topic: str, error: BaseException, attempts: int) -> None:
        raise AssertionError(f"dead-lettered from {topic}: {error!r}")

    async def __call__(self, event: CloudEvent[Any]) -> dict[str, int]:
        """The event's outcome: {"processed": 1}, or {"duplicate": 1} for an event id seen before."""
        self.offset += 1
        message = DeliveredMessage(event.to_bytes(), event.subject.encode(), event.topic, 0, self.offset)
        outcomes = await self.processor.process_batch(self.subscriptions[event.topic], [message])
        return {outcome: n for outcome, n in outcomes.items() if n}


def event(topic: Topic, data: BaseModel, at: datetime | None = None) -> CloudEvent[Any]:
    subject = str(getattr(data, "lead_id", None) or data.lead_ids[0])  # type: ignore[attr-defined]
    extra = {"time": at} if at else {}
    return CloudEvent[Any](source="/tests", type=topic.event_type, subject=subject, data=data,
                           dataschema=topic.schema_urn, **extra)


@pytest.fixture
def deliver(notify: Notify) -> Deliver:
    return Deliver(notify)


async def records(db: Database, **where: Any) -> list[dict[str, Any]]:
    """The notification rows matching `where` (column=value), oldest first."""
    async with db.uow() as uow:
        rows = await uow.session.execute(select(notifications).where(
            *(notifications.c[k] == v for k, v in where.items())).order_by(notifications.c.id))
        return [dict(r) for r in rows.mappings()]


async def dispatch_until(notify: Notify, db: Database, person_id: str, settled: Callable[[list[dict[str, Any]]], bool],
                         timeout_s: float = 15) -> list[dict[str, Any]]:
    """Run dispatcher rounds until the person's records satisfy `settled` (or time runs out); the records."""
    deadline = time.monotonic() + timeout_s
    rows = await records(db, person_id=person_id)
    while not settled(rows) and time.monotonic() < deadline:
        await notify.dispatcher.round()
        await asyncio.sleep(0.05)
        rows = await records(db, person_id=person_id)
    return rows
