"""An SDR's verdict (线索清洗) as scoring takes it: his BANT answers join the lead's facts and the usual MQL rule
decides; invalid disqualifies; nurture holds until the lead earns points beyond its score when judged. And
through the consumer, on the real database: the lead is published with the stage the verdict leaves it at."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from leadflow_scoring import db as scoring_db
from leadflow_scoring.domain.model import Factor, Score, Stage
from leadflow_scoring.domain.rules_yaml import default_rules_text, load_rules_yaml
from leadflow_scoring.domain.scorer import Scorer
from leadflow_scoring.domain.verdicts import judged, verdict_of, with_bant
from leadflow_scoring.handlers import ScoringHandlers
from leadflow_scoring.registry import TableRegistry
from leadflow_shared.contracts import (
    LEADS_ACTIVITY,
    LEADS_DISPOSITIONED,
    LEADS_RECEIVED,
    LeadActivity,
    LeadDispositioned,
    LeadReceived,
    LeadScored,
    LeadSnapshot,
)
from leadflow_shared.db import Database
from leadflow_shared.events import CloudEvent
from leadflow_shared.service import Service

NOW = "2026-06-04T12:00:00+08:00"


def score(points: float, stage: Stage) -> Score:
    return Score(points=points, grade="B", stage=stage, rules_version="r", factors=[Factor("fit:x", points)])


def test_bant_answers_join_the_leads_own() -> None:
    lead = {"industry": "制造业", "bant": {"budget": "无", "need": "CRM"}}
    merged = with_bant(lead, {"budget": "50万", "authority": "决策人", "timeline": None})
    assert merged["bant"] == {"budget": "50万", "need": "CRM", "authority": "决策人"}
    assert lead["bant"] == {"budget": "无", "need": "CRM"}  # not changed in place
    assert with_bant(lead, None) == lead and with_bant({}, {"need": ""}) == {}


def test_invalid_disqualifies_and_the_factors_still_add_up() -> None:
    judged_score = judged(score(72, Stage.mql), verdict_of("invalid", "sdr-li", "wrong_number", NOW))
    assert (judged_score.points, judged_score.grade, judged_score.stage) == (0.0, "D", Stage.disqualified)
    assert sum(f.points for f in judged_score.factors) == 0.0
    assert judged_score.factors[-1].rule == "sdr:invalid" and "wrong_number" in (judged_score.factors[-1].detail or "")


def test_nurture_holds_until_the_lead_earns_more_than_it_had() -> None:
    verdict = {**verdict_of("nurture", "sdr-li", "not_now", NOW), "points": 65.0}
    assert judged(score(65, Stage.mql), verdict).stage == Stage.nurture
    assert judged(score(50, Stage.nurture), verdict).stage == Stage.nurture
    assert judged(score(70, Stage.mql), verdict).stage == Stage.mql  # new engagement since


def test_qualified_leaves_the_decision_to_the_rules() -> None:
    assert judged(score(30, Stage.nurture), verdict_of("qualified", "sdr-li", None, NOW)).stage == Stage.nurture
    assert judged(score(30, Stage.nurture), None).stage == Stage.nurture


def _event(topic: Any, data: Any) -> CloudEvent[Any]:
    return CloudEvent[type(data)](source="/tests", type=topic.event_type, subject=str(data.lead_id), data=data)


def _verdict(lead_id: uuid.UUID, disposition: str, **kw: Any) -> CloudEvent[Any]:
    return _event(LEADS_DISPOSITIONED, LeadDispositioned(
        lead_id=lead_id, by="sdr-li", disposition=disposition, dispositioned_at=datetime.now(UTC), **kw))


async def test_verdicts_through_the_consumer(leadflow_env: dict[str, str], migrated: dict[str, Service]) -> None:
    handlers = ScoringHandlers(lambda: Scorer(rules=load_rules_yaml(default_rules_text()), model=None),
                               TableRegistry())
    database = Database(leadflow_env["LEADFLOW_PG_DSN"], scoring_db.metadata, "/tests/verdicts")
    qualified, invalid, nurtured = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()

    async def run(handler: Any, events: list[CloudEvent[Any]]) -> None:
        async with database.uow() as uow:
            await handler(events, uow)
            await uow.commit()

    try:
        await run(handlers.on_received, [_event(LEADS_RECEIVED, LeadReceived(
            lead_id=i, submission_id=uuid.uuid4(), outcome="created",
            lead=LeadSnapshot(name="张三", industry="制造业", source="website"))) for i in (qualified, invalid, nurtured)])
        before = await _published(leadflow_env, qualified)
        assert [e["stage"] for e in before] == ["nurture"]

        await run(handlers.on_dispositioned, [
            _verdict(qualified, "qualified", bant={"budget": "50万", "authority": "决策人"}),
            _verdict(invalid, "invalid", reason="wrong_number"),
            _verdict(nurtured, "nurture", reason="not_now")])
        after = (await _published(leadflow_env, qualified))[-1]
        assert after["stage"] == "mql"  # two positive BANT answers: MQL by the rule set's own rule
        assert after["lead"]["bant"] == {"budget": "50万", "authority": "决策人"}
        assert any(f["rule"] == "bant" for f in after["explanation"])
        LeadScored.model_validate(after)
        gone = (await _published(leadflow_env, invalid))[-1]
        assert (gone["stage"], gone["score"], gone["grade"]) == ("disqualified", 0.0, "D")
        # a nurture verdict on a nurtured lead moves nothing, and is published all the same
        assert [e["stage"] for e in await _published(leadflow_env, nurtured)] == ["nurture", "nurture"]

        # the verdict outlives the next activity: an invalid lead stays disqualified
        await run(handlers.on_activity, [_event(LEADS_ACTIVITY, LeadActivity(
            activity_id=uuid.uuid4(), lead_id=invalid, type="demo_request",
            occurred_at=datetime.now(UTC) - timedelta(minutes=1)))])
        async with database.uow() as uow:
            rows = await scoring_db.LeadRepository(uow.session).for_update([invalid])
        assert rows[invalid]["stage"] == "disqualified"
        assert rows[invalid]["disposition"]["disposition"] == "invalid"
    finally:
        await database.dispose()


async def _published(env: dict[str, str], lead_id: uuid.UUID) -> list[dict[str, Any]]:
    conn = await asyncpg.connect(env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    try:
        rows = await conn.fetch("SELECT payload FROM scoring.outbox WHERE key = $1 AND topic = 'leads.scored.v1' "
                                "ORDER BY id", str(lead_id))
    finally:
        await conn.close()
    return [json.loads(r["payload"])["data"] for r in rows]
