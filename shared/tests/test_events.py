import uuid

import pytest

from leadflow_shared.contracts import LEADS_RECEIVED, TOPICS, LeadReceived, LeadSnapshot, all_topic_names, topic_by_name
from leadflow_shared.events import CloudEvent, MalformedEvent, parse_event


def _event() -> CloudEvent[LeadReceived]:
    lead_id = uuid.uuid4()
    return CloudEvent[LeadReceived](
        source="/leadflow/intake", type=LEADS_RECEIVED.event_type, subject=str(lead_id),
        data=LeadReceived(lead_id=lead_id, submission_id=uuid.uuid4(), outcome="created",
                          lead=LeadSnapshot(name="张三", email="zhang@example.cn")),
    )


def test_an_envelope_survives_the_wire() -> None:
    event = _event()
    parsed = parse_event(event.to_bytes(), LeadReceived)
    assert parsed == event
    assert parsed.specversion == "1.0" and parsed.topic == "leads.received.v1"


def test_kafka_headers_follow_the_cloudevents_binding() -> None:
    event = _event()
    headers = event.kafka_headers()
    assert headers["ce_id"] == str(event.id) and headers["ce_type"] == "io.leadflow.leads.received.v1"
    assert headers["content-type"].startswith("application/cloudevents+json")


@pytest.mark.parametrize("raw", [b"not json", b"{}", b'{"specversion": "1.0", "data": {}}', b"\xff\xfe"])
def test_anything_but_a_valid_envelope_is_malformed(raw: bytes) -> None:
    with pytest.raises(MalformedEvent):
        parse_event(raw, LeadReceived)


def test_topics_are_versioned_and_each_has_a_dead_letter_twin() -> None:
    for topic in TOPICS:
        assert topic.name.split(".")[-1].startswith("v"), topic.name
        assert f"{topic.name}.dlq" in all_topic_names()
    assert topic_by_name("leads.scored.v1").producer == "scoring"
    with pytest.raises(KeyError):
        topic_by_name("leads.nope.v1")
