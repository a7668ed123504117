"""风控: signs that a submission is not a real prospect. Flagged leads are stored, not routed."""

from __future__ import annotations

from dataclasses import dataclass

from leadflow_intake.domain.lead import CleanLead


@dataclass(frozen=True)
class RiskPolicy:
    """Every threshold is a setting (LEADFLOW_INTAKE_*)."""

    burst_window_s: int = 600
    max_per_ip: int = 20  # leads from one visitor IP within the window
    max_per_device: int = 5  # leads from one device within the window
    disposable_domains: frozenset[str] = frozenset()


@dataclass(frozen=True)
class RecentTraffic:
    """How many submissions the same visitor made within the window (before this one)."""

    by_ip: int = 0
    by_device: int = 0


def assess(lead: CleanLead, policy: RiskPolicy, recent: RecentTraffic, blocked: list[str]) -> list[str]:
    """Reasons to hold the lead back; empty when it may be routed."""
    reasons = [f"blocklisted_{what}" for what in blocked]
    if lead.email_domain and lead.email_domain in policy.disposable_domains:
        reasons.append("disposable_email")
    if lead.client_ip and recent.by_ip >= policy.max_per_ip:
        reasons.append("ip_burst")
    if lead.device_id and recent.by_device >= policy.max_per_device:
        reasons.append("device_burst")
    return reasons
