"""库存线索激活 (stock-lead reactivation): leads idle in a pool long enough are offered to marketing to
re-engage (leads.reactivation_candidates.v1), never one that asked not to be contacted, each at most once in
`min_interval_days`, and at most `daily_cap` a day (Beijing date). A Temporal Schedule runs it
(ReactivationWorkflow → the `select_reactivation_candidates` activity → `select_candidates` here)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert

from leadflow_pool.domain.calendar import CHINA
from leadflow_pool.domain.model import PoolStatus
from leadflow_pool.settings import PoolSettings
from leadflow_pool.tables import pool_leads, reactivation_days
from leadflow_shared.contracts import LEADS_REACTIVATION_CANDIDATES, ReactivationCandidate
from leadflow_shared.db import UnitOfWork


@dataclass(frozen=True)
class ReactivationPolicy:
    """How idle a lead must be, how often it may be touched, how many a day (the workflow's input)."""

    idle_days: int = 30
    min_interval_days: int = 30
    daily_cap: int = 500

    @classmethod
    def of(cls, settings: PoolSettings) -> ReactivationPolicy:
        return cls(settings.reactivation_idle_days, settings.reactivation_min_interval_days,
                   settings.reactivation_daily_cap)


async def select_candidates(uow: UnitOfWork, policy: ReactivationPolicy, now: datetime) -> int:
    """Pick today's candidates, mark them touched, count them against the day's cap and publish each, in the
    caller's transaction (committed by the caller); how many were picked."""
    session = uow.session
    today = now.astimezone(CHINA).date()
    # The day's row, locked until commit: two runs at once count the cap one after the other.
    already = await session.scalar(
        insert(reactivation_days).values(day=today, selected=0)
        .on_conflict_do_update(index_elements=["day"], set_={"selected": reactivation_days.c.selected})
        .returning(reactivation_days.c.selected))
    room = policy.daily_cap - int(already or 0)
    if room <= 0:
        return 0
    idle_since = func.coalesce(pool_leads.c.pooled_at, pool_leads.c.received_at)
    touched_before = now - timedelta(days=policy.min_interval_days)
    rows = (await session.execute(
        select(pool_leads.c.lead_id, pool_leads.c.pool_id, pool_leads.c.grade, pool_leads.c.name,
               pool_leads.c.mobile, pool_leads.c.email, idle_since.label("idle_since"))
        .where(pool_leads.c.status == PoolStatus.in_pool,
               idle_since < now - timedelta(days=policy.idle_days),
               pool_leads.c.do_not_contact.is_(False),
               (pool_leads.c.last_touched_at.is_(None)) | (pool_leads.c.last_touched_at < touched_before))
        .order_by(idle_since, pool_leads.c.lead_id)
        .limit(room)
        .with_for_update(of=pool_leads, skip_locked=True)
    )).all()
    if not rows:
        return 0
    await session.execute(update(pool_leads).where(pool_leads.c.lead_id.in_([r.lead_id for r in rows]))
                          .values(last_touched_at=now))
    await session.execute(update(reactivation_days).where(reactivation_days.c.day == today)
                          .values(selected=reactivation_days.c.selected + len(rows)))
    await uow.publish_many([(LEADS_REACTIVATION_CANDIDATES, row.lead_id, ReactivationCandidate(
        lead_id=row.lead_id, pool_id=row.pool_id, idle_days=(now - row.idle_since).days, grade=row.grade,
        name=row.name, mobile=row.mobile, email=row.email, selected_at=now)) for row in rows])
    return len(rows)
