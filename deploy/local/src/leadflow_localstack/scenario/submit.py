"""What the partners and the website tracker send: buying signals of hot people before anyone posts them, the
leads through the partner batch API with each partner's key (first postings, then the re-posts), and later
the behaviour that warms nurtured leads up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from leadflow_localstack.scenario.api import Platform
from leadflow_localstack.scenario.leads import Plan, Submission, early_activities, warming_activities
from leadflow_localstack.scenario.setup import Keys
from leadflow_localstack.scenario.tally import Tally

BATCH = 500  # leads a POST /v1/leads/batch carries (intake takes up to 1,000)
ACTIVITIES = 1000  # activities a POST /v1/activities carries
T = TypeVar("T")


def chunks(items: Sequence[T], size: int) -> list[Sequence[T]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


async def post_early_activities(api: Platform, keys: Keys, plan: Plan, tally: Tally) -> None:
    """Scoring keeps them until their lead arrives and counts them in its first score: hot leads are routed
    as the A and B leads they are."""
    for chunk in chunks(early_activities(plan, datetime.now(UTC)), ACTIVITIES):
        tally.activities += await api.record_activities(keys.tracker, list(chunk))


async def post_leads(api: Platform, keys: Keys, plan: Plan, tally: Tally,
                     advance: Callable[[int], None]) -> dict[int, str]:
    """Every submission, each sender's in batches, the senders side by side; first postings before re-posts,
    as time would have it. Returns each person's lead id."""
    lead_ids: dict[int, str] = {}
    for wave in (False, True):
        by_sender = {sender: [s for s in subs if (s.duplicate is not None) == wave]
                     for sender, subs in plan.by_sender().items()}
        await asyncio.gather(*(_post_sender(api, keys.of(sender), subs, tally, lead_ids, advance)
                               for sender, subs in by_sender.items()))
    return lead_ids


async def _post_sender(api: Platform, key: str, submissions: list[Submission], tally: Tally,
                       lead_ids: dict[int, str], advance: Callable[[int], None]) -> None:
    for chunk in chunks(submissions, BATCH):
        results = await api.submit_batch(key, [s.lead for s in chunk])
        for submission, result in zip(chunk, results):
            _note(submission, result, tally, lead_ids)
        advance(len(chunk))


def _note(submission: Submission, result: dict[str, Any], tally: Tally, lead_ids: dict[int, str]) -> None:
    outcome = result.get("outcome") or result["status"]  # rejected leads have no outcome
    tally.outcomes[outcome] += 1
    if outcome == "merged" and submission.duplicate:
        tally.merged_variants[submission.duplicate] += 1
    if result.get("lead_id"):
        lead_ids.setdefault(submission.person, str(result["lead_id"]))


async def warm_up(api: Platform, keys: Keys, plan: Plan, lead_ids: dict[int, str], tally: Tally) -> list[str]:
    """The people who start showing interest now (a demo request, a trial, the pricing page): their leads."""
    now = datetime.now(UTC)
    warming = [p for p in plan.persons if p.warms and p.index in lead_ids]
    items = [a for p in warming for a in warming_activities(p, lead_ids[p.index], plan.seed, now)]
    for chunk in chunks(items, ACTIVITIES):
        tally.activities += await api.record_activities(keys.tracker, list(chunk))
    tally.warming_posted = len(warming)
    return [lead_ids[p.index] for p in warming]


async def count_warmed(api: Platform, token: str, pending: list[str], tally: Tally, sample: int = 20) -> None:
    """Score a few of the warming leads each time: those now MQL leave `pending`, the others go to its end."""
    for lead_id in list(pending[:sample]):
        score = await api.score(lead_id, token)
        pending.remove(lead_id)
        if score and score.get("stage") == "mql":
            tally.warmed += 1
        else:
            pending.append(lead_id)
