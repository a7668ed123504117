"""Who holds a lead, changed in one transaction with its timeline entry and its event (outbox): routed by
assignment (assigned, pooled), claimed (领取), released (放弃), transferred, converted. The ownership workflow
of each new ownership is started by the consumer of the event (see consumers.py), so that a change committed
here is never left without its deadlines, even if Temporal was away at the time.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from litestar.exceptions import HTTPException
from sqlalchemy.dialects.postgresql import insert

from leadflow_pool.bootstrap import Pool
from leadflow_pool.db import NO_DEADLINES, ClaimRead, PoolRepository, record, timeline_row
from leadflow_pool.domain.claims import (
    Claimant,
    ClaimSituation,
    Refusal,
    TransferTarget,
    claim_refusal,
    release_refusal,
    transfer_refusal,
)
from leadflow_pool.domain.model import (
    OwnershipTerms,
    PoolStatus,
    ownership_deadlines,
    ownership_workflow_id,
    remind_before,
)
from leadflow_pool.domain.pools import PoolDocument
from leadflow_pool.tables import pool_leads
from leadflow_shared.contracts import (
    LEADS_CLAIMED,
    LEADS_RELEASED,
    LEADS_TRANSFERRED,
    LeadAssigned,
    LeadClaimed,
    LeadConverted,
    LeadPooled,
    LeadReleased,
    LeadTransferred,
)
from leadflow_shared.db import UnitOfWork, insert_rows, lock_keys

LOST = ("released", "recycled", "transferred_away")


class Refused(HTTPException):
    """A staff request pool turns down: the status and the reason in both languages (see http.py)."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(detail=refusal.en, status_code=refusal.status)
        self.refusal = refusal


@dataclass(frozen=True)
class Change:
    """What an ownership change left behind: the lead's row after it, and the workflow to end, if any."""

    lead: dict[str, Any]
    ended_workflow: str | None = None


def terms_of(row: dict[str, Any], remind_before_s: float) -> OwnershipTerms:
    """The workflow input of the lead's current ownership, from its row."""
    return OwnershipTerms(
        lead_id=str(row["lead_id"]), owner_id=row["owner_id"], pool_id=row["pool_id"], seq=row["ownership_seq"],
        first_follow_up=None if row["last_follow_up_at"] else row["first_follow_up_deadline"],
        inactivity=row["inactivity_deadline"], conversion=row["conversion_deadline"],
        protected_until=row["protected_until"], remind_before_s=remind_before_s,
    )


class Ownership:
    """The ownership changes staff make through pool's API, and those assignment decides."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    @property
    def business_timezone(self) -> ZoneInfo:
        return self.pool.business_days.calendar.timezone

    async def document(self, uow: UnitOfWork) -> PoolDocument:
        return await self.pool.pools.current(uow.session)

    def remind_before_s(self, document: PoolDocument, pool_id: str) -> float:
        return remind_before(document.rules_of(pool_id)).total_seconds()

    async def new_ownership(self, uow: UnitOfWork, row: dict[str, Any], owner_id: str, *, at: datetime, via: str,
                            document: PoolDocument, team_id: str | None = None, pool_id: str | None = None,
                            qualified_by: str | None = None) -> dict[str, Any]:
        """Hand the lead to `owner_id` from `at`: a new ownership (its number one higher) with fresh deadlines."""
        pool_id = pool_id or row["pool_id"]
        pool_def = document.pool(pool_id)
        rules = document.rules_of(pool_id)
        deadlines = ownership_deadlines(pool_def, rules, row.get("grade"), row.get("customer_level"), at,
                                        self.pool.business_days.calendar, claimed=via == "claimed")
        self.pool.business_days.note_assumed(deadlines.assumed_years)
        kind, nearest = deadlines.nearest()
        previous = list(row.get("previous_owner_ids") or [])
        if row.get("owner_id") and row["owner_id"] != owner_id and row["owner_id"] not in previous[-1:]:
            previous.append(row["owner_id"])
        values = dict(
            status=PoolStatus.owned, owner_id=owner_id, pool_id=pool_id, ownership_seq=row["ownership_seq"] + 1,
            team_id=team_id or row.get("team_id"), owner_since=at, owned_via=via,
            protected_until=deadlines.protected_until, first_follow_up_deadline=deadlines.first_follow_up,
            inactivity_deadline=None, conversion_deadline=deadlines.conversion, last_follow_up_at=None,
            next_deadline=nearest, deadline_kind=kind, previous_owner_ids=previous,
            workflow_id=ownership_workflow_id(str(row["lead_id"]), row["ownership_seq"] + 1),
        )
        if qualified_by:
            values["qualified_by"] = qualified_by
        await PoolRepository(uow.session).update(row["lead_id"], **values)
        return {**row, **values}

    # ---- what assignment decided and opportunity did -----------------------------------------------------

    async def assigned(self, uow: UnitOfWork, event: LeadAssigned) -> Change | None:
        """A rep got the lead from assignment. A second assignment (二次分配) after a recycle yields to a claim
        made meanwhile: whoever claimed it from the pool keeps it (assignment follows leads.claimed.v1)."""
        document = await self.document(uow)
        row = await self._row_or_new(uow, event.lead_id, document, team_id=event.team_id)
        if event.kind == "reassign" and row["status"] == PoolStatus.owned and row["owner_id"] != event.owner_id:
            await record(uow.session, event.lead_id, "assignment_superseded", event.assigned_at,
                         owner_id=event.owner_id, pool_id=row["pool_id"],
                         detail={"kept_by": row["owner_id"], "rule": event.rule})
            return None
        ended = (ownership_workflow_id(str(event.lead_id), row["ownership_seq"])
                 if row["status"] == PoolStatus.owned else None)
        pool_id = document.home_pool({**row, "team_id": event.team_id or row.get("team_id")})
        lead = await self.new_ownership(uow, row, str(event.owner_id), at=event.assigned_at, via="assigned",
                                        document=document, team_id=event.team_id, pool_id=pool_id,
                                        qualified_by=event.qualified_by)
        await record(uow.session, event.lead_id, "assigned", event.assigned_at, actor="assignment",
                     owner_id=event.owner_id, pool_id=pool_id,
                     detail={"rule": event.rule, "strategy": event.strategy, "kind": event.kind,
                             "reason": event.reason, "decision_id": event.decision_id, "seq": lead["ownership_seq"],
                             "qualified_by": event.qualified_by})
        return Change(lead, ended)

    async def pooled(self, uow: UnitOfWork, event: LeadPooled) -> Change:
        document = await self.document(uow)
        row = await self._row_or_new(uow, event.lead_id, document, team_id=event.team_id)
        ended = (ownership_workflow_id(str(event.lead_id), row["ownership_seq"])
                 if row["status"] == PoolStatus.owned else None)
        lead = await self._to_pool(uow, row, event.pool_id, event.pooled_at)
        await record(uow.session, event.lead_id, "pooled", event.pooled_at, actor="assignment", pool_id=event.pool_id,
                     detail={"rule": event.rule, "reason": event.reason, "decision_id": event.decision_id})
        return Change(lead, ended)

    async def converted(self, uow: UnitOfWork, event: LeadConverted) -> Change | None:
        row = await PoolRepository(uow.session).get_for_update(event.lead_id)
        if row is None or row["status"] == PoolStatus.converted:
            return None
        ended = (ownership_workflow_id(str(event.lead_id), row["ownership_seq"])
                 if row["status"] == PoolStatus.owned else None)
        values = dict(status=PoolStatus.converted, **NO_DEADLINES)
        await PoolRepository(uow.session).update(event.lead_id, **values)
        await record(uow.session, event.lead_id, "converted", event.converted_at, actor=event.owner_id,
                     owner_id=event.owner_id or row["owner_id"], pool_id=row["pool_id"],
                     detail={"opportunity_id": str(event.opportunity_id), "customer_id": str(event.customer_id)})
        return Change({**row, **values}, ended)

    async def _row_or_new(self, uow: UnitOfWork, lead_id: uuid.UUID, document: PoolDocument,
                          team_id: str | None = None) -> dict[str, Any]:
        """The lead's row, locked; created (status new) when assignment's event came before intake's."""
        repo = PoolRepository(uow.session)
        row = await repo.get_for_update(lead_id)
        if row is None:
            await uow.session.execute(insert(pool_leads).values(
                lead_id=lead_id, pool_id=document.default_pool, status=PoolStatus.new, team_id=team_id
            ).on_conflict_do_nothing(index_elements=["lead_id"]))
            row = await repo.get_for_update(lead_id)
        assert row is not None
        return row

    # ---- claim (领取) -------------------------------------------------------------------------------------

    async def claim(self, uow: UnitOfWork, lead_id: uuid.UUID, claimant: Claimant) -> Change:
        """Four round trips: BEGIN with the claimant's lock, the lead's row locked with what the claim is judged
        on, its new ownership, and its timeline entry with its event; then COMMIT."""
        now = datetime.now(UTC)
        # One rep's claims one at a time (his limits hold); the lead's row lock picks the one winner.
        await lock_keys(uow.session, [f"pool-claimant:{claimant.id}"])
        repo = PoolRepository(uow.session)
        read = await repo.read_for_claim(lead_id, claimant.id, self._start_of_today(now), LOST)
        if read is None:
            raise Refused(_unknown(lead_id))
        document = await self.pool.pools.at_version(uow.session, read.pools_version)
        row = read.row
        refusal = claim_refusal(claimant, await self._claim_situation(uow, read, claimant, document, now))
        if refusal:
            raise Refused(refusal)
        lead = await self.new_ownership(uow, row, claimant.id, at=now, via="claimed", document=document)
        await insert_rows(uow.session, [
            timeline_row(lead_id, "claimed", now, actor=claimant.id, owner_id=claimant.id, pool_id=row["pool_id"],
                         detail={"seq": lead["ownership_seq"]}),
            uow.event_rows([(LEADS_CLAIMED, lead_id, LeadClaimed(
                lead_id=lead_id, pool_id=row["pool_id"], owner_id=claimant.id, claimed_at=now,
                ownership_seq=lead["ownership_seq"]))]),
        ])
        return Change(lead)

    def _start_of_today(self, now: datetime) -> datetime:
        """Midnight of today in the business's time zone: claims per day count from it."""
        zone = self.business_timezone
        return datetime.combine(now.astimezone(zone).date(), time(), zone)

    async def _claim_situation(self, uow: UnitOfWork, read: ClaimRead, claimant: Claimant,
                               document: PoolDocument, now: datetime) -> ClaimSituation:
        row, pool_id = read.row, read.row["pool_id"]
        rules = document.rules_of(pool_id)
        last_owner = (row.get("previous_owner_ids") or [None])[-1]
        blocked = bool(rules.block_collusion and last_owner and last_owner != claimant.id
                       and row["status"] == PoolStatus.in_pool
                       and await self._collusion_blocks(uow, claimant.id, last_owner))
        return ClaimSituation(
            lead_id=str(row["lead_id"]), status=row["status"], owner_id=row["owner_id"], pool_id=pool_id,
            pool=document.pool(pool_id), rules=rules, held_from_pool=read.held,
            claimed_today=read.claimed_today, lost_at=read.lost_at, collusion_with_last_owner=blocked, now=now)

    async def _collusion_blocks(self, uow: UnitOfWork, claimer: str, last_owner: str) -> bool:
        from leadflow_pool.collusion import collusion_blocks

        return await collusion_blocks(uow.session, claimer, last_owner)

    # ---- release (放弃) ------------------------------------------------------------------------------------

    async def release(self, uow: UnitOfWork, lead_id: uuid.UUID, caller: Claimant, reason: str | None,
                      note: str | None) -> Change:
        now = datetime.now(UTC)
        document = await self.document(uow)
        row = await self._locked(uow, lead_id)
        refusal = release_refusal(caller, row["status"], row["owner_id"], reason,
                                  [r.code for r in document.release_reasons])
        if refusal:
            raise Refused(refusal)
        owner, seq = row["owner_id"], row["ownership_seq"]
        lead = await self._to_pool(uow, row, row["pool_id"], now)
        await record(uow.session, lead_id, "released", now, actor=caller.id, owner_id=owner, pool_id=row["pool_id"],
                     detail={"reason": reason, "note": note, "seq": seq})
        await uow.publish(LEADS_RELEASED, lead_id, LeadReleased(
            lead_id=lead_id, pool_id=row["pool_id"], previous_owner_id=owner, reason=str(reason), released_at=now,
            ownership_seq=seq))
        return Change(lead, ownership_workflow_id(str(lead_id), seq))

    async def _to_pool(self, uow: UnitOfWork, row: dict[str, Any], pool_id: str, at: datetime) -> dict[str, Any]:
        previous = list(row.get("previous_owner_ids") or [])
        if row.get("owner_id"):
            previous.append(row["owner_id"])
        values = dict(status=PoolStatus.in_pool, owner_id=None, pool_id=pool_id, pooled_at=at,
                      previous_owner_ids=previous, **NO_DEADLINES)
        await PoolRepository(uow.session).update(row["lead_id"], **values)
        return {**row, **values}

    # ---- transfer (转移) -----------------------------------------------------------------------------------

    async def transfer(self, uow: UnitOfWork, lead_id: uuid.UUID, caller: Claimant, to_owner_id: str | None,
                       to_pool_id: str | None, reason: str | None) -> Change:
        now = datetime.now(UTC)
        document = await self.document(uow)
        row = await self._locked(uow, lead_id)
        target = TransferTarget(to_owner_id, document.pool(to_pool_id) if to_pool_id else None, to_pool_id)
        refusal = transfer_refusal(caller, document.pool(row["pool_id"]), row["status"], target)
        if refusal:
            raise Refused(refusal)
        from_owner, from_pool, seq = row["owner_id"], row["pool_id"], row["ownership_seq"]
        ended = ownership_workflow_id(str(lead_id), seq) if from_owner else None
        if to_owner_id:
            lead = await self.new_ownership(uow, row, to_owner_id, at=now, via="transferred", document=document)
        else:
            lead = await self._to_pool(uow, row, str(to_pool_id), now)
        if from_owner:
            await record(uow.session, lead_id, "transferred_away", now, actor=caller.id, owner_id=from_owner,
                         pool_id=from_pool, detail={"to_owner_id": to_owner_id, "to_pool_id": to_pool_id, "seq": seq})
        await record(uow.session, lead_id, "transferred", now, actor=caller.id, owner_id=to_owner_id,
                     pool_id=lead["pool_id"], detail={"from_owner_id": from_owner, "from_pool_id": from_pool,
                                                      "reason": reason, "seq": lead["ownership_seq"]})
        await uow.publish(LEADS_TRANSFERRED, lead_id, LeadTransferred(
            lead_id=lead_id, from_owner_id=from_owner, to_owner_id=to_owner_id, from_pool_id=from_pool,
            to_pool_id=lead["pool_id"], by=caller.id, reason=reason, transferred_at=now,
            ownership_seq=lead["ownership_seq"]))
        return Change(lead, ended)

    async def _locked(self, uow: UnitOfWork, lead_id: uuid.UUID) -> dict[str, Any]:
        row = await PoolRepository(uow.session).get_for_update(lead_id)
        if row is None:
            raise Refused(_unknown(lead_id))
        return row


def _unknown(lead_id: uuid.UUID) -> Refusal:
    return Refusal(404, "unknown_lead", f"pool has no lead {lead_id}", f"公海中没有线索 {lead_id}")
