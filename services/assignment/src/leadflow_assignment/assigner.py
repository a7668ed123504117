"""Routing in transactions: a batch of scored (or recycled) leads decided under the current organisation
and rules, with the reps' loads locked in Postgres so that caps hold across processes, every decision
recorded with its explanation, and its event staged in the same transaction (outbox).

Also the ownership changes decided elsewhere (claims, releases, transfers, conversions), which keep the
reps' open leads true, and the managers' tools (assign from the queue, hand over a territory, distribute).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from leadflow_assignment.db import AssignmentRepository, CatalogueRepository, org_versions, rule_sets
from leadflow_assignment.domain.org import DocumentError, Organisation, Problem, parse_organisation, place
from leadflow_assignment.domain.routing import ConversionRates, Decision, LeadFacts, Load, Router, settle_loads
from leadflow_assignment.domain.rules import DEFAULT_RULES, RuleSet, parse_rules
from leadflow_assignment.domain.simulation import Replayed, compare
from leadflow_assignment.settings import AssignmentSettings
from prometheus_client import Counter, Histogram

from leadflow_shared.contracts import (
    LEADS_ASSIGNED,
    LEADS_POOLED,
    LEADS_QUEUED,
    LeadDispositioned,
    LeadScored,
    Topic,
)
from leadflow_shared.db import UnitOfWork, driver_connection, insert_rows, json_text

# One lead's decision, in memory (its share of the transaction is leadflow_event_handler_seconds).
DECISION_SECONDS = Histogram("leadflow_assignment_decision_seconds", "Time to decide one lead (rules, strategy, "
                             "explanation), its transaction aside.",
                             buckets=(0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05))

ROUTED_AGAIN = Counter("leadflow_assignment_routed_again_total", "Routing batches decided again on locked loads: "
                       "a rep given a lead had filled up meanwhile (another replica's commit).")

HANDOFF = "handoff"  # a qualified lead's route from its SDR to sales


class AssignmentRefused(Exception):
    """A manager's request that cannot be carried out: `status` 404, 409 or 422, with the reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class Catalogue:
    """The organisation and rule set in force, read again when a newer version is stored (checked at the start
    of every transaction that routes, so every process decides under the same versions)."""

    org: Organisation = field(default_factory=Organisation)
    rules: RuleSet = DEFAULT_RULES.model_copy(update={"version": "default"})
    org_version: int | None = None
    rules_version: int | None = None

    async def refresh(self, session: Any, decision_ids: int = 0) -> list[int]:
        """Read newer versions, if any; returns `decision_ids` new decision ids (drawn in the same round trip)."""
        repo, catalogue = AssignmentRepository(session), CatalogueRepository(session)
        org_version, rules_version, ids = await repo.versions(decision_ids)
        if org_version != self.org_version:
            stored = await catalogue.current(org_versions)
            self.org = parse_organisation(stored[1]) if stored else Organisation()
            self.org_version = org_version
            await repo.ensure_loads([r.id for r in self.org.reps])
        if rules_version != self.rules_version:
            stored = await catalogue.current(rule_sets)
            if stored:
                self.rules = parse_rules(stored[1]).model_copy(update={"version": str(stored[0])})
            self.rules_version = rules_version
        return ids


class Rates:
    """Measured conversion, read again every `refresh_s` (it moves slowly; a decision needs no fresher)."""

    def __init__(self, prior_weight: float, refresh_s: float) -> None:
        self._prior_weight = prior_weight
        self._refresh_s = refresh_s
        self._read_at = -1e9
        self.current = ConversionRates({}, {})

    async def get(self, session: Any, org: Organisation) -> ConversionRates:
        if time.monotonic() - self._read_at > self._refresh_s:
            counts = await AssignmentRepository(session).conversion_counts()
            self.current = ConversionRates(counts, {r.id: r.team for r in org.reps}, prior_weight=self._prior_weight)
            self._read_at = time.monotonic()
        return self.current


@dataclass
class _Batch:
    """What a routing transaction writes, gathered and written together."""

    leads: dict[uuid.UUID, dict[str, Any]] = field(default_factory=dict)
    decisions: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[Topic, uuid.UUID, dict[str, Any]]] = field(default_factory=list)
    counts: dict[tuple[str, str], list[int]] = field(default_factory=lambda: defaultdict(lambda: [0, 0]))


class Assigner:
    def __init__(self, settings: AssignmentSettings) -> None:
        self.settings = settings
        self.catalogue = Catalogue()
        self.rates = Rates(settings.conversion_prior_weight, settings.conversion_refresh_s)
        self._zone = ZoneInfo(settings.business_timezone)
        self._route_stages = frozenset(settings.route_stages)

    def today(self) -> date:
        return datetime.now(self._zone).date()

    # ---- scored leads --------------------------------------------------------------------------------

    async def on_scored(self, scored_events: Sequence[LeadScored], uow: UnitOfWork) -> None:
        """Keep each lead's facts; route those scoring has just qualified (their first score at a routing stage).
        A lead routed before stays where it is, whatever a re-score says."""
        latest: dict[uuid.UUID, LeadScored] = {}
        for scored in scored_events:
            latest[scored.lead_id] = scored  # the last word of the batch on each lead
        repo = AssignmentRepository(uow.session)
        rows = await repo.leads_for_update(latest)
        batch, to_route, released = _Batch(), [], defaultdict(int)
        for lead_id, scored in latest.items():
            row = _scored_row(rows.get(lead_id), scored)
            batch.leads[lead_id] = row
            if scored.stage not in self._route_stages:
                continue
            if row["handoff_due"]:
                to_route.append((row, HANDOFF))
                _leave_sdr(row, released)
            elif row["status"] == "waiting":
                to_route.append((row, "route"))
        await self._route_and_write(uow, batch, to_route, released)

    # ---- an SDR's verdict (线索清洗) ---------------------------------------------------------------------

    async def on_dispositioned(self, dispositions: Sequence[LeadDispositioned], uow: UnitOfWork) -> None:
        """A lead the SDR qualified is handed to sales when scoring next says it qualifies (whatever its first
        route was), never back to him; one he sent to nurture or found invalid leaves him, and waits to be
        routed again should scoring qualify it some day."""
        latest = {d.lead_id: d for d in sorted(dispositions, key=lambda d: d.dispositioned_at)}
        repo = AssignmentRepository(uow.session)
        rows = await repo.leads_for_update(latest)
        batch, to_route, released = _Batch(), [], defaultdict(int)
        for lead_id, verdict in latest.items():
            row = _from_db(rows[lead_id]) if lead_id in rows else _new_row(lead_id)
            if row["status"] == "converted":
                continue
            batch.leads[lead_id] = row
            if verdict.disposition != "qualified":
                _leave_sdr(row, released)
                row.update(status="waiting", owner_id=None, pool_id=None, queue=None, handoff_due=False)
                continue
            row.update(qualified_by=verdict.by, handoff_due=True)
            if row["stage"] in self._route_stages and _scored_since(row, verdict.dispositioned_at):
                # the two topics race: scoring's answer to this verdict came first, and no other will come
                to_route.append((row, HANDOFF))
                _leave_sdr(row, released)
        await self._route_and_write(uow, batch, to_route, released)

    async def on_received(self, received: Sequence[Any], uow: UnitOfWork) -> None:
        """Keep what intake knows of a lead and scoring does not pass on: its partner and account owner."""
        await AssignmentRepository(uow.session).save_received([{
            "lead_id": r.lead_id, "partner_id": r.partner_id, "account_owner_id": r.account_owner_id,
            "company_id": r.company_id, "customer_id": r.customer_id, "channel": str(r.lead.source),
        } for r in received])

    # ---- second assignment (二次分配) -------------------------------------------------------------------

    async def on_recycled(self, recycled: Sequence[Any], uow: UnitOfWork) -> None:
        """A recycled lead leaves its owner (his open leads go down) and is decided again, without the reps
        who held it (per rule), or stays in the pool it went to."""
        repo = AssignmentRepository(uow.session)
        rows = await repo.leads_for_update(r.lead_id for r in recycled)
        batch, again, released = _Batch(), [], defaultdict(int)
        for event in recycled:
            row = rows.get(event.lead_id) or _new_row(event.lead_id)
            owner = event.previous_owner_id or row["owner_id"]
            if row["status"] == "assigned" and row["owner_id"]:
                released[row["owner_id"]] -= 1
            if owner and (not row["previous_owners"] or row["previous_owners"][-1] != owner):
                row["previous_owners"] = [*row["previous_owners"], owner]
            row.update(status="pooled", owner_id=None, pool_id=event.pool_id, queue=None)
            batch.leads[event.lead_id] = row
            rows[event.lead_id] = row
            if self.settings.reassign_recycled and row["stage"] != "disqualified":
                again.append((row, "reassign"))
        await self._route_and_write(uow, batch, again, released)

    # ---- deciding -----------------------------------------------------------------------------------

    async def _route_and_write(self, uow: UnitOfWork, batch: _Batch, items: list[tuple[dict[str, Any], str]],
                               released: dict[str, int]) -> None:
        """Decide `items` and write the batch. Decisions are made on loads read without a lock; only the reps
        given leads are locked, last, so replicas route side by side. Should a rep given a lead have filled up
        meanwhile (another replica committed), the batch is decided again on locked loads."""
        if not items:
            await AssignmentRepository(uow.session).add_open(released)
            await self._write(uow, batch)
            return
        before = {id(row): dict(row) for row, _ in items}
        conn = await driver_connection(uow.session)
        await conn.execute("SAVEPOINT route")
        if await self._route(uow, batch, items, released, lock=False):
            return
        ROUTED_AGAIN.inc()
        await conn.execute("ROLLBACK TO SAVEPOINT route")
        for row, _ in items:
            row.clear()
            row.update(before[id(row)])
        batch.decisions.clear()
        batch.events.clear()
        batch.counts.clear()
        await self._route(uow, batch, items, released, lock=True)

    async def _route(self, uow: UnitOfWork, batch: _Batch, items: list[tuple[dict[str, Any], str]],
                     released: dict[str, int], *, lock: bool) -> bool:
        """Decide and write; with `lock`, every rep's load is locked first. False (nothing settled) when a
        decision made without the lock would put a rep over a cap now."""
        session = uow.session
        repo = AssignmentRepository(session)
        ids = await self.catalogue.refresh(session, decision_ids=len(items))
        org, today = self.catalogue.org, self.today()
        await self._resolve_owners(repo, [row for row, _ in items])
        rep_ids = sorted({r.id for r in org.reps} | set(released))
        loads = await repo.loads(rep_ids, today, lock=lock)
        read = {rep_id: replace(load) for rep_id, load in loads.items()}
        for rep_id, delta in released.items():
            loads.add_open(rep_id, delta)
        router = Router(org, self.catalogue.rules, default_pool=self.settings.default_pool,
                        rates=await self.rates.get(session, org), pointers=await repo.pointers(lock=lock))
        observe = DECISION_SECONDS.observe
        for (row, kind), decision_id in zip(items, ids):
            started = time.perf_counter()
            decision = router.decide(lead_facts(row, recycled=kind == "reassign"), loads)
            self._record(batch, row, decision, decision_id, kind)
            observe(time.perf_counter() - started)
        await self._write(uow, batch, counts=False)
        # The rows other replicas write too come last, each set in key order: held for the least time, no deadlock.
        if lock:
            settled: dict[str, Load] | None = {rep_id: loads.of(rep_id) for rep_id in loads.changed}
        else:
            fresh = await repo.loads_for_update(sorted(loads.changed), today)
            settled = settle_loads(org, read, loads, fresh)
            if settled is None:
                return False
        await repo.save_loads(settled, sorted(settled), today)
        await repo.add_counts({k: (v[0], v[1]) for k, v in batch.counts.items()})
        await repo.save_pointers(router.pointers, router.moved_pointers)
        return True

    async def _resolve_owners(self, repo: AssignmentRepository, rows: list[dict[str, Any]]) -> None:
        """A lead's account owner: the customer's owner, else intake's, else the rep working another of its
        company's leads (no 撞单)."""
        customers, companies = await repo.owners([r["customer_id"] for r in rows], [r["company_id"] for r in rows])
        for row in rows:
            row["resolved_owner"] = (customers.get(row["customer_id"]) or row["account_owner_id"]
                                     or companies.get(row["company_id"]))

    def _record(self, batch: _Batch, row: dict[str, Any], decision: Decision, decision_id: int, kind: str,
                decided_by: str | None = None) -> None:
        now = datetime.now(UTC)
        row.pop("resolved_owner", None)
        if decision.outcome == "assigned":
            row.update(status="assigned", owner_id=decision.owner_id, pool_id=None, queue=None)
            batch.counts[(decision.owner_id or "", row["channel"] or "other")][0] += 1
        elif decision.outcome == "pooled":
            row.update(status="pooled", owner_id=None, pool_id=decision.pool_id, queue=None)
        else:
            row.update(status="queued", owner_id=None, pool_id=None, queue=decision.queue)
        row.update(team_id=decision.team_id, routed_at=row["routed_at"] or now)
        batch.leads[row["lead_id"]] = row
        batch.decisions.append({
            "id": decision_id, "lead_id": row["lead_id"], "kind": kind, "outcome": decision.outcome,
            "owner_id": decision.owner_id, "team_id": decision.team_id, "pool_id": decision.pool_id,
            "queue": decision.queue, "rule": decision.rule, "rules_version": decision.rules_version,
            "strategy": decision.strategy, "reason": decision.reason, "grade": row["grade"],
            "channel": row["channel"], "previous_owners": list(row["previous_owners"]),
            "explanation": json_text(decision.explanation()), "decided_by": decided_by,
        })
        if kind == HANDOFF:
            row["handoff_due"] = False
        batch.events.append(_event(row["lead_id"], decision, decision_id, kind, list(row["previous_owners"]), now,
                                   qualified_by=row["qualified_by"] if kind == HANDOFF else None))

    async def _write(self, uow: UnitOfWork, batch: _Batch, *, counts: bool = True) -> None:
        repo = AssignmentRepository(uow.session)
        await repo.save_leads([_lead_record(row) for row in batch.leads.values()])
        await repo.add_decisions(batch.decisions)
        if counts:
            await repo.add_counts({k: (v[0], v[1]) for k, v in batch.counts.items()})
        if batch.events:
            await insert_rows(uow.session, [uow.document_rows(batch.events)])

    # ---- ownership decided elsewhere ----------------------------------------------------------------

    async def ownership_changed(self, uow: UnitOfWork, lead_id: uuid.UUID, *, owner: str | None,
                                pool_id: str | None = None, converted_by: str | None = None) -> None:
        """A lead's owner changed outside assignment (a claim, release or transfer; `converted_by` for a
        conversion): its row follows, and so do the open leads of the rep who lost it and the one who got it."""
        repo = AssignmentRepository(uow.session)
        row = (await repo.leads_for_update([lead_id])).get(lead_id) or _new_row(lead_id)
        if row["status"] == "converted":
            return  # a customer now: nothing moves it back
        deltas: dict[str, int] = defaultdict(int)
        had = row["owner_id"] if row["status"] == "assigned" else None
        batch = _Batch()
        if converted_by is not None:
            if had:
                deltas[had] -= 1
            rep = converted_by or had
            if rep:
                batch.counts[(rep, row["channel"] or "other")][1] += 1
            row.update(status="converted")
        elif owner != had:
            if had:
                deltas[had] -= 1
                row["previous_owners"] = [*row["previous_owners"], had]
            if owner:
                deltas[owner] += 1
                row.update(status="assigned", owner_id=owner, pool_id=None, queue=None)
            else:
                row.update(status="pooled", owner_id=None, pool_id=pool_id or row["pool_id"], queue=None)
        batch.leads[lead_id] = row
        await repo.add_open(deltas)
        await self._write(uow, batch)

    async def customer_owner(self, uow: UnitOfWork, customer_id: uuid.UUID, owner_id: str | None) -> None:
        await AssignmentRepository(uow.session).set_customer_owner(customer_id, owner_id)

    # ---- managers' tools ----------------------------------------------------------------------------

    async def assign(self, uow: UnitOfWork, lead_id: uuid.UUID, rep_id: str, by: str, reason: str | None,
                     manages: Any) -> dict[str, Any]:
        """A manager gives a lead (from his queue, a pool, or another rep) to a rep, within the rep's caps."""
        repo = AssignmentRepository(uow.session)
        await self.catalogue.refresh(uow.session)
        row = (await repo.leads_for_update([lead_id])).get(lead_id)
        if row is None:
            raise AssignmentRefused(404, f"assignment knows no lead {lead_id}")
        if row["status"] == "converted":
            raise AssignmentRefused(409, f"lead {lead_id} has converted: it belongs to its customer's owner")
        rep = self._rep(rep_id)
        manages(rep.team)
        if row["status"] == "assigned" and row["owner_id"] == rep.id:
            raise AssignmentRefused(409, f"lead {lead_id} is already {rep.id}'s")
        today = self.today()
        ids = sorted({rep.id} | ({row["owner_id"]} if row["status"] == "assigned" and row["owner_id"] else set()))
        loads = await repo.loads_for_update(ids, today)
        why = Router.why_not(rep, lead_facts(row), loads, frozenset(), skills=False)
        if why is not None:
            raise AssignmentRefused(409, f"{rep.id} cannot take it: {why}")
        if row["status"] == "assigned" and row["owner_id"]:
            loads.give_back(row["owner_id"])
            row["previous_owners"] = [*row["previous_owners"], row["owner_id"]]
        loads.take(rep.id)
        decision = Decision("assigned", "manual", reason or f"assigned by {by}", rules_version=self.catalogue.rules.version,
                            strategy="manual", owner_id=rep.id, team_id=rep.team,
                            previous_owner_ids=tuple(row["previous_owners"]))
        batch = _Batch()
        [decision_id] = await repo.decision_ids(1)
        self._record(batch, row, decision, decision_id, "manual", decided_by=by)
        await repo.save_loads(loads, ids, today)
        await self._write(uow, batch)
        return batch.decisions[0]

    async def reassign_territory(self, uow: UnitOfWork, territory_id: str, from_rep: str, to_rep: str, by: str,
                                 manages: Any) -> dict[str, Any]:
        """Every open lead of `from_rep` in the territory goes to `to_rep` in one operation (a cohort's leads
        stay with their cohort). Refused whole when `to_rep` cannot hold them all."""
        repo = AssignmentRepository(uow.session)
        await self.catalogue.refresh(uow.session)
        org = self.catalogue.org
        territory = org.territory(territory_id)
        if territory is None:
            raise AssignmentRefused(404, f"no territory {territory_id!r}")
        source, target = self._rep(from_rep), self._rep(to_rep)
        manages(source.team)
        manages(target.team)
        if target.status != "active":
            raise AssignmentRefused(409, f"{target.id} cannot take leads: {target.status}")
        conn = await driver_connection(uow.session)
        candidates = await conn.fetch(
            "SELECT * FROM assignment.leads WHERE owner_id = $1 AND status = 'assigned' ORDER BY lead_id FOR UPDATE",
            source.id)
        moving = [dict(r) for r in candidates if _in_territory(r, territory) and not (r["facts"] or {}).get("cohort")]
        today = self.today()
        ids = sorted({source.id, target.id})
        loads = await repo.loads_for_update(ids, today)
        room = None if target.max_open_leads is None else target.max_open_leads - loads.of(target.id).open
        if room is not None and len(moving) > room:
            raise AssignmentRefused(409, f"{target.id} has room for {max(room, 0)} more open leads; "
                                         f"the territory has {len(moving)}: nothing was moved")
        batch = _Batch()
        decision_ids = await repo.decision_ids(len(moving))
        for row, decision_id in zip(moving, decision_ids):
            row = _from_db(row)
            row["previous_owners"] = [*row["previous_owners"], source.id]
            loads.give_back(source.id)
            loads.add_open(target.id, 1)  # a handover: not new leads of the day
            decision = Decision("assigned", "territory", f"territory {territory_id} handed over from {source.id} by {by}",
                                rules_version=self.catalogue.rules.version, strategy="territory", owner_id=target.id,
                                team_id=target.team)
            self._record(batch, row, decision, decision_id, "territory", decided_by=by)
        await repo.save_loads(loads, ids, today)
        await self._write(uow, batch)
        return {"territory": territory_id, "from": source.id, "to": target.id, "moved": len(moving),
                "lead_ids": [str(r["lead_id"]) for r in moving]}

    async def distribute(self, uow: UnitOfWork, team_id: str, rep_ids: Sequence[str], by: str, manages: Any, *,
                         lead_ids: Sequence[uuid.UUID] | None = None, where: dict[str, Any] | None = None,
                         limit: int = 1000) -> dict[str, Any]:
        """批量平均分配: the team's queued or pooled leads (given, or found by a filter) spread across the chosen
        reps, each within one lead of even, within their caps; what no chosen rep can hold stays and is said."""
        repo = AssignmentRepository(uow.session)
        await self.catalogue.refresh(uow.session)
        org = self.catalogue.org
        team = org.team(team_id)
        if team is None:
            raise AssignmentRefused(404, f"no team {team_id!r}")
        manages(team.id)
        reps = [self._rep(r) for r in dict.fromkeys(rep_ids)]
        if not reps:
            raise AssignmentRefused(422, "name at least one rep")
        strangers = [r.id for r in reps if r.team != team.id]
        if strangers:
            raise AssignmentRefused(422, f"not reps of team {team.id}: {', '.join(strangers)}")
        away = [f"{r.id} ({r.status})" for r in reps if r.status != "active"]
        if away:
            raise AssignmentRefused(409, f"cannot take leads: {', '.join(away)}")
        rows = await self._distributable(uow, team.id, lead_ids, where or {}, limit)
        today = self.today()
        ids = sorted(r.id for r in reps)
        loads = await repo.loads_for_update(ids, today)
        given: dict[str, int] = {r.id: 0 for r in reps}
        batch, left = _Batch(), []
        decision_ids = await repo.decision_ids(len(rows))
        for row, decision_id in zip(rows, decision_ids):
            open_reps = [r for r in reps if Router.why_not(r, lead_facts(row), loads, frozenset(), skills=False) is None]
            if not open_reps:
                left.append(str(row["lead_id"]))
                continue
            rep = min(open_reps, key=lambda r: (given[r.id], loads.of(r.id).open, r.id))
            given[rep.id] += 1
            loads.take(rep.id)
            decision = Decision("assigned", "distribute", f"distributed evenly by {by}",
                                rules_version=self.catalogue.rules.version, strategy="distribute", owner_id=rep.id,
                                team_id=team.id, previous_owner_ids=tuple(row["previous_owners"]))
            self._record(batch, row, decision, decision_id, "distribute", decided_by=by)
        await repo.save_loads(loads, ids, today)
        await self._write(uow, batch)
        return {"team": team.id, "distributed": sum(given.values()), "per_rep": given, "not_placed": left,
                "reason": "every chosen rep is full" if left else None}

    async def _distributable(self, uow: UnitOfWork, team_id: str, lead_ids: Sequence[uuid.UUID] | None,
                             where: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        conn = await driver_connection(uow.session)
        if lead_ids:
            rows = await conn.fetch(
                "SELECT l.* FROM unnest($1::uuid[]) AS k(id) JOIN assignment.leads l ON l.lead_id = k.id "
                "ORDER BY l.lead_id FOR UPDATE OF l", list(dict.fromkeys(lead_ids)))
            found = {r["lead_id"]: r for r in rows}
            missing = [str(i) for i in lead_ids if i not in found]
            if missing:
                raise AssignmentRefused(404, f"assignment knows no lead {', '.join(missing[:5])}")
            wrong = [str(r["lead_id"]) for r in rows if r["status"] not in ("queued", "pooled")
                     or (r["team_id"] not in (None, team_id))]
            if wrong:
                raise AssignmentRefused(409, f"not waiting in team {team_id}'s queue or pool: {', '.join(wrong[:5])}")
            return [_from_db(r) for r in rows]
        clauses, args = ["status IN ('queued', 'pooled')", "(team_id = $1 OR team_id IS NULL)"], [team_id]
        for key, column in (("status", "status"), ("grade", "grade"), ("channel", "channel"), ("pool", "pool_id"),
                            ("queue", "queue")):
            if where.get(key):
                args.append(str(where[key]))
                clauses.append(f"{column} = ${len(args)}")
        args.append(limit)
        rows = await conn.fetch(f"SELECT * FROM assignment.leads WHERE {' AND '.join(clauses)} "
                                f"ORDER BY routed_at, lead_id LIMIT ${len(args)} FOR UPDATE SKIP LOCKED", *args)
        return [_from_db(r) for r in rows]

    # ---- the organisation and the rules ------------------------------------------------------------

    async def store_org(self, uow: UnitOfWork, org: Organisation, by: str | None) -> int:
        """A new version of the organisation; refused whole when the rules in force would no longer hold."""
        await self.catalogue.refresh(uow.session)
        if self.catalogue.rules_version is not None:
            try:
                parse_rules(self.catalogue.rules.document(), org)
            except DocumentError as exc:
                raise DocumentError([Problem(path=f"(rules version {self.catalogue.rules.version}) {p.path}",
                                             message=p.message) for p in exc.problems]) from None
        version = await CatalogueRepository(uow.session).add(org_versions, org.document(), by)
        await AssignmentRepository(uow.session).ensure_loads([r.id for r in org.reps])
        return version

    async def store_rules(self, uow: UnitOfWork, document: Any, by: str | None) -> int:
        await self.catalogue.refresh(uow.session)
        rules = parse_rules(document, self.catalogue.org)
        return await CatalogueRepository(uow.session).add(rule_sets, rules.document(), by)

    async def simulate(self, uow: UnitOfWork, proposed: Any, start: datetime | None, end: datetime | None,
                       limit: int) -> dict[str, Any]:
        """Replay the leads routed in [start, end) under the proposed rules beside the current ones."""
        await self.catalogue.refresh(uow.session)
        org = self.catalogue.org
        rules = parse_rules(proposed, org).model_copy(update={"version": "proposed"})
        rates = await self.rates.get(uow.session, org)
        rows = await AssignmentRepository(uow.session).routed_between(start, end, limit)
        leads = [Replayed(lead_facts(_from_db(row)), row["routed_at"].astimezone(self._zone).date()) for row in rows]
        report = compare(leads, org, self.catalogue.rules, rules, rates, default_pool=self.settings.default_pool)
        return {"from": start, "to": end, **report}

    def _rep(self, rep_id: str) -> Any:
        rep = self.catalogue.org.rep(rep_id)
        if rep is None:
            raise AssignmentRefused(422, f"no rep {rep_id!r} in the organisation")
        return rep


# ---- rows and events ----------------------------------------------------------------------------------

def _new_row(lead_id: uuid.UUID) -> dict[str, Any]:
    return {"lead_id": lead_id, "status": "waiting", "owner_id": None, "team_id": None, "pool_id": None, "queue": None,
            "previous_owners": [], "stage": None, "grade": None, "channel": None, "partner_id": None,
            "company_id": None, "customer_id": None, "account_owner_id": None, "facts": {}, "routed_at": None,
            "qualified_by": None, "handoff_due": False}


def _from_db(row: Any) -> dict[str, Any]:
    record = dict(row)
    facts = record.get("facts")
    if isinstance(facts, str):
        record["facts"] = json.loads(facts)
    record["previous_owners"] = list(record.get("previous_owners") or [])
    return record


def _scored_row(row: Any, scored: LeadScored) -> dict[str, Any]:
    record = _from_db(row) if row is not None else _new_row(scored.lead_id)
    lead = scored.lead
    custom = dict(lead.custom) if lead else {}
    facts = {"score": scored.score, "probability": scored.probability, "custom": custom}
    if lead is not None:
        facts.update(industry=lead.industry, province=lead.province, city=lead.city,
                     product_interest=lead.product_interest, referrer=lead.referrer,
                     cohort=_text(custom.get("cohort")), company_size=_int(custom.get("company_size")))
    if scored.verdict_at is not None:
        facts["verdict_at"] = scored.verdict_at.isoformat()
    record["facts"] = {**(record["facts"] or {}), **{k: v for k, v in facts.items() if v is not None}}
    record.update(stage=scored.stage, grade=scored.grade,
                  channel=str(lead.source) if lead else record["channel"],
                  company_id=scored.company_id or record["company_id"],
                  customer_id=scored.customer_id or record["customer_id"])
    return record


def _scored_since(row: dict[str, Any], verdict_at: datetime) -> bool:
    """Has scoring already published its answer to a verdict given at `verdict_at`?"""
    seen = (row.get("facts") or {}).get("verdict_at")
    return seen is not None and datetime.fromisoformat(seen) >= verdict_at


def lead_facts(row: dict[str, Any], *, recycled: bool = False) -> LeadFacts:
    facts = row.get("facts") or {}
    return LeadFacts(
        lead_id=row["lead_id"], grade=row["grade"], stage=row["stage"], score=facts.get("score"),
        probability=facts.get("probability"), channel=row["channel"], partner_id=row["partner_id"],
        industry=facts.get("industry"), province=facts.get("province"), city=facts.get("city"),
        company_size=facts.get("company_size"), product_interest=facts.get("product_interest"),
        company_id=row["company_id"], customer_id=row["customer_id"], referrer=facts.get("referrer"),
        cohort=facts.get("cohort"), account_owner_id=row.get("resolved_owner") or row["account_owner_id"],
        custom=facts.get("custom") or {}, recycled=recycled, previous_owners=tuple(row["previous_owners"]),
        qualified_by=row.get("qualified_by"),
    )


def _leave_sdr(row: dict[str, Any], released: dict[str, int]) -> None:
    """The lead leaves the SDR who held it: his open leads go down, and he counts among its previous owners."""
    if row["status"] == "assigned" and row["owner_id"]:
        released[row["owner_id"]] -= 1
        if row["previous_owners"][-1:] != [row["owner_id"]]:
            row["previous_owners"] = [*row["previous_owners"], row["owner_id"]]


def _lead_record(row: dict[str, Any]) -> dict[str, Any]:
    return {k: row.get(k) for k in ("lead_id", "status", "owner_id", "team_id", "pool_id", "queue", "previous_owners",
                                    "stage", "grade", "channel", "partner_id", "company_id", "customer_id",
                                    "account_owner_id", "facts", "routed_at", "qualified_by", "handoff_due")}


def _event(lead_id: uuid.UUID, decision: Decision, decision_id: int, kind: str, previous: list[str],
           now: datetime, qualified_by: str | None = None) -> tuple[Topic, uuid.UUID, dict[str, Any]]:
    common = {"lead_id": lead_id, "team_id": decision.team_id, "rule": decision.rule,
              "rules_version": decision.rules_version, "reason": decision.reason, "previous_owner_ids": previous,
              "decision_id": decision_id}
    if decision.outcome == "assigned":
        return LEADS_ASSIGNED, lead_id, {**common, "owner_id": decision.owner_id, "strategy": decision.strategy,
                                         "kind": kind, "assigned_at": now, "qualified_by": qualified_by}
    if decision.outcome == "pooled":
        return LEADS_POOLED, lead_id, {**common, "pool_id": decision.pool_id, "strategy": decision.strategy,
                                       "pooled_at": now}
    return LEADS_QUEUED, lead_id, {**common, "queue": decision.queue, "queued_at": now}


def _in_territory(row: Any, territory: Any) -> bool:
    facts = row["facts"] or {}
    if isinstance(facts, str):
        facts = json.loads(facts)
    if territory.city:
        return place(facts.get("city")) == place(territory.city)
    return place(facts.get("province")) == place(territory.province)


def _text(value: Any) -> str | None:
    return None if value in (None, "") else str(value)


def _int(value: Any) -> int | None:
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None

