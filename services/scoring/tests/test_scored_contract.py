"""leads.scored.v1 is written from plain dicts (UnitOfWork.publish_documents), not built as contract models:
what scoring writes must parse with the LeadScored contract, field for field, whatever the lead."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest

from leadflow_scoring.domain.enrichment import Candidates, RegistryCompany, enrich
from leadflow_scoring.domain.rules_yaml import load_default_rules
from leadflow_scoring.domain.scoring import apply_activity, build_state, evaluate_state
from leadflow_scoring.handlers import scored_data
from leadflow_shared.contracts import LEADS_SCORED, LeadScored, LeadSnapshot
from leadflow_shared.db import json_text
from leadflow_shared.events import envelope_document, parse_event

NOW = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
REGISTRY = RegistryCompany(name="杭州云栖示例软件有限公司", canonical="杭州云栖示例软件", source="qcc",
                           credit_code="91330106MA2GL1RQ4X", industry="软件和信息技术服务业", size="500-999人",
                           employees=700, registered_capital=5e7, city="杭州", founded=date(2016, 3, 1))

LEADS = {
    "enriched, with a probability": (LeadSnapshot(name="王伟", mobile="+8613800138000", title="CTO",
                                                  company_credit_code="91330106MA2GL1RQ4X",
                                                  custom={"sales_team_size": 25, "tags": ["vip"]}), 0.42),
    "BANT answered, no model": (LeadSnapshot(email="li@example.cn", bant={"budget": "50万", "timeline": "3个月内"},
                                             consent={"do_not_call": True}), None),
    "disqualified": (LeadSnapshot(wechat="wx_student", title="在校学生", industry="教育"), 0.01),
}


def _row(lead: LeadSnapshot, probability: float | None) -> tuple[dict[str, Any], Any]:
    rules = load_default_rules()
    match = Candidates.of([REGISTRY]).match(lead.company_credit_code, None)
    snapshot, enrichment = enrich(lead.model_dump(mode="json", exclude_none=True), match)
    state = apply_activity(build_state([], rules), {"type": "demo_request", "occurred_at": NOW}, rules)
    score = evaluate_state(snapshot, state, rules, NOW, probability)
    row = {"lead_id": uuid.uuid4(), "lead": snapshot, "enrichment": enrichment, "company_id": uuid.uuid4(),
           "customer_id": None, "stage": str(score.stage), "probability": probability,
           "explanation": score.explanation(), "model_version": "m1" if probability is not None else None}
    return row, score


@pytest.mark.parametrize("case", list(LEADS))
def test_scored_events_keep_their_contract(case: str) -> None:
    row, score = _row(*LEADS[case])
    data = scored_data(row, score)
    assert set(data) == set(LeadScored.model_fields)  # a field added to the contract is written too
    event_id = uuid.uuid4()
    payload = json_text(envelope_document(event_id, source="/leadflow/scoring", type=LEADS_SCORED.event_type,
                                          time=NOW, subject=str(row["lead_id"]), dataschema="urn:x", data=data))
    event = parse_event(payload.encode(), LeadScored)
    assert (event.id, event.type, event.subject, event.time) == (event_id, LEADS_SCORED.event_type,
                                                                 str(row["lead_id"]), NOW)
    assert event.data == LeadScored.model_validate(data)
    assert event.data.lead is not None and event.data.lead.model_dump(exclude_none=True) == \
        LeadSnapshot.model_validate(row["lead"]).model_dump(exclude_none=True)
    # The JSON carries what the model would write, less the fields it would write as null.
    modelled = json.loads(event.data.model_dump_json())
    written = json.loads(payload)["data"]
    assert {k: v for k, v in written["lead"].items()} == {k: v for k, v in modelled["lead"].items() if v is not None}
    assert {k: v for k, v in written.items() if k != "lead"} == {k: v for k, v in modelled.items() if k != "lead"}
