"""Follow-ups (跟进), visits with their check-in (上门签到, flagged when it looks like a mock location), an SDR's
verdict after cleansing a lead (线索清洗), and tasks: the writes, each in one transaction with its timeline entry
and its event (outbox). The ownership workflow hears of a follow-up after the commit, best effort: it checks the
lead's row again before it recycles anything, so a lost signal costs nothing but an early reminder.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import and_, insert, select, update

from leadflow_pool.bootstrap import Pool
from leadflow_pool.db import PoolRepository, record, record_many
from leadflow_pool.domain.follow_ups import Author, Disposition, FollowUpSituation, FollowUpType, follow_up_refusal
from leadflow_pool.domain.model import (
    DeadlineKind,
    OwnershipTerms,
    PoolStatus,
    inactivity_deadline,
    ownership_workflow_id,
    remind_before,
)
from leadflow_pool.domain.pools import PoolDocument
from leadflow_pool.domain.tasks import MAX_LEADS_PER_REQUEST, TaskKind, TaskStatus
from leadflow_pool.domain.visits import CheckIn, VisitCheck, check_visit, near_box
from leadflow_pool.ownership import Refused, terms_of
from leadflow_pool.ownership_signals import FollowedUp
from leadflow_pool.tables import follow_ups, pool_leads, tasks
from leadflow_shared.contracts import LEADS_DISPOSITIONED, LeadDispositioned
from leadflow_shared.db import UnitOfWork, lock_keys
from leadflow_shared.logging import get_logger
from leadflow_shared.refusals import Refusal

log = get_logger(__name__)


class OwnershipClock(Protocol):
    """What a follow-up tells the ownership workflows (pool's TemporalWorker; a recorder in tests)."""

    async def signal_follow_up(self, terms: OwnershipTerms, followed_up: FollowedUp) -> None: ...

    async def end_ownership(self, workflow_id: str, reason: str) -> None: ...


class WorkRefused(Refused):
    """A refusal with more to say than its reason (the valid codes, say): see http_work.EXCEPTION_HANDLERS."""

    def __init__(self, refusal: Refusal, **extra: Any) -> None:
        super().__init__(refusal)
        self.extra = extra


# ---- requests ----------------------------------------------------------------------------------------------

class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Location(_Strict):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)
    accuracy_m: float | None = Field(None, ge=0, le=100_000, description="The fix's accuracy radius, in metres.")


class BantAnswers(_Strict):
    """Budget, authority, need, timeline as the SDR heard them (scoring decides what counts as positive)."""

    budget: str | float | bool | None = None
    authority: str | bool | None = None
    need: str | bool | None = None
    timeline: str | None = None


class FollowUpRequest(_Strict):
    type: FollowUpType
    note: str | None = Field(None, max_length=5000)
    outcome: str | None = Field(None, max_length=50)
    next_follow_up_at: datetime | None = Field(None, description="When to follow up next: a task for the owner "
                                                                  "(without a time zone: the business calendar's).")
    location: Location | None = Field(None, description="The check-in's position (required for a visit).")
    disposition: Disposition | None = Field(None, description="An SDR's verdict: qualified | nurture | invalid.")
    reason: str | None = Field(None, max_length=100, description="A code of the pools document's nurture_reasons "
                                                                  "or invalid_reasons.")
    bant: BantAnswers | None = None


class TaskRequest(_Strict):
    lead_ids: list[uuid.UUID] = Field(min_length=1, description=f"At most {MAX_LEADS_PER_REQUEST:,}.")
    kind: TaskKind
    title: str = Field(min_length=1, max_length=200)
    note: str | None = Field(None, max_length=5000)
    due_at: datetime = Field(description="Without a time zone: the business calendar's.")
    assignee_id: str | None = Field(None, min_length=1, max_length=100,
                                    description="Default: each lead's current owner.")
    campaign: str | None = Field(None, max_length=100)


@dataclass(frozen=True)
class Recorded:
    """A follow-up as recorded, and what it did to the lead."""

    id: uuid.UUID
    lead_id: uuid.UUID
    type: str
    created_at: datetime
    location_flags: list[str]
    inactivity_deadline: datetime | None
    next_deadline: datetime | None
    deadline_kind: str | None
    status: str
    disposition: str | None
    follow_up_task_id: uuid.UUID | None
    completed_tasks: int


# ---- the service -------------------------------------------------------------------------------------------

class FollowUps:
    def __init__(self, pool: Pool, clock: OwnershipClock | None = None) -> None:
        self.pool = pool
        self.clock: OwnershipClock = clock or pool.temporal  # type: ignore[assignment]

    def zoned(self, at: datetime) -> datetime:
        """A time given without its zone is the business calendar's (China's, unless configured)."""
        return at if at.utcoffset() is not None else at.replace(tzinfo=self.pool.business_days.calendar.timezone)

    async def record(self, lead_id: uuid.UUID, author: Author, request: FollowUpRequest) -> Recorded:
        now = datetime.now(UTC)
        if request.next_follow_up_at is not None:
            request = request.model_copy(update={"next_follow_up_at": self.zoned(request.next_follow_up_at)})
        async with self.pool.db.uow() as uow:
            document = await self.pool.pools.current(uow.session)
            row = await PoolRepository(uow.session).get_for_update(lead_id)
            self._check(lead_id, row, author, request, document)
            assert row is not None
            follow_up_id = uuid.uuid4()
            visit = await self._check_in(uow, author, lead_id, request, now)
            flags = [str(f) for f in visit.flags] if visit else []
            await uow.session.execute(insert(follow_ups).values(
                id=follow_up_id, lead_id=lead_id, staff_id=author.id, type=request.type, note=request.note,
                outcome=request.outcome, next_follow_up_at=request.next_follow_up_at,
                latitude=request.location.latitude if request.location else None,
                longitude=request.location.longitude if request.location else None,
                accuracy_m=request.location.accuracy_m if request.location else None, location_flags=flags,
                disposition=request.disposition, disposition_reason=request.reason,
                bant=request.bant.model_dump(exclude_none=True) if request.bant else None, created_at=now))
            lead = await self._restart_inactivity(uow, row, document, now)
            await record(uow.session, lead_id, "visit" if request.type == FollowUpType.visit else "follow_up", now,
                         actor=author.id, owner_id=row["owner_id"], pool_id=row["pool_id"],
                         detail=_follow_up_detail(follow_up_id, request, visit))
            completed = await self._complete_follow_up_tasks(uow, lead_id, author.id, now)
            task_id = None
            if request.disposition is not None:
                lead = await self._disposition(uow, lead, author, request, follow_up_id, now)
            elif request.next_follow_up_at is not None:
                task_id = await self._next_follow_up_task(uow, lead, author, request.next_follow_up_at, now)
            await uow.commit()
        await self._tell_the_workflow(row, lead, document, now)
        return Recorded(follow_up_id, lead_id, request.type, now, flags, lead.get("inactivity_deadline"),
                        lead.get("next_deadline"), lead.get("deadline_kind"), lead["status"],
                        request.disposition, task_id, completed)

    def _check(self, lead_id: uuid.UUID, row: dict[str, Any] | None, author: Author, request: FollowUpRequest,
               document: PoolDocument) -> None:
        situation = FollowUpSituation(str(lead_id), row["status"] if row else None, row and row["owner_id"],
                                      row and row["team_id"])
        reasons = {Disposition.nurture: [r.code for r in document.nurture_reasons],
                   Disposition.invalid: [r.code for r in document.invalid_reasons]}
        refusal = follow_up_refusal(author, situation, has_location=request.location is not None,
                                    visit=request.type == FollowUpType.visit, disposition=request.disposition,
                                    reason=request.reason, reasons=reasons)
        if refusal is None:
            return
        if refusal.code == "unknown_reason" and request.disposition is not None:
            raise WorkRefused(refusal, valid_reasons=reasons[request.disposition])
        raise Refused(refusal)

    async def _check_in(self, uow: UnitOfWork, author: Author, lead_id: uuid.UUID, request: FollowUpRequest,
                        now: datetime) -> VisitCheck | None:
        """A visit's flags against the rep's earlier check-ins: those at the same spot, and his last one."""
        if request.type != FollowUpType.visit or request.location is None:
            return None
        # His check-ins one at a time, so two made at once still see each other.
        await lock_keys(uow.session, [f"pool-check-in:{author.id}"])
        where = and_(follow_ups.c.staff_id == author.id, follow_ups.c.type == FollowUpType.visit,
                     follow_ups.c.latitude.is_not(None), follow_ups.c.created_at <= now)
        loc = request.location
        lat_lo, lat_hi, lon_lo, lon_hi = near_box(loc.latitude, loc.longitude)
        columns = (follow_ups.c.lead_id, follow_ups.c.latitude, follow_ups.c.longitude, follow_ups.c.created_at,
                   follow_ups.c.accuracy_m)
        same_spot = select(*columns).where(where, follow_ups.c.latitude.between(lat_lo, lat_hi),
                                           follow_ups.c.longitude.between(lon_lo, lon_hi)).limit(50)
        last = select(*columns).where(where).order_by(follow_ups.c.created_at.desc()).limit(1)
        rows = [*(await uow.session.execute(same_spot)).all(), *(await uow.session.execute(last)).all()]
        earlier = [CheckIn(str(r.lead_id), r.latitude, r.longitude, r.created_at, r.accuracy_m) for r in rows]
        new = CheckIn(str(lead_id), loc.latitude, loc.longitude, now, loc.accuracy_m)
        return check_visit(new, earlier, self.pool.settings.visit_max_travel_kmh)

    async def _restart_inactivity(self, uow: UnitOfWork, row: dict[str, Any], document: PoolDocument,
                                  now: datetime) -> dict[str, Any]:
        """The inactivity clock starts again; the owner's next deadline is the nearer of it and conversion."""
        pool_def, rules = document.pool(row["pool_id"]), document.rules_of(row["pool_id"])
        inactivity = inactivity_deadline(pool_def, rules, row.get("grade"), row.get("customer_level"), now,
                                         self.pool.business_days.calendar)
        candidates = [(DeadlineKind.inactivity, inactivity)]
        if row.get("conversion_deadline"):
            candidates.append((DeadlineKind.conversion, row["conversion_deadline"]))
        kind, nearest = min(candidates, key=lambda kd: kd[1])
        values = dict(last_follow_up_at=now, inactivity_deadline=inactivity, next_deadline=nearest,
                      deadline_kind=str(kind))
        await PoolRepository(uow.session).update(row["lead_id"], **values)
        return {**row, **values}

    async def _complete_follow_up_tasks(self, uow: UnitOfWork, lead_id: uuid.UUID, staff_id: str,
                                        now: datetime) -> int:
        result = await uow.session.execute(
            update(tasks).where(tasks.c.lead_id == lead_id, tasks.c.assignee_id == staff_id,
                                tasks.c.kind == TaskKind.follow_up, tasks.c.status == TaskStatus.open)
            .values(status=TaskStatus.done, done_at=now))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def _next_follow_up_task(self, uow: UnitOfWork, lead: dict[str, Any], author: Author, due_at: datetime,
                                   now: datetime) -> uuid.UUID:
        task_id = uuid.uuid4()
        await uow.session.execute(insert(tasks).values(
            id=task_id, lead_id=lead["lead_id"], assignee_id=lead["owner_id"], kind=TaskKind.follow_up,
            title=f"跟进 / follow up: {lead.get('name') or lead.get('company_name') or lead['lead_id']}"[:200],
            due_at=due_at, created_by=author.id, created_at=now))
        return task_id

    async def _disposition(self, uow: UnitOfWork, lead: dict[str, Any], author: Author, request: FollowUpRequest,
                           follow_up_id: uuid.UUID, now: datetime) -> dict[str, Any]:
        """An SDR's verdict: qualified leads go on to sales (assignment hands them over when scoring says MQL);
        nurtured and invalid ones leave him (their ownership ends)."""
        disposition = request.disposition
        assert disposition is not None
        bant = request.bant.model_dump(exclude_none=True) if request.bant else None
        await record(uow.session, lead["lead_id"], "disposition", now, actor=author.id, owner_id=lead["owner_id"],
                     pool_id=lead["pool_id"], detail={"disposition": str(disposition), "reason": request.reason,
                                                      "bant": bant, "follow_up_id": str(follow_up_id)})
        await uow.publish(LEADS_DISPOSITIONED, lead["lead_id"], LeadDispositioned(
            lead_id=lead["lead_id"], by=author.id, disposition=str(disposition), reason=request.reason, bant=bant,
            follow_up_id=follow_up_id, dispositioned_at=now))
        if disposition == Disposition.qualified:
            values: dict[str, Any] = {"qualified_by": author.id}
        else:
            previous = list(lead.get("previous_owner_ids") or [])
            if lead["owner_id"] and lead["owner_id"] not in previous[-1:]:
                previous.append(lead["owner_id"])
            values = dict(status=str(disposition), owner_id=None, disposition_reason=request.reason,
                          previous_owner_ids=previous, **_NO_DEADLINES)
        await PoolRepository(uow.session).update(lead["lead_id"], **values)
        return {**lead, **values}

    async def _tell_the_workflow(self, before: dict[str, Any], lead: dict[str, Any], document: PoolDocument,
                                 now: datetime) -> None:
        """After the commit, best effort: the workflow re-reads the lead before it recycles it."""
        workflow_id = ownership_workflow_id(str(before["lead_id"]), before["ownership_seq"])
        try:
            if lead["status"] != PoolStatus.owned:
                await self.clock.end_ownership(workflow_id, "dispositioned")
                return
            remind_s = remind_before(document.rules_of(lead["pool_id"])).total_seconds()
            await self.clock.signal_follow_up(terms_of(lead, remind_s), FollowedUp(now, lead["inactivity_deadline"]))
        except Exception as exc:  # Temporal away, or the workflow gone
            log.warning("follow-up not told to its ownership workflow", workflow_id=workflow_id, error=repr(exc))

    # ---- tasks ---------------------------------------------------------------------------------------------

    async def create_tasks(self, author: Author, request: TaskRequest) -> dict[str, Any]:
        """One task per lead, for the given assignee or each lead's owner; leads with neither are skipped."""
        if len(request.lead_ids) > MAX_LEADS_PER_REQUEST:
            raise WorkRefused(Refusal(
                422, "too_many_leads",
                f"at most {MAX_LEADS_PER_REQUEST:,} leads a request, got {len(request.lead_ids):,}",
                f"每次最多 {MAX_LEADS_PER_REQUEST:,} 条线索，实际 {len(request.lead_ids):,} 条"),
                max_leads=MAX_LEADS_PER_REQUEST)
        now = datetime.now(UTC)
        request = request.model_copy(update={"due_at": self.zoned(request.due_at)})
        lead_ids = list(dict.fromkeys(request.lead_ids))
        async with self.pool.db.uow() as uow:
            owners = dict((await uow.session.execute(
                select(pool_leads.c.lead_id, pool_leads.c.owner_id).where(pool_leads.c.lead_id.in_(lead_ids))
            )).all())
            rows, skipped = [], []
            for lead_id in lead_ids:
                assignee = request.assignee_id or owners.get(lead_id)
                if lead_id not in owners or not assignee:
                    skipped.append(lead_id)
                    continue
                rows.append(dict(id=uuid.uuid4(), lead_id=lead_id, assignee_id=assignee, kind=request.kind,
                                 title=request.title, note=request.note, due_at=request.due_at,
                                 status=TaskStatus.open, campaign=request.campaign, created_by=author.id,
                                 created_at=now))
            if rows:
                await uow.session.execute(insert(tasks), rows)
                await record_many(uow.session, [dict(
                    lead_id=r["lead_id"], kind="task", at=now, actor=author.id, owner_id=r["assignee_id"],
                    detail={"task_id": str(r["id"]), "kind": str(request.kind), "title": request.title,
                            "due_at": request.due_at.isoformat(), "campaign": request.campaign}) for r in rows])
            await uow.commit()
        return {"created": len(rows), "skipped": len(skipped), "skipped_lead_ids": skipped}

    async def complete_task(self, task_id: uuid.UUID, author: Author) -> dict[str, Any]:
        now = datetime.now(UTC)
        async with self.pool.db.uow() as uow:
            task = (await uow.session.execute(
                select(tasks).where(tasks.c.id == task_id).with_for_update())).mappings().first()
            if task is None:
                raise Refused(Refusal(404, "unknown_task", f"no task {task_id}", f"任务 {task_id} 不存在"))
            if task["assignee_id"] != author.id and not author.is_manager:
                raise Refused(Refusal(403, "not_your_task", f"task {task_id} is {task['assignee_id']}'s, not yours",
                                      f"任务 {task_id} 属于 {task['assignee_id']}，不是您的"))
            if task["status"] != TaskStatus.open:
                raise Refused(Refusal(409, "task_closed", f"task {task_id} is {task['status']} already",
                                      f"任务 {task_id} 已是 {task['status']} 状态"))
            await uow.session.execute(update(tasks).where(tasks.c.id == task_id)
                                      .values(status=TaskStatus.done, done_at=now))
            await uow.commit()
        return {**dict(task), "status": TaskStatus.done, "done_at": now, "overdue": False}


def _follow_up_detail(follow_up_id: uuid.UUID, request: FollowUpRequest, visit: VisitCheck | None) -> dict[str, Any]:
    detail: dict[str, Any] = {"follow_up_id": str(follow_up_id), "type": str(request.type),
                              "outcome": request.outcome, "note": request.note,
                              "flags": [str(f) for f in visit.flags] if visit else []}
    if request.next_follow_up_at:
        detail["next_follow_up_at"] = request.next_follow_up_at.isoformat()
    if visit and visit.speed_kmh is not None and visit.speed_kmh != float("inf"):
        detail["speed_kmh"] = round(visit.speed_kmh, 1)
    return detail


_NO_DEADLINES = dict(next_deadline=None, deadline_kind=None, first_follow_up_deadline=None, inactivity_deadline=None,
                     conversion_deadline=None, protected_until=None, owned_via=None, owner_since=None, workflow_id=None)
