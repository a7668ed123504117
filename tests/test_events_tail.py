"""`leadflow events tail`: a topic's events on a terminal, against the real Kafka of the test session."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import entry_points
from pathlib import Path

import pytest
import typer
from click.testing import Result
from typer.testing import CliRunner

from leadflow_localstack.testing import produce
from leadflow_shared import events_cli
from leadflow_shared.contracts import LEADS_CONVERTED, LeadConverted
from leadflow_shared.events import CloudEvent, parse_event
from leadflow_shared.kafka import ensure_topics, physical_topic

LEADFLOW = Path(sys.executable).parent / "leadflow"
TOPIC = LEADS_CONVERTED.name
BAD_KEY = "not-a-lead"
BAD_VALUE = b'{"specversion": "1.0", "type": '  # cut short: not even JSON


@dataclass(frozen=True)
class Produced:
    env: dict[str, str]
    lead_ids: list[str]  # of the 3 events, in the order produced (one partition: the order read)


def converted(lead_id: uuid.UUID) -> CloudEvent[LeadConverted]:
    data = LeadConverted(lead_id=lead_id, customer_id=uuid.uuid4(), contact_id=uuid.uuid4(),
                         opportunity_id=uuid.uuid4(), owner_id="rep-wang", converted_at=datetime.now(UTC),
                         team_id="华东")
    return CloudEvent[LeadConverted](source="/leadflow/test", type=LEADS_CONVERTED.event_type,
                                     subject=str(lead_id), dataschema=LEADS_CONVERTED.schema_urn, data=data)


async def produce_event(env: dict[str, str], topic: str, event: CloudEvent[LeadConverted],
                        headers: dict[str, str] | None = None) -> None:
    await produce(env["LEADFLOW_KAFKA_BOOTSTRAP"], physical_topic(topic, env["LEADFLOW_KAFKA_TOPIC_PREFIX"]),
                  event.to_bytes(), key=event.subject.encode(),
                  headers={**event.kafka_headers(), **(headers or {})})


@pytest.fixture(scope="module")
async def produced(leadflow_env: dict[str, str]) -> Produced:
    """Topics of this module's own (one partition each, under the session's prefix, which the session
    deletes): 2 events, a malformed record, a 3rd event; and one dead letter."""
    prefix = f"{leadflow_env['LEADFLOW_KAFKA_TOPIC_PREFIX']}tail."
    env = {**leadflow_env, "LEADFLOW_KAFKA_TOPIC_PREFIX": prefix}
    await ensure_topics(env["LEADFLOW_KAFKA_BOOTSTRAP"], prefix=prefix, partitions=1)
    events = [converted(uuid.uuid4()) for _ in range(3)]
    for event in events[:2]:
        await produce_event(env, TOPIC, event)
    await produce(env["LEADFLOW_KAFKA_BOOTSTRAP"], physical_topic(TOPIC, env["LEADFLOW_KAFKA_TOPIC_PREFIX"]),
                  BAD_VALUE, key=BAD_KEY.encode())
    await produce_event(env, TOPIC, events[2])
    await produce_event(env, LEADS_CONVERTED.dlq, converted(uuid.uuid4()),
                        headers={"x-leadflow-error": "boom", "x-leadflow-consumer": "opportunity",
                                 "x-leadflow-attempts": "3"})
    return Produced(env, [e.subject for e in events])


@pytest.fixture
def tail_env(produced: Produced, monkeypatch: pytest.MonkeyPatch) -> Produced:
    for name, value in produced.env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("COLUMNS", "200")  # rich's width: no line of the readable rendering wraps
    return produced


def run(*args: str) -> Result:
    """`leadflow events ...` in this process, mounted as `cli.build` mounts it."""
    root = typer.Typer()
    root.add_typer(events_cli.app, name="events")
    return CliRunner().invoke(root, ["events", *args])


def test_the_command_is_registered() -> None:
    found = {ep.name: ep.value for ep in entry_points(group="leadflow.commands")}
    assert found.get("events") == "leadflow_shared.events_cli:app"


def test_json_lines_from_the_beginning_with_the_malformed_record_shown(tail_env: Produced) -> None:
    result = run("tail", TOPIC, "--from-beginning", "--max", "4", "--json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) == 4, result.stdout
    events = [parse_event(line.encode(), LeadConverted) for i, line in enumerate(lines) if i != 2]
    assert [e.subject for e in events] == tail_env.lead_ids
    assert [str(e.data.lead_id) for e in events] == tail_env.lead_ids
    assert events[0].data.team_id == "华东" and "华东" in lines[0]  # as it is, not \u-escaped
    unparsed = json.loads(lines[2])
    assert unparsed["unparsed"] is True and unparsed["key"] == BAD_KEY
    assert unparsed["value"] == BAD_VALUE.decode() and unparsed["error"]


def test_key_keeps_one_lead_and_timeout_ends_the_tail(tail_env: Produced) -> None:
    started = time.monotonic()
    result = run("tail", TOPIC, "--from-beginning", "--key", tail_env.lead_ids[1], "--timeout", "3", "--json")
    assert result.exit_code == 0, result.output
    assert [json.loads(line)["subject"] for line in result.stdout.splitlines()] == [tail_env.lead_ids[1]]
    assert time.monotonic() - started < 30


def test_readable_rendering(tail_env: Produced) -> None:
    result = run("tail", TOPIC, "--from-beginning", "--max", "4")
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.count(LEADS_CONVERTED.event_type) == 3 and out.count("UNPARSED") == 1
    for lead_id in tail_env.lead_ids:
        assert f"subject={lead_id}" in out and f'"lead_id": "{lead_id}"' in out  # data pretty-printed
    assert f"key={BAD_KEY}" in out and BAD_VALUE.decode() in out


def test_dead_letters_are_shown_with_why(tail_env: Produced) -> None:
    result = run("tail", LEADS_CONVERTED.dlq, "--from-beginning", "--max", "1")
    assert result.exit_code == 0, result.output
    assert "dead-lettered by opportunity after 3 attempts: boom" in result.stdout


def test_an_unknown_topic_is_one_line_listing_the_known_ones(tail_env: Produced) -> None:
    result = run("tail", "leads.nope.v1")
    assert result.exit_code == 2
    said = result.stderr.strip()
    assert len(said.splitlines()) == 1 and "unknown topic 'leads.nope.v1'" in said
    assert TOPIC in said and "payments.received.v1" in said and "<topic>.dlq" in said


def test_a_topic_not_on_the_cluster_is_one_line(tail_env: Produced, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_KAFKA_TOPIC_PREFIX", f"absent{uuid.uuid4().hex[:6]}.")
    result = run("tail", TOPIC, "--timeout", "1")
    assert result.exit_code == 1
    assert result.stderr.strip().startswith("✗ topic absent") and "leadflow stack up" in result.stderr


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A port on 127.0.0.1 that refuses connections (bound, never listening)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _env(**leadflow: str) -> dict[str, str]:
    return {**{k: v for k, v in os.environ.items() if not k.startswith("LEADFLOW_")}, **leadflow}


def test_kafka_that_does_not_answer_is_one_line(closed_port: int) -> None:
    done = subprocess.run([str(LEADFLOW), "events", "tail", TOPIC], capture_output=True, text=True,
                          timeout=120, env=_env(LEADFLOW_KAFKA_BOOTSTRAP=f"127.0.0.1:{closed_port}"))
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        f"✗ Kafka at 127.0.0.1:{closed_port} does not answer: start the local stack with "
        "`leadflow stack up` (or `make demo`), or set LEADFLOW_KAFKA_BOOTSTRAP")


def _lines(stream) -> queue.Queue[str]:  # type: ignore[no-untyped-def]
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in stream], daemon=True).start()
    return lines


def test_follows_new_events_only_and_ctrl_c_exits_0(produced: Produced) -> None:
    # SIGINT as in a terminal (a shell without job control may have left it ignored for this process)
    proc = subprocess.Popen([str(LEADFLOW), "events", "tail", TOPIC, "--json"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=_env(**produced.env),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines, sent, deadline = _lines(proc.stdout), set(), time.monotonic() + 90
        while lines.empty() and time.monotonic() < deadline and proc.poll() is None:
            event = converted(uuid.uuid4())  # until the tail (started at the end) shows one
            asyncio.run(produce_event(produced.env, TOPIC, event))
            sent.add(event.subject)
            time.sleep(1)
        first = json.loads(lines.get(timeout=10))
    finally:
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    said = proc.stderr.read() if proc.stderr else ""
    assert first["subject"] in sent  # not one of the records there before it started
    assert code == 0 and "Traceback" not in said, said
