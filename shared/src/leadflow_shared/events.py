"""The CloudEvents 1.0 envelope every leadflow message travels in (structured JSON mode).

The Kafka key is the lead id (`subject`), so every event of one lead lands on one partition, in order.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound=BaseModel)

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
TYPE_PREFIX = "io.leadflow."


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 envelope; `type` is `io.leadflow.<topic>` and `subject` the lead id."""

    model_config = ConfigDict(frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: uuid.UUID = Field(default_factory=uuid.uuid4, description="Unique per event; consumers dedupe on it.")
    source: str = Field(description="URI-reference of the producer, e.g. /leadflow/intake.")
    type: str = Field(description="io.leadflow.<versioned topic>, e.g. io.leadflow.leads.received.v1.")
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    subject: str = Field(description="The lead id (or customer id on customers.v1); also the Kafka key.")
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str | None = Field(None, description="URI of the data's JSON Schema.")
    data: DataT

    @property
    def topic(self) -> str:
        return self.type.removeprefix(TYPE_PREFIX)

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    def kafka_headers(self) -> dict[str, str]:
        return kafka_headers(self.id, self.type, self.source, self.subject)


def kafka_headers(event_id: uuid.UUID, type: str, source: str, subject: str) -> dict[str, str]:
    """CloudEvents Kafka binding headers, so brokers' tools can route without parsing the body."""
    return {"content-type": CONTENT_TYPE, "ce_specversion": "1.0", "ce_id": str(event_id), "ce_type": type,
            "ce_source": source, "ce_subject": subject}


def envelope_document(event_id: uuid.UUID, *, source: str, type: str, time: datetime, subject: str,
                      dataschema: str | None, data: Mapping[str, Any]) -> dict[str, Any]:
    """A CloudEvent as a plain document, field for field, for data that is already a JSON-ready dict in
    its contract's shape (a hot path: see UnitOfWork.publish_documents). Valid as `CloudEvent[Model]`."""
    return {"specversion": "1.0", "id": event_id, "source": source, "type": type, "time": time, "subject": subject,
            "datacontenttype": "application/json", "dataschema": dataschema, "data": data}


class MalformedEvent(ValueError):
    """A message that is not a valid envelope of the topic's contract: it goes to the DLQ at once."""


def parse_event(raw: bytes, data_model: type[DataT]) -> CloudEvent[DataT]:
    try:
        return _envelope_of(data_model).model_validate_json(raw)
    except Exception as exc:  # pydantic.ValidationError, or bytes that are not JSON at all
        raise MalformedEvent(str(exc)) from exc


@lru_cache(maxsize=None)
def _envelope_of(data_model: type[DataT]) -> type[CloudEvent[DataT]]:
    """The envelope class of a contract (pydantic's generic subscript costs more than a cache look-up)."""
    return CloudEvent[data_model]  # type: ignore[valid-type]


def envelope_json_schema(data_model: type[BaseModel]) -> dict[str, Any]:
    return CloudEvent[data_model].model_json_schema()  # type: ignore[valid-type]
