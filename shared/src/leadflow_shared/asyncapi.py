"""The published contract documents: one JSON Schema per topic and an AsyncAPI document (faststream's).

Both are generated from `contracts.TOPICS`, checked in under `shared/contracts/`, and a test fails when
they are stale: `leadflow contracts export` regenerates them.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from faststream.kafka import KafkaBroker
from faststream.specification import AsyncAPI

from leadflow_shared.contracts import TOPICS
from leadflow_shared.events import CloudEvent, envelope_json_schema

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"


def json_schemas() -> dict[str, str]:
    """File name → JSON Schema text of each topic's full envelope."""
    out = {}
    for topic in TOPICS:
        schema = envelope_json_schema(topic.data_model)
        schema["$id"] = topic.schema_urn
        schema["title"] = topic.name
        schema["description"] = f"{topic.description.strip()} Produced by {topic.producer}."
        out[f"{topic.name}.schema.json"] = json.dumps(schema, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    return out


def asyncapi_yaml() -> str:
    broker = KafkaBroker("kafka:9092", description="leadflow's Kafka cluster; keys are lead ids.")
    for topic in TOPICS:
        broker.publisher(
            topic.name,
            title=topic.name,
            description=f"{topic.description.strip()} Produced by {topic.producer}; dead letters on {topic.dlq}.",
            schema=CloudEvent[topic.data_model],  # type: ignore[name-defined]
        )
    spec = AsyncAPI(
        broker,
        title="leadflow events",
        version="1.0.0",
        description="Every topic of the leadflow platform. Messages are CloudEvents 1.0 (structured JSON).",
        schema_version="3.0.0",
    )
    return yaml.safe_dump(json.loads(spec.to_specification().to_json()), allow_unicode=True, sort_keys=True)


def documents() -> dict[str, str]:
    return {**json_schemas(), "asyncapi.yaml": asyncapi_yaml()}


def stale_documents(directory: Path = CONTRACTS_DIR) -> list[str]:
    return [name for name, text in documents().items()
            if not (directory / name).exists() or (directory / name).read_text() != text]


def export(directory: Path = CONTRACTS_DIR) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in documents().items():
        (directory / name).write_text(text)
        written.append(name)
    return written
