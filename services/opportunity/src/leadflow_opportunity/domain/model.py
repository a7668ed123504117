"""Leads that may become customers (线索转化): who works each one, whether sales accepted it (SQL), and who may
convert it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from leadflow_shared.refusals import Refusal


class ConversionStatus(StrEnum):
    open = "open"  # being worked by its owner, not converted yet
    unowned = "unowned"  # back in a pool
    converted = "converted"


def status_for_owner(owner_id: str | None) -> ConversionStatus:
    return ConversionStatus.open if owner_id else ConversionStatus.unowned


@dataclass(frozen=True)
class Actor:
    """Who asks: a staff member's id, roles and teams."""

    id: str
    roles: frozenset[str]
    teams: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    def manages(self, team_id: str | None) -> bool:
        """An admin manages every lead; a manager the leads of his teams (and leads of no team)."""
        if self.is_admin:
            return True
        return "manager" in self.roles and (team_id is None or team_id in self.teams)


def check_accept(lead: dict[str, Any] | None, actor: Actor) -> Refusal | None:
    """Sales accepts a lead (SQL): its owner, or a manager of its team for him."""
    if (refusal := _known_and_open(lead)) is not None:
        return refusal
    assert lead is not None
    if lead["accepted_at"] is not None:
        return Refusal(409, "already_accepted", "the lead was accepted already", "该线索已被销售认可")
    return _owner_or_manager(lead, actor)


def check_convert(lead: dict[str, Any] | None, actor: Actor) -> Refusal | None:
    """A lead converts once, by its owner once sales accepted it; a manager may convert it for the owner
    without (his override is recorded)."""
    if (refusal := _known_and_open(lead)) is not None:
        return refusal
    assert lead is not None
    if (refusal := _owner_or_manager(lead, actor)) is not None:
        return refusal
    if lead["accepted_at"] is None and not actor.manages(lead["team_id"]):
        return Refusal(409, "not_accepted", "accept the lead first (POST /v1/leads/{id}/accept): it is not a "
                       "sales-qualified lead yet", "请先认可该线索（POST /v1/leads/{id}/accept）：它还不是销售认可线索")
    return None


def _known_and_open(lead: dict[str, Any] | None) -> Refusal | None:
    if lead is None:
        return Refusal(404, "unknown_lead", "opportunity knows no such lead", "没有该线索")
    if lead["status"] == ConversionStatus.converted:
        return Refusal(409, "converted", "the lead has converted already", "该线索已转化")
    return None


def _owner_or_manager(lead: dict[str, Any], actor: Actor) -> Refusal | None:
    owner = lead["owner_id"]
    if owner == actor.id or actor.manages(lead["team_id"]):
        return None
    if owner is None:
        return Refusal(403, "not_owner", "the lead has no owner: claim it from its pool first",
                       "该线索无人跟进：请先从公海领取")
    return Refusal(403, "not_owner", "the lead is owned by someone else", "该线索由他人跟进")
