"""Who hears of an event: the rep it concerns (the owner reminded of a deadline, the one whose lead was recycled,
the owner of a lead a new submission collided with, the rep given a lead), or, for a collusion flag, those who
watch a team either rep belongs to (never the two reps themselves)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from leadflow_notify.domain.model import Kind, Recipient

TOPIC_KINDS: dict[str, Kind] = {
    "leads.deadline_approaching.v1": Kind.deadline,
    "leads.recycled.v1": Kind.recycled,
    "leads.duplicate_detected.v1": Kind.duplicate,
    "leads.assigned.v1": Kind.assigned,
    "leads.collusion_suspected.v1": Kind.collusion,
}


def addressee(kind: Kind, data: Any) -> str | None:
    """The one person an event of a personal kind is for; None when it names nobody (a lead recycled from a
    pool, a collision with an unowned lead, an assignment to a pool or a queue)."""
    if kind == Kind.deadline:
        return data.owner_id or None
    if kind == Kind.recycled:
        return data.previous_owner_id or None
    if kind == Kind.duplicate:
        return data.current_owner_id or None
    if kind == Kind.assigned:
        return data.owner_id or None
    raise ValueError(f"{kind} has no single addressee")


def flagged_reps(data: Any) -> set[str]:
    """The reps a collusion flag names."""
    return {data.released_by, data.claimed_by}


def teams_of_flag(data: Any, team_of: Mapping[str, str]) -> set[str]:
    """The teams of the reps a collusion flag names, as far as notify has learnt them."""
    return {team_of[rep] for rep in flagged_reps(data) if rep in team_of}


def collusion_watchers(data: Any, team_of: Mapping[str, str], candidates: Iterable[Recipient]) -> list[Recipient]:
    """Those among `candidates` who watch a team of either rep (or every team), the reps themselves left out."""
    teams, reps = teams_of_flag(data, team_of), flagged_reps(data)
    return [r for r in candidates if r.person_id not in reps and r.watches(teams) and r.wants(Kind.collusion)]


def audience(kind: Kind, data: Any, known: Mapping[str, Recipient], team_of: Mapping[str, str]) -> list[Recipient]:
    """The recipients (of those `known`, by person id) that hear of an event and want its kind, each once."""
    if kind == Kind.collusion:
        return sorted(collusion_watchers(data, team_of, known.values()), key=lambda r: r.person_id)
    person = addressee(kind, data)
    recipient = known.get(person) if person else None
    return [recipient] if recipient is not None and recipient.wants(kind) else []


def lead_of(kind: Kind, data: Any) -> Any:
    """The lead a message links to (a collusion flag's first lead)."""
    if kind == Kind.collusion:
        return data.lead_ids[0] if data.lead_ids else None
    return getattr(data, "lead_id", None)
