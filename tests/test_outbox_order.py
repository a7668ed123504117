"""The relay keeps the commit order of one lead's events (same key, same partition, in order)."""

from __future__ import annotations

import json
import uuid

from leadflow_intake.app import service as intake
from leadflow_localstack.testing import eventually, in_process, read_topic
from leadflow_shared.contracts import LEADS_RECEIVED, LeadReceived, LeadSnapshot


async def test_one_leads_events_arrive_in_commit_order(settings_env: dict[str, str]) -> None:
    bootstrap, prefix = settings_env["LEADFLOW_KAFKA_BOOTSTRAP"], settings_env["LEADFLOW_KAFKA_TOPIC_PREFIX"]
    lead_id = uuid.uuid4()
    submissions = [uuid.uuid4() for _ in range(40)]
    async with in_process(intake) as runtime:
        for submission_id in submissions:  # one transaction each, as 40 partner posts would be
            async with runtime.db.uow() as uow:
                await uow.publish(LEADS_RECEIVED, lead_id, LeadReceived(
                    lead_id=lead_id, submission_id=submission_id, outcome="merged",
                    lead=LeadSnapshot(email="order@example.cn")))
                await uow.commit()

        async def ours() -> list[object]:
            records = await read_topic(bootstrap, f"{prefix}{LEADS_RECEIVED.name}", until=10**6, timeout_s=2)
            mine = [r for r in records if r.key == str(lead_id).encode()]  # type: ignore[attr-defined]
            return mine if len(mine) >= len(submissions) else []

        records = await eventually(ours, timeout_s=30)
    assert len({r.partition for r in records}) == 1  # type: ignore[attr-defined]
    seen = [uuid.UUID(json.loads(r.value)["data"]["submission_id"]) for r in records]  # type: ignore[attr-defined]
    assert seen == submissions
