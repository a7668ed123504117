"""What a claim (领取), release (放弃) or transfer (转移) must pass, as pure rules: each refusal carries its HTTP
status and its reason in English and Chinese."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from leadflow_pool.domain.pools import Pool, PoolRules
from leadflow_shared.refusals import Refusal


@dataclass(frozen=True)
class Claimant:
    id: str
    teams: tuple[str, ...]
    roles: tuple[str, ...]

    @property
    def is_manager(self) -> bool:
        return "manager" in self.roles or "admin" in self.roles


@dataclass(frozen=True)
class ClaimSituation:
    """What the claim is decided on, read under the lead's row lock and the claimant's lock."""

    lead_id: str
    status: str
    owner_id: str | None
    pool_id: str
    pool: Pool | None
    rules: PoolRules
    held_from_pool: int  # leads the claimant holds from this pool
    claimed_today: int  # claims he made from this pool today (business timezone)
    lost_at: datetime | None  # when he last lost this lead (released, recycled or transferred away)
    collusion_with_last_owner: bool  # flagged with the lead's last owner, and the pool blocks such claims
    now: datetime


def claim_refusal(claimant: Claimant, s: ClaimSituation) -> Refusal | None:
    """None when the claim may go ahead; the first reason it may not otherwise."""
    if s.status != "in_pool":
        return _not_claimable(s)
    if s.pool is not None and not s.pool.may_claim(claimant.id, claimant.teams, claimant.roles):
        return Refusal(403, "not_a_member",
                       f"you are not a member of pool {s.pool_id} who may claim from it",
                       f"您不是公海 {s.pool_id} 的领取成员，不能领取")
    if s.held_from_pool >= s.rules.max_held:
        return Refusal(409, "holding_limit",
                       f"you already hold {s.held_from_pool} leads from pool {s.pool_id}, its limit is {s.rules.max_held}",
                       f"您已持有公海 {s.pool_id} 的线索 {s.held_from_pool} 条，已达上限 {s.rules.max_held} 条")
    if s.claimed_today >= s.rules.claims_per_day:
        return Refusal(409, "daily_limit",
                       f"you made {s.claimed_today} claims from pool {s.pool_id} today, its daily limit is "
                       f"{s.rules.claims_per_day}",
                       f"您今天已从公海 {s.pool_id} 领取 {s.claimed_today} 条，已达每日上限 {s.rules.claims_per_day} 条")
    cooldown_ends = s.lost_at + timedelta(days=s.rules.cooldown_days) if s.lost_at else None
    if cooldown_ends and s.now < cooldown_ends:
        return Refusal(409, "cooldown",
                       f"you held this lead until {s.lost_at:%Y-%m-%d %H:%M}; a previous owner may claim it again "
                       f"after {s.rules.cooldown_days} days ({cooldown_ends:%Y-%m-%d %H:%M})",
                       f"您曾负责该线索（至 {s.lost_at:%Y-%m-%d %H:%M}），前负责人 {s.rules.cooldown_days} 天内不能领取"
                       f"（{cooldown_ends:%Y-%m-%d %H:%M} 后可领）")
    if s.collusion_with_last_owner:
        return Refusal(409, "collusion",
                       "claims of leads its last owner dropped are blocked for you: the pair is flagged for collusion",
                       "您与该线索的前负责人被标记为疑似串通，不能领取其放弃或回收的线索")
    return None


def _not_claimable(s: ClaimSituation) -> Refusal:
    if s.status == "owned":
        return Refusal(409, "already_owned", f"lead {s.lead_id} was claimed or assigned already",
                       f"线索 {s.lead_id} 已被领取或分配")
    return Refusal(409, "not_in_pool", f"lead {s.lead_id} is not in a pool (it is {s.status})",
                   f"线索 {s.lead_id} 不在公海中（当前状态：{s.status}）")


def release_refusal(caller: Claimant, status: str, owner_id: str | None, reason: str | None,
                    reason_codes: Iterable[str]) -> Refusal | None:
    codes = list(reason_codes)
    if status != "owned" or owner_id is None:
        return Refusal(409, "not_owned", "the lead has no owner to release it", "该线索当前没有负责人，无法放弃")
    if owner_id != caller.id and not caller.is_manager:
        return Refusal(403, "not_yours", "only the lead's owner (or a manager) may release it",
                       "只有线索的负责人（或主管）可以放弃该线索")
    if reason not in codes:
        return Refusal(422, "unknown_reason", f"reason must be one of: {', '.join(codes)}",
                       f"放弃原因须为以下之一：{'、'.join(codes)}")
    return None


@dataclass(frozen=True)
class TransferTarget:
    to_owner_id: str | None
    to_pool: Pool | None
    to_pool_id: str | None


def transfer_refusal(caller: Claimant, from_pool: Pool | None, status: str, target: TransferTarget) -> Refusal | None:
    """A manager of the lead's pool may move it to a rep or another pool; a member (claimer) of both pools may
    move it between them."""
    if (target.to_owner_id is None) == (target.to_pool_id is None):
        return Refusal(422, "one_target", "give either to_owner_id or to_pool_id", "请指定转移对象：to_owner_id 或 to_pool_id 之一")
    if status not in ("in_pool", "owned"):
        return Refusal(409, "not_transferable", f"a lead that is {status} cannot be transferred",
                       f"状态为 {status} 的线索不能转移")
    if target.to_pool_id is not None and target.to_pool is None:
        return Refusal(422, "unknown_pool", f"unknown pool {target.to_pool_id}", f"公海 {target.to_pool_id} 不存在")
    if _manages(caller, from_pool):
        return None
    member_of_both = (target.to_pool is not None and from_pool is not None
                      and from_pool.may_claim(caller.id, caller.teams, caller.roles)
                      and target.to_pool.may_claim(caller.id, caller.teams, caller.roles))
    if member_of_both:
        return None
    return Refusal(403, "may_not_transfer",
                   "only a manager of the lead's pool, or a member of both pools (between pools), may transfer it",
                   "只有该公海的管理者，或同时属于两个公海的成员（在公海之间）可以转移线索")


def _manages(caller: Claimant, pool: Pool | None) -> bool:
    if "admin" in caller.roles:
        return True
    if pool is None:
        return caller.is_manager
    return pool.may_manage(caller.id, caller.teams, caller.roles)
