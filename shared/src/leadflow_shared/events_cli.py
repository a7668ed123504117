"""`leadflow events tail TOPIC`: watch a topic's events (or its dead letters) from a terminal.

The consumer has no group (group_id=None): it never commits offsets, so the services' consumer groups
never see it. Events are shown as they are: this is a person's own tool on their own data, no masking.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from aiokafka import AIOKafkaConsumer
from aiokafka.structs import ConsumerRecord
from rich.console import Console
from rich.text import Text

from leadflow_shared.contracts import TOPICS, Contract, topic_by_name
from leadflow_shared.events import CloudEvent, MalformedEvent, parse_event
from leadflow_shared.kafka import physical_topic
from leadflow_shared.settings import LeadflowSettings

app = typer.Typer(help="Watch leadflow's events: any contract topic, or its dead letters (<topic>.dlq).",
                  no_args_is_help=True)

POLL_S = 0.5
Shown = Callable[[ConsumerRecord[bytes, bytes], "CloudEvent[Any] | MalformedEvent"], None]


def data_model(name: str) -> type[Contract]:
    """The contract of a topic; a dead-letter twin holds the same events as its topic."""
    return topic_by_name(name.removesuffix(".dlq")).data_model


def _fail(line: str, code: int = 1) -> typer.Exit:
    """One line in the style of `cli.main`'s (typer's error panel would wrap the topic list in a box)."""
    Console(stderr=True, soft_wrap=True, markup=False, highlight=False).print(f"✗ {line}", style="red")
    return typer.Exit(code)


def _known_topic(name: str) -> str:
    try:
        data_model(name)
    except KeyError:
        known = ", ".join(t.name for t in TOPICS)
        raise _fail(f"unknown topic {name!r}; known: {known} (and each <topic>.dlq)", code=2) from None
    return name


def _parse(record: ConsumerRecord[bytes, bytes], model: type[Contract]) -> CloudEvent[Any] | MalformedEvent:
    try:
        return parse_event(record.value or b"", model)
    except MalformedEvent as exc:  # shown as unparsed: one bad record must not stop the tail
        return exc


def _text(raw: bytes | None) -> str | None:
    return None if raw is None else raw.decode(errors="replace")


def _why(exc: MalformedEvent) -> str:
    """pydantic's message without its link to the docs of the error type (noise on every record)."""
    return "\n".join(line for line in str(exc).splitlines() if "errors.pydantic.dev" not in line)


def _raw_value(raw: bytes | None) -> Any:
    """The record's value as JSON when it is JSON (jq can reach into it), else as text."""
    try:
        return json.loads(raw or b"")
    except ValueError:
        return _text(raw)


def json_line(record: ConsumerRecord[bytes, bytes], parsed: CloudEvent[Any] | MalformedEvent) -> str:
    """The event as it was produced, on one line; an unparsed record wrapped with `"unparsed": true`."""
    if isinstance(parsed, CloudEvent):
        return json.dumps(json.loads(record.value or b""), ensure_ascii=False)
    return json.dumps({"unparsed": True, "error": _why(parsed), "topic": record.topic,
                       "partition": record.partition, "offset": record.offset, "key": _text(record.key),
                       "value": _raw_value(record.value)}, ensure_ascii=False)


def _header(record: ConsumerRecord[bytes, bytes], parsed: CloudEvent[Any] | MalformedEvent) -> Text:
    key, where = _text(record.key), f"  p{record.partition}@{record.offset}"
    if isinstance(parsed, CloudEvent):
        line = Text(f"{parsed.time.isoformat(timespec='seconds')}  ", style="dim")
        line.append(parsed.type, style="bold cyan").append(f"  subject={parsed.subject}")
        if key != parsed.subject:
            line.append(f"  key={key}")
        return line.append(where, style="dim")
    written = datetime.fromtimestamp(record.timestamp / 1000, UTC).isoformat(timespec="seconds")
    line = Text(f"{written}  ", style="dim").append("UNPARSED", style="bold red").append(f"  key={key}")
    return line.append(where, style="dim")


def _dead_letter_note(record: ConsumerRecord[bytes, bytes]) -> Text | None:
    """Why a consumer dead-lettered it (the headers `Runtime.dead_letter` adds), when it did."""
    headers = {name: value.decode(errors="replace") for name, value in record.headers}
    if "x-leadflow-error" not in headers:
        return None
    return Text(f"dead-lettered by {headers.get('x-leadflow-consumer', '?')} after "
                f"{headers.get('x-leadflow-attempts', '?')} attempts: {headers['x-leadflow-error']}",
                style="yellow")


def rich_printer(console: Console) -> Shown:
    def show(record: ConsumerRecord[bytes, bytes], parsed: CloudEvent[Any] | MalformedEvent) -> None:
        console.print(_header(record, parsed), soft_wrap=True)  # one line to grep, however narrow
        note = _dead_letter_note(record)
        if note is not None:
            console.print(note)
        if isinstance(parsed, CloudEvent):
            console.print_json(data=parsed.data.model_dump(mode="json"))
        else:
            console.print(Text(_why(parsed), style="dim red"))
            console.print(Text(_text(record.value) or ""))
        console.print()

    return show


def json_printer(record: ConsumerRecord[bytes, bytes], parsed: CloudEvent[Any] | MalformedEvent) -> None:
    typer.echo(json_line(record, parsed))  # click flushes: a pipe to jq sees each event at once


async def _follow(consumer: AIOKafkaConsumer, model: type[Contract], show: Shown, *, key: str | None,
                  max_events: int | None, timeout_s: float | None) -> None:
    """Show records until `max_events` were shown or none came for `timeout_s`."""
    wanted = None if key is None else key.encode()
    shown, last = 0, time.monotonic()
    while max_events is None or shown < max_events:
        left = None if timeout_s is None else timeout_s - (time.monotonic() - last)
        if left is not None and left <= 0:
            return
        wait_s = POLL_S if left is None else min(POLL_S, left)  # so that --timeout ends on time
        batches = await consumer.getmany(timeout_ms=int(1000 * wait_s))
        for record in (r for records in batches.values() for r in records):
            if wanted is not None and record.key != wanted:
                continue
            show(record, _parse(record, model))
            shown, last = shown + 1, time.monotonic()
            if shown == max_events:
                return


async def tail_topic(topic: str, show: Shown, *, from_beginning: bool, key: str | None = None,
                     max_events: int | None = None, timeout_s: float | None = None) -> None:
    settings = LeadflowSettings()
    physical = physical_topic(topic, settings.kafka_topic_prefix)
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None,
                                enable_auto_commit=False,
                                auto_offset_reset="earliest" if from_beginning else "latest")
    try:
        await consumer.start()  # KafkaConnectionError when Kafka does not answer: cli_errors names it
        if physical not in await consumer.topics():  # else the consumer would wait for it forever, silently
            raise _fail(f"topic {physical} is not on Kafka at {settings.kafka_bootstrap}: run `leadflow "
                        "stack up` (which creates the topics), or check LEADFLOW_KAFKA_TOPIC_PREFIX")
        consumer.subscribe([physical])
        await _follow(consumer, data_model(topic), show, key=key, max_events=max_events, timeout_s=timeout_s)
    finally:
        await consumer.stop()


def _quiet_aiokafka() -> None:
    """aiokafka's own error lines would come beside cli_errors' one line (no logging is configured here)."""
    kafka_log = logging.getLogger("aiokafka")
    if not any(isinstance(h, logging.NullHandler) for h in kafka_log.handlers):
        kafka_log.addHandler(logging.NullHandler())


@app.command("tail")
def tail(
    topic: Annotated[str, typer.Argument(callback=_known_topic, show_default=False,
                                         help="A contract topic, e.g. leads.converted.v1, or its twin "
                                              "leads.converted.v1.dlq")],
    from_beginning: Annotated[bool, typer.Option(
        "--from-beginning", help="Start at the oldest event kept (default: new events only)")] = False,
    max_events: Annotated[int | None, typer.Option("--max", min=1, help="Stop after N events")] = None,
    key: Annotated[str | None, typer.Option("--key",
                                            help="Only records with this Kafka key (a lead id)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One raw JSON line per event (for jq)")] = False,
    timeout: Annotated[float | None, typer.Option("--timeout", min=0,
                                                  help="Stop when no event came for SECONDS")] = None,
) -> None:
    """Follow a topic's events as they come (Ctrl-C stops); never commits offsets."""
    _quiet_aiokafka()
    show = json_printer if as_json else rich_printer(Console())
    try:
        asyncio.run(tail_topic(topic, show, from_beginning=from_beginning, key=key, max_events=max_events,
                               timeout_s=timeout))
    except KeyboardInterrupt:
        pass  # Ctrl-C is how one stops following: not an error
