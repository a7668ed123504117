"""leads.received.v1 and leads.duplicate_detected.v1 are written from plain dicts (UnitOfWork.document_rows),
not built as contract models: what intake writes must parse with the contracts and carry what the models
would have carried, field for field, whatever the lead."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from leadflow_intake.domain.lead import CleanLead, fill_blanks
from leadflow_intake.handlers import SubmissionPipeline, _Batch
from leadflow_intake.schemas import validate_lead
from leadflow_shared.contracts import (
    LEADS_DUPLICATE_DETECTED,
    LEADS_RECEIVED,
    DuplicateDetected,
    LeadReceived,
    LeadSnapshot,
)
from leadflow_shared.db import json_text
from leadflow_shared.events import envelope_document, parse_event

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)

SUBMISSIONS = {
    "contacts only": {"mobile": "138 0013 8000"},
    "everything": {
        "name": "王伟", "mobile": "+86 139-1234-5678", "wechat": "WangWei_88", "email": "Wang.Wei@Example.CN",
        "company_name": "杭州云栖示例软件有限公司", "company_credit_code": "91330106MA2GL1RQ4X", "title": "CTO",
        "province": "浙江", "city": "杭州", "industry": "软件", "source": "xiaohongshu", "campaign": "双11",
        "referrer": "rep-7", "product_interest": "CRM", "client_ip": "203.0.113.9", "device_id": "d-1",
        "bant": {"budget": "50万", "authority": True, "need": "线索管理", "timeline": "3个月内"},
        "consent": {"do_not_call": True, "do_not_email": False},
        "custom": {"sales_team_size": 25, "tags": ["vip"], "nested": {"a": None}},
    },
    "traditional Chinese, e-mail only": {"name": "陳大文", "email": "chan@example.hk", "company_name": "香港示例貿易有限公司"},
}


def _lead(raw: dict[str, Any]) -> CleanLead:
    lead = validate_lead(raw)
    assert isinstance(lead, CleanLead), lead
    return lead


def _record(fields: dict[str, Any], **links: Any) -> dict[str, Any]:
    return {"id": uuid.uuid4(), "fields": fields, "company_id": None, "customer_id": None, "account_owner_id": None,
            "owner_id": None, **links}


def _written(topic: Any, subject: uuid.UUID, data: dict[str, Any]) -> bytes:
    event_id = uuid.uuid4()
    return json_text(envelope_document(event_id, source="/leadflow/intake", type=topic.event_type, time=NOW,
                                       subject=str(subject), dataschema=topic.schema_urn, data=data)).encode()


def _announced(record: dict[str, Any], outcome: str, matched_key: str | None) -> list[tuple[Any, uuid.UUID, Any]]:
    batch = _Batch(contact_owner={}, leads={}, companies=None, customers_by_code={}, customers_by_core={},  # type: ignore[arg-type]
                   customers_by_contact={}, blocked=set(), by_ip={}, by_device={})
    SubmissionPipeline._announce(batch, record, record["id"], uuid.uuid4(), outcome,
                                 record["id"] if outcome == "merged" else None, "partner-1", matched_key)
    return batch.events


@pytest.mark.parametrize("case", list(SUBMISSIONS))
def test_a_created_lead_is_written_as_the_contract_would_write_it(case: str) -> None:
    record = _record(_lead(SUBMISSIONS[case]).snapshot(), company_id=uuid.uuid4(), account_owner_id="rep-3")
    [(topic, subject, data)] = _announced(record, "created", None)
    assert topic is LEADS_RECEIVED and subject == record["id"]
    assert set(data) == set(LeadReceived.model_fields)  # a field added to the contract is written too
    event = parse_event(_written(topic, subject, data), LeadReceived)
    model = LeadReceived(lead_id=record["id"], submission_id=data["submission_id"], outcome="created",
                         company_id=record["company_id"], account_owner_id="rep-3", partner_id="partner-1",
                         lead=LeadSnapshot.model_validate(record["fields"]))
    assert event.data == model
    assert json.loads(json_text(data)) == model.model_dump(mode="json")  # the very JSON the model would dump


def test_a_merge_is_written_with_its_duplicate_warning() -> None:
    stored = _lead(SUBMISSIONS["contacts only"]).snapshot()
    merged = fill_blanks(stored, _lead({**SUBMISSIONS["everything"], "mobile": "138 0013 8000"}).snapshot())
    record = _record(merged, owner_id="rep-9", customer_id=uuid.uuid4())
    received, duplicate = _announced(record, "merged", "mobile:+8613800138000")
    assert received[0] is LEADS_RECEIVED and duplicate[0] is LEADS_DUPLICATE_DETECTED
    event = parse_event(_written(*received), LeadReceived)
    assert (event.data.outcome, event.data.duplicate_of, event.data.customer_id) == \
        ("merged", record["id"], record["customer_id"])
    assert event.data.lead == LeadSnapshot.model_validate(merged)
    warning = parse_event(_written(*duplicate), DuplicateDetected)
    assert set(duplicate[2]) == set(DuplicateDetected.model_fields)
    assert warning.data == DuplicateDetected(lead_id=record["id"], submission_id=event.data.submission_id,
                                             matched_on="mobile", current_owner_id="rep-9", partner_id="partner-1")
