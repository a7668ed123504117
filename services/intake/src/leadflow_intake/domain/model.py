"""The lead as intake takes it, and the status a partner sees it move through (for settlement)."""

from __future__ import annotations

from enum import StrEnum


class LeadStatus(StrEnum):
    flagged = "flagged"  # held back as suspicious (风控), not routed
    received = "received"
    scored = "scored"
    assigned = "assigned"
    converted = "converted"
    lost = "lost"


# A status only moves forward, whatever order the other services' events arrive in.
_PROGRESSION = [LeadStatus.received, LeadStatus.scored, LeadStatus.assigned, LeadStatus.converted]


def advance(current: LeadStatus, reported: LeadStatus) -> LeadStatus:
    """The status after another service reports `reported`; `lost` and `converted` are final."""
    if current in (LeadStatus.converted, LeadStatus.lost, LeadStatus.flagged):
        return current
    if reported == LeadStatus.lost:
        return reported
    return max(current, reported, key=_PROGRESSION.index)
