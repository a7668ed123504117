import json

from leadflow_shared.asyncapi import CONTRACTS_DIR, documents, stale_documents


def test_checked_in_contract_documents_are_current() -> None:
    stale = stale_documents()
    assert not stale, f"run `leadflow contracts export` (make contracts): stale {stale}"


def test_the_asyncapi_document_names_every_topic_with_its_envelope() -> None:
    text = documents()["asyncapi.yaml"]
    for name in ("leads.received.v1", "leads.scored.v1", "leads.assigned.v1", "customers.v1"):
        assert f"  {name}:" in text
    assert "CloudEvent[LeadReceived]" in text


def test_each_json_schema_requires_the_cloudevents_attributes() -> None:
    schema = json.loads((CONTRACTS_DIR / "leads.received.v1.schema.json").read_text())
    assert {"source", "type", "subject", "data"} <= set(schema["required"])
    assert schema["$id"] == "urn:leadflow:schema:leads.received.v1"
