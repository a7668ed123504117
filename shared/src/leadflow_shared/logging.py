"""Structured JSON logs (structlog) in which phone numbers and e-mail addresses are masked.

Leads carry personal data (个人信息); logs travel to places the database never goes, so every
string value in every log line is masked, not just the fields we remember to mask.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
from typing import Any

import structlog

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# Runs of 7+ digits, optionally with a leading + and common separators: mobiles, landlines, E.164.
_PHONE = re.compile(r"(?<![\w-])(\+?\d[\d \-]{5,}\d)(?![\w-])")


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(1)
    digits = [c for c in text if c.isdigit()]
    if len(digits) < 7:
        return text
    keep_head, keep_tail = (3, 4) if len(digits) >= 11 else (2, 2)
    masked = digits[:keep_head] + ["*"] * (len(digits) - keep_head - keep_tail) + digits[-keep_tail:]
    return ("+" if text.startswith("+") else "") + "".join(masked)


def mask_text(text: str) -> str:
    """`alice@corp.cn` → `a***@corp.cn`; `+8613800138000` → `+861******8000`."""
    text = _EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    return _PHONE.sub(_mask_phone, text)


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_mask_value(v) for v in value)
    return value


def mask_personal_data(_: Any, __: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: mask contacts in every value of the event."""
    return {k: _mask_value(v) for k, v in event_dict.items()}


class RepeatThrottle(logging.Filter):
    """A warning or error that repeats (aiokafka's "Unable connect to node" every few ms while a broker is down)
    is written the first time, then at most once per `interval_s`, saying how many like it were left out.

    Lines are alike when they come from the same logger with the same message template, so an outage is logged
    once and then at a bounded rate, however long it lasts; info lines pass untouched.
    """

    def __init__(self, interval_s: float = 30.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.interval_s = interval_s
        self._clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}  # key → (when last written, left out since)
        self._lock = threading.Lock()

    @staticmethod
    def _template(record: logging.LogRecord) -> str:
        if isinstance(record.msg, dict):  # a structlog event
            return str(record.msg.get("event"))
        return str(record.msg)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, self._template(record))
        now = self._clock()
        with self._lock:
            written, left_out = self._seen.get(key, (None, 0))
            if written is not None and now - written < self.interval_s:
                self._seen[key] = (written, left_out + 1)
                return False
            self._seen[key] = (now, 0)
            if len(self._seen) > 10_000:  # templates are few; this only guards against unbounded growth
                self._seen = {key: (now, 0)}
        if left_out:
            note = f"{left_out} more like this in the last {now - written:.0f}s were not logged"
            if isinstance(record.msg, dict):
                record.msg = {**record.msg, "repeated": left_out, "note": note}
            else:
                record.msg = f"{record.msg} ({note})"
        return True


def configure_logging(level: str = "INFO", *, json: bool = True, service: str | None = None) -> None:
    """Route structlog and the standard library (uvicorn, aiokafka, alembic) through one renderer."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    if service:
        structlog.contextvars.bind_contextvars(service=service)
    renderer: Any = structlog.processors.JSONRenderer(ensure_ascii=False) if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            mask_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    handler.addFilter(RepeatThrottle())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "kafka", "temporalio", "sqlalchemy.engine"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "faststream"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
