"""The demo's documents (deploy/local/demo/*.yaml) and the cast they describe: who sells in which team, who
manages it, which pool it claims from. The services validate the documents when they are loaded; the demo
only reads from them who is who."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from leadflow_localstack.scenario.catalogue import TEAM_OF_REGION
from leadflow_shared.localenv import repo_root


def documents_dir() -> Path:
    return repo_root() / "deploy" / "local" / "demo"


@dataclass(frozen=True)
class Rep:
    id: str
    name: str
    team: str
    tier: int
    field_sales: bool  # visits customers (地推) rather than calling them


@dataclass(frozen=True)
class Cast:
    reps: tuple[Rep, ...]
    managers: dict[str, str]  # team → its first manager
    pools: dict[str, str]  # team → the pool its reps claim from
    blocking_pools: frozenset[str]  # pools that refuse claims by a pair flagged for collusion

    def team_reps(self, team: str) -> list[Rep]:
        return [r for r in self.reps if r.team == team]

    def referrers(self) -> dict[str, list[str]]:
        """Region → the reps who refer or find its leads (the generator's `referrers`)."""
        return {region: [r.id for r in self.team_reps(team)] for region, team in TEAM_OF_REGION.items()}


def read_cast(folder: Path | None = None) -> Cast:
    folder = folder or documents_dir()
    org = _yaml(folder / "org.yaml")
    teams = {t["id"]: t for t in org["teams"]}
    reps = tuple(Rep(r["id"], r.get("name") or r["id"], r["team"], int(r.get("tier", 1)),
                     teams[r["team"]].get("sales_mode") == "field")
                 for r in org["reps"] if r.get("status", "active") == "active")
    pools = _yaml(folder / "pools.yaml")["pools"]
    return Cast(reps, {t: team["managers"][0] for t, team in teams.items()},
                {t: team["default_pool"] for t, team in teams.items()},
                frozenset(p["id"] for p in pools if (p.get("rules") or {}).get("block_collusion")))


def _yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))
