"""A follow-up (跟进) by a lead's owner, and an SDR's verdict after cleansing the lead (线索清洗): what must hold
before either is recorded, as pure rules. Each refusal carries its HTTP status and its reason in English and
Chinese."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from leadflow_shared.refusals import Refusal


class FollowUpType(StrEnum):
    call = "call"
    visit = "visit"  # 上门拜访: checked in with the phone's position
    wechat = "wechat"
    email = "email"
    meeting = "meeting"


class Disposition(StrEnum):
    qualified = "qualified"  # handed to sales, with BANT answers
    nurture = "nurture"  # 培育池: back to marketing
    invalid = "invalid"  # 无效线索

    @property
    def ends_ownership(self) -> bool:
        return self is not Disposition.qualified


@dataclass(frozen=True)
class Author:
    """Who records the follow-up: his id and roles, and the teams he manages."""

    id: str
    roles: frozenset[str]
    teams: frozenset[str]

    @property
    def is_manager(self) -> bool:
        return "manager" in self.roles or "admin" in self.roles

    def manages(self, team_id: str | None) -> bool:
        return "admin" in self.roles or ("manager" in self.roles and (team_id is None or team_id in self.teams))


@dataclass(frozen=True)
class FollowUpSituation:
    lead_id: str
    status: str | None  # None: pool does not know the lead
    owner_id: str | None
    team_id: str | None


def follow_up_refusal(author: Author, s: FollowUpSituation, *, has_location: bool, visit: bool,
                      disposition: Disposition | None, reason: str | None,
                      reasons: dict[str, Sequence[str]]) -> Refusal | None:
    """None when the follow-up may be recorded; the first reason it may not otherwise. `reasons`: the codes of
    the managed lists by disposition (nurture, invalid)."""
    if s.status is None:
        return Refusal(404, "unknown_lead", f"pool has no lead {s.lead_id}", f"公海中没有线索 {s.lead_id}")
    if s.owner_id != author.id and not author.manages(s.team_id):
        return Refusal(403, "not_yours", f"lead {s.lead_id} is not yours: you follow up only the leads you hold",
                       f"线索 {s.lead_id} 不归您负责：您只能跟进自己持有的线索")
    if s.status != "owned" or not s.owner_id:
        return Refusal(409, "not_owned", f"lead {s.lead_id} is {s.status}: only a lead someone holds is followed up",
                       f"线索 {s.lead_id} 当前状态为 {s.status}：只有被持有的线索才能跟进")
    if visit and not has_location:
        return Refusal(422, "location_required", "a visit is recorded with the position you checked in at "
                       "(location: latitude, longitude, accuracy_m)", "上门拜访须附带签到定位（location：纬度、经度、精度）")
    if disposition is None:
        return None
    if not ({"sdr", "manager", "admin"} & author.roles):
        return Refusal(403, "not_an_sdr", "a disposition (qualified, nurture, invalid) is an SDR's verdict",
                       "线索清洗结论（合格、培育、无效）只能由 SDR 给出")
    if disposition.ends_ownership:
        codes = list(reasons.get(disposition, ()))
        if reason not in codes:
            return Refusal(422, "unknown_reason",
                           f"a {disposition} disposition needs a reason among: {', '.join(codes)}",
                           f"{'培育' if disposition is Disposition.nurture else '无效'}结论须选择原因，可选：{'、'.join(codes)}")
    return None
