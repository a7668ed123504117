"""What scoring does with each event, a batch at a time in one transaction.

A received lead is enriched from the registry, joined by the activities that arrived before it, scored
and published. An activity finds its lead (by id or contact), moves its behaviour state and re-scores it;
one whose lead has not arrived yet waits in the activities table. A lead is published only when its
score (to the point), grade or stage changes.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from leadflow_scoring.db import ActivityRepository, LeadRepository
from leadflow_scoring.domain.enrichment import Candidates, enrich
from leadflow_scoring.domain.model import Score, Stage
from leadflow_scoring.domain.rules import RuleSet
from leadflow_scoring.domain.scorer import Scorer, probabilities_of
from leadflow_scoring.domain.scoring import apply_activity, build_state, evaluate_state, fit
from leadflow_scoring.domain.verdicts import QUALIFIED, judged, verdict_of, with_bant
from leadflow_scoring.registry import CompanyRegistry
from leadflow_shared.consumers import split_lanes
from leadflow_shared.contacts import contact_keys
from leadflow_shared.contracts import (
    LEADS_SCORED,
    LeadActivity,
    LeadDispositioned,
    LeadReceived,
    LeadSnapshot,
    OpportunityClosed,
)
from leadflow_shared.db import Database, UnitOfWork, lock_keys
from leadflow_shared.events import CloudEvent
from leadflow_shared.normalize import company_name


@dataclass
class _Batch:
    """Lead rows loaded or created by this batch, and what it will write."""

    rows: dict[uuid.UUID, dict[str, Any]]
    predicted: dict[uuid.UUID, float | None] = field(default_factory=dict)  # probabilities already worked out
    before: dict[uuid.UUID, tuple[int, str, str] | None] = field(default_factory=dict)
    touched: list[uuid.UUID] = field(default_factory=list)
    applied: list[tuple[uuid.UUID, uuid.UUID]] = field(default_factory=list)
    changed: set[uuid.UUID] = field(default_factory=set)  # leads whose fields (not just score) this batch wrote

    def touch(self, lead_id: uuid.UUID) -> dict[str, Any]:
        if lead_id not in self.before:
            row = self.rows.get(lead_id)
            self.before[lead_id] = _published_view(row) if row and row.get("score") is not None else None
            self.touched.append(lead_id)
        return self.rows[lead_id]


class _Waiting:
    """Activities that came before their lead, found by the lead's id or one of its contacts."""

    def __init__(self, activities: list[dict[str, Any]]) -> None:
        self._by_lead: dict[uuid.UUID, list[dict[str, Any]]] = {}
        self._by_key: dict[str, list[dict[str, Any]]] = {}
        self._taken: set[uuid.UUID] = set()
        for activity in activities:  # oldest first
            if activity["lead_id"] is not None:
                self._by_lead.setdefault(activity["lead_id"], []).append(activity)
            else:
                for key in activity["contact_keys"]:
                    self._by_key.setdefault(key, []).append(activity)

    def take(self, lead_id: uuid.UUID, owned_keys: list[str]) -> list[dict[str, Any]]:
        """The lead's waiting activities (by its id, or by a contact it owns), each handed out once."""
        found = [*self._by_lead.get(lead_id, ()), *(a for k in owned_keys for a in self._by_key.get(k, ()))]
        mine = []
        for activity in sorted(found, key=lambda a: a["occurred_at"]):
            if activity["activity_id"] not in self._taken:
                self._taken.add(activity["activity_id"])
                mine.append(activity)
        return mine


class ScoringHandlers:
    def __init__(self, scorer: Callable[[], Scorer], registry: CompanyRegistry,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._scorer = scorer
        self._registry = registry
        self._clock = clock

    # ---- leads.received.v1 ------------------------------------------------------------------

    async def on_received(self, events: list[CloudEvent[LeadReceived]], uow: UnitOfWork) -> None:
        received = [e.data for e in events]
        scorer = self._scorer()
        leads, acts = LeadRepository(uow.session), ActivityRepository(uow.session)
        keys = {r.lead_id: _snapshot_keys(r.lead) for r in received}
        # What a lead's own event decides (its enriched snapshot, probability and fit) is worked out before
        # its locks are taken: activities of the same leads wait only for the work that needs stored rows.
        snapshots = await self._snapshots(uow, received)
        predicted = dict(zip(snapshots, scorer.probabilities([{"lead": lead} for lead, _ in snapshots.values()]),
                             strict=True))
        for lead, _ in snapshots.values():
            fit(lead, scorer.rules)  # remembered by the rule set for the same fields
        # An activity of the same lead or person, applied concurrently, would miss the lead (and this
        # transaction would miss the activity): they take the same locks, so one waits for the other.
        await lock_keys(uow.session, [f"lead:{i}" for i in keys] + [f"contact:{k}" for ks in keys.values() for k in ks])
        batch = _Batch(await leads.for_update(keys), predicted=predicted)
        await self._rebuild_stale(uow, batch, scorer.rules)
        owners = await leads.owners_of([k for ks in keys.values() for k in ks])
        new_contacts = []
        for r in received:
            for key in keys[r.lead_id]:
                if key not in owners:
                    owners[key] = r.lead_id
                    new_contacts.append((key, r.lead_id))
        waiting = _Waiting(await acts.pending_for([r.lead_id for r in received],
                                                  [k for ks in keys.values() for k in ks]))
        for r in received:
            row = batch.rows.setdefault(r.lead_id, _new_row(r.lead_id, scorer.rules))
            batch.touch(r.lead_id)
            batch.changed.add(r.lead_id)
            row["lead"], row["enrichment"] = snapshots[r.lead_id]
            row["company_id"] = r.company_id or row.get("company_id")
            row["customer_id"] = r.customer_id or row.get("customer_id")
            for activity in waiting.take(r.lead_id, [k for k in keys[r.lead_id] if owners.get(k) == r.lead_id]):
                _apply(batch, row, activity, scorer.rules)
        await leads.add_contacts(new_contacts)
        await self._score_and_save(uow, batch, scorer)

    async def _snapshots(self, uow: UnitOfWork, received: list[LeadReceived]
                         ) -> dict[uuid.UUID, tuple[dict[str, Any], dict[str, Any] | None]]:
        """Each lead's snapshot with its blanks filled from the registry, and the record of the match (a
        lead received twice in the batch: its later event)."""
        matches = await self._registry_matches(uow, received)
        return {r.lead_id: enrich(r.lead.model_dump(mode="json", exclude_none=True), matches.get(r.lead_id))
                for r in received}

    async def _registry_matches(self, uow: UnitOfWork, received: list[LeadReceived]) -> dict[uuid.UUID, Any]:
        names = {r.lead_id: company_name(r.lead.company_name).canonical for r in received if r.lead.company_name}
        codes = [r.lead.company_credit_code for r in received if r.lead.company_credit_code]
        if not names and not codes:
            return {}
        candidates = Candidates.of(await self._registry.find(uow.session, codes, list(names.values())))
        return {r.lead_id: m for r in received
                if (m := candidates.match(r.lead.company_credit_code, names.get(r.lead_id)))}

    # ---- lanes: a poll split into groups that lock different leads ----------------------------

    async def activity_lanes(self, db: Database, events: list[CloudEvent[LeadActivity]], lanes: int
                             ) -> list[list[CloudEvent[LeadActivity]]]:
        """A poll's activities grouped by the lead they will lock, so that the groups' transactions run side
        by side: an activity named by contact goes with its owner's (read without locks; should the owner
        change meanwhile, the transactions' own locks make one wait for the other)."""
        keys = {e.data.activity_id: contact_keys(e.data.mobile, e.data.wechat, e.data.email)
                for e in events if e.data.lead_id is None}
        owners: dict[str, uuid.UUID] = {}
        if any(keys.values()):
            async with db.uow() as uow:
                owners = await LeadRepository(uow.session).owners_of([k for ks in keys.values() for k in ks])

        def locked(event: CloudEvent[LeadActivity]) -> str:
            data = event.data
            if data.lead_id is not None:
                return str(data.lead_id)
            mine = keys[data.activity_id]
            owner = next((owners[k] for k in mine if k in owners), None)
            return str(owner) if owner else (mine[0] if mine else str(data.activity_id))

        return split_lanes(events, locked, lanes)

    # ---- leads.activity.v1 ------------------------------------------------------------------

    async def on_activity(self, events: list[CloudEvent[LeadActivity]], uow: UnitOfWork) -> None:
        scorer = self._scorer()
        leads, acts = LeadRepository(uow.session), ActivityRepository(uow.session)
        # The same activity twice in one batch (a client's retry) must count once, like across batches.
        rows = list({r["activity_id"]: r for r in map(_activity_row, (e.data for e in events))}.values())
        await lock_keys(uow.session, [f"lead:{r['lead_id']}" for r in rows if r["lead_id"]]
                        + [f"contact:{k}" for r in rows for k in r["contact_keys"]])
        known = await leads.known([r["lead_id"] for r in rows if r["lead_id"]])
        owners = await leads.owners_of([k for r in rows for k in r["contact_keys"]])
        targets = {r["activity_id"]: _target(r, known, owners) for r in rows}
        batch = _Batch(await leads.for_update(t for t in targets.values() if t))
        await self._rebuild_stale(uow, batch, scorer.rules)  # from the history before this batch's activities
        # Stored already applied to the lead they found; the rest wait for their lead (on_received picks
        # them up). The same activity twice (two events) is stored, and counts, once.
        for row in rows:
            row["target"] = target if (target := targets[row["activity_id"]]) in batch.rows else None
        fresh = await acts.add_new(rows, applied_at=self._clock())
        for row in rows:
            if row["activity_id"] in fresh and row["target"]:
                _apply(batch, batch.touch(row["target"]), row, scorer.rules, stored_applied=True)
        await self._score_and_save(uow, batch, scorer)

    # ---- opportunities.closed.v1 ------------------------------------------------------------

    async def on_opportunity_closed(self, events: list[CloudEvent[OpportunityClosed]], uow: UnitOfWork) -> None:
        """The outcome of a lead: the label the predictive model learns from (`train --from-outcomes`)."""
        latest: dict[uuid.UUID, tuple[uuid.UUID, str, datetime]] = {}
        for e in sorted(events, key=lambda e: e.data.closed_at):
            if e.data.lead_id and e.data.outcome in ("won", "lost"):
                latest[e.data.lead_id] = (e.data.lead_id, e.data.outcome, e.data.closed_at)
        await LeadRepository(uow.session).set_outcomes(list(latest.values()))

    # ---- leads.dispositioned.v1 ----------------------------------------------------------

    async def on_dispositioned(self, events: list[CloudEvent[LeadDispositioned]], uow: UnitOfWork) -> None:
        """An SDR's verdict (线索清洗): a qualified lead gets his BANT answers among its facts and is scored again
        by the usual rules; nurture and invalid are verdicts the score keeps (domain/verdicts.py). The lead is
        published whatever moved, so that assignment hears the stage the verdict leaves it at."""
        latest: dict[uuid.UUID, LeadDispositioned] = {}
        for event in sorted(events, key=lambda e: e.data.dispositioned_at):
            latest[event.data.lead_id] = event.data
        scorer = self._scorer()
        await lock_keys(uow.session, [f"lead:{i}" for i in latest])
        batch = _Batch(await LeadRepository(uow.session).for_update(latest))
        await self._rebuild_stale(uow, batch, scorer.rules)
        for lead_id, verdict in latest.items():
            if lead_id not in batch.rows:
                continue  # a lead scoring never saw: nothing of its own to judge
            row = batch.touch(lead_id)
            batch.before[lead_id] = None  # published whatever moved
            batch.changed.add(lead_id)
            if verdict.disposition == QUALIFIED:
                row["lead"] = with_bant(row["lead"], verdict.bant)
            row["disposition"] = verdict_of(verdict.disposition, verdict.by, verdict.reason,
                                            verdict.dispositioned_at.isoformat())
        await self._score_and_save(uow, batch, scorer)

    # ---- re-scoring: decay and new rules ----------------------------------------------------

    async def rescore(self, uow: UnitOfWork, lead_ids: Iterable[uuid.UUID], scorer: Scorer | None = None) -> int:
        """Score these leads again now (decay has moved their behaviour points, or the rules changed);
        returns how many were published."""
        scorer = scorer or self._scorer()
        batch = _Batch(await LeadRepository(uow.session).for_update(lead_ids))
        await self._rebuild_stale(uow, batch, scorer.rules)
        for lead_id in list(batch.rows):
            batch.touch(lead_id)
        return await self._score_and_save(uow, batch, scorer)

    # ---- shared steps -----------------------------------------------------------------------

    async def _rebuild_stale(self, uow: UnitOfWork, batch: _Batch, rules: RuleSet) -> None:
        """A behaviour state built under other rules is rebuilt from the lead's activity history."""
        stale = [i for i, row in batch.rows.items()
                 if (row.get("behaviour") or {}).get("rules_version") not in (None, rules.version)]
        if not stale:
            return
        history = await LeadRepository(uow.session).histories(stale)
        for lead_id in stale:
            batch.rows[lead_id]["behaviour"] = build_state(history.get(lead_id, []), rules)

    async def _score_and_save(self, uow: UnitOfWork, batch: _Batch, scorer: Scorer) -> int:
        now = self._clock()
        rows = [batch.rows[i] for i in batch.touched]
        probabilities = probabilities_of(rows, scorer, changed=batch.changed, predicted=batch.predicted)
        events = []
        for row, probability in zip(rows, probabilities, strict=True):
            score = _sticky_mql(evaluate_state(row["lead"], row["behaviour"], scorer.rules, now, probability),
                                row.get("stage"))
            if row.get("disposition") and row["disposition"].get("points") is None:
                row["disposition"] = {**row["disposition"], "points": score.points}  # the score it was judged at
            score = judged(score, row.get("disposition"))
            row.update(score=score.points, grade=score.grade, stage=str(score.stage), probability=probability,
                       explanation=score.explanation(), rules_version=score.rules_version,
                       model_version=scorer.model_version if probability is not None else None, scored_at=now)
            if batch.before[row["lead_id"]] != _published_view(row):
                events.append((row["lead_id"], scored_data(row, score)))
        await LeadRepository(uow.session).save(rows, changed=batch.changed)
        await ActivityRepository(uow.session).mark_applied(batch.applied, now)
        await uow.publish_documents(LEADS_SCORED, events)
        return len(events)


def _sticky_mql(score: Score, previous_stage: str | None) -> Score:
    """A qualified lead stays qualified when its points decay: sales already has it. Only a disqualifier
    takes it back."""
    if previous_stage == Stage.mql and score.stage == Stage.nurture:
        return replace(score, stage=Stage.mql)
    return score


def _published_view(row: dict[str, Any]) -> tuple[int, str, str]:
    """What a change must move for the lead to be published again: score to the point, grade, stage."""
    return round(row["score"]), row["grade"], row["stage"]


def scored_data(row: dict[str, Any], score: Score) -> dict[str, Any]:
    """A `leads.scored.v1` event's data (the LeadScored contract), as the JSON-ready dict it is written from
    (tests parse it with the contract: test_scored_events_keep_their_contract)."""
    return {"lead_id": row["lead_id"], "score": score.points, "grade": score.grade, "stage": row["stage"],
            "probability": row["probability"], "explanation": row["explanation"],
            "rules_version": score.rules_version, "model_version": row["model_version"],
            "company_id": row["company_id"], "customer_id": row["customer_id"], "lead": row["lead"],
            "verdict_at": (row.get("disposition") or {}).get("at")}


def _new_row(lead_id: uuid.UUID, rules: RuleSet) -> dict[str, Any]:
    return {"lead_id": lead_id, "lead": {}, "enrichment": None, "company_id": None, "customer_id": None,
            "behaviour": build_state([], rules), "activity_counts": {}, "last_activity_at": None, "score": None,
            "grade": None, "stage": None, "probability": None, "explanation": [], "rules_version": rules.version,
            "model_version": None, "scored_at": None, "disposition": None}


def _apply(batch: _Batch, row: dict[str, Any], activity: dict[str, Any], rules: RuleSet, *,
           stored_applied: bool = False) -> None:
    """Count an activity in its lead's behaviour; a waiting one (not `stored_applied`) is marked applied
    with the batch's writes."""
    row["behaviour"] = apply_activity(row["behaviour"], activity, rules)
    counts = Counter(row.get("activity_counts") or {})
    counts[activity["type"]] += 1
    row["activity_counts"] = dict(counts)
    last = row.get("last_activity_at")
    row["last_activity_at"] = max(last, activity["occurred_at"]) if last else activity["occurred_at"]
    if not stored_applied:
        batch.applied.append((activity["activity_id"], row["lead_id"]))


def _snapshot_keys(lead: LeadSnapshot) -> tuple[str, ...]:
    """intake has already put the lead's contacts in their normal forms: no need to parse them again."""
    return contact_keys(lead.mobile, lead.wechat, lead.email, normalized=True)


def _activity_row(activity: LeadActivity) -> dict[str, Any]:
    # An activity dated in the future (a client's clock) counts as happening now: decay is measured up to
    # the newest activity, so a date in 2099 would freeze or wipe the lead's behaviour points.
    occurred_at = min(activity.occurred_at, datetime.now(UTC))
    return {"activity_id": activity.activity_id, "lead_id": activity.lead_id,
            "contact_keys": contact_keys(activity.mobile, activity.wechat, activity.email),
            "type": activity.type, "url": activity.url, "occurred_at": occurred_at,
            "attributes": activity.attributes}


def _target(row: dict[str, Any], known: set[uuid.UUID], owners: dict[str, uuid.UUID]) -> uuid.UUID | None:
    """The lead an activity belongs to: the lead it names (None until scoring knows that lead: it waits
    for it), else whoever owns one of its contacts."""
    if row["lead_id"] is not None:
        return row["lead_id"] if row["lead_id"] in known else None  # type: ignore[no-any-return]
    return next((owners[k] for k in row["contact_keys"] if k in owners), None)
