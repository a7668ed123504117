"""The platform the scenario runs on: the stack and the five services, pool with deadlines in minutes; the
demo's documents loaded, its partners and keys made the way an operator makes them (`leadflow …`); staff
tokens for its people."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from rich.console import Console

from leadflow_localstack import procs
from leadflow_localstack import services as services_mod
from leadflow_localstack import stack as stack_mod
from leadflow_localstack.paths import local_dir
from leadflow_localstack.scenario.api import ScenarioFailed
from leadflow_localstack.scenario.catalogue import SENDERS
from leadflow_localstack.scenario.documents import Cast, documents_dir
from leadflow_shared.settings import LeadflowSettings
from leadflow_shared.staff import issue_token

console = Console(soft_wrap=True)
POOL_MARK = "demo-pool.json"  # which pool process runs with the demo's settings
TOKEN_TTL = timedelta(hours=8)
HANDOVER_S = 5  # the demo's collusion window: a claim this soon after a colleague's drop is a handover


def demo_env(day_minutes: float) -> dict[str, str]:
    """Pool's settings for the demo: a business day of `day_minutes`; collusion looked for every few seconds,
    and a handover only a claim within seconds of the drop: with days of minutes, hundreds of leads change
    hands in the 72 clock hours pool counts by default, and every pair of colleagues would be flagged."""
    return {"LEADFLOW_BUSINESS_DAY_MINUTES": f"{day_minutes:g}", "LEADFLOW_COLLUSION_SCAN_S": "5",
            "LEADFLOW_COLLUSION_HANDOVER_HOURS": f"{HANDOVER_S / 3600:.6f}"}


def start_platform(day_minutes: float) -> dict[str, Any]:
    """Stack and services up (what is running is kept); pool restarted when it runs without the demo's
    deadlines, since a setting is read once, at start."""
    stack_mod.up()
    env = demo_env(day_minutes)
    _restart_pool_unless(env)
    services = services_mod.up(extra_env=env)
    _remember_pool(env)
    return services


def _pool_process() -> dict[str, Any]:
    return stack_mod.StackState.load().services.get("pool", {})


def _restart_pool_unless(env: dict[str, str]) -> None:
    info = _pool_process()
    if not procs.alive(info):
        return
    mark = local_dir() / POOL_MARK
    known = json.loads(mark.read_text()) if mark.exists() else {}
    if known == {"pid": info["pid"], "started": info.get("started"), "env": env}:
        return
    console.print(f"[yellow]pool runs without the demo's deadlines: restarting it with "
                  f"{' '.join(f'{k}={v}' for k, v in env.items())}[/]")
    services_mod.down(["pool"])


def _remember_pool(env: dict[str, str]) -> None:
    info = _pool_process()
    (local_dir() / POOL_MARK).write_text(json.dumps({"pid": info["pid"], "started": info.get("started"),
                                                     "env": env}))


# ---- operators' commands -------------------------------------------------------------------------------

def leadflow(*command: str) -> str:
    """Run `leadflow …` as an operator would; its output, or the scenario fails with it."""
    env = {**os.environ, **stack_mod.stack_env()}
    made = subprocess.run([str(Path(sys.executable).parent / "leadflow"), *command], capture_output=True,
                          text=True, env=env)
    if made.returncode != 0:
        raise ScenarioFailed(f"`leadflow {' '.join(command)}` failed: {(made.stderr or made.stdout).strip()}")
    return made.stdout


@dataclass(frozen=True)
class Keys:
    partners: dict[str, tuple[str, str]]  # sender → (partner id, API key)
    tracker: str  # scoring's key for the website tracker's activities

    def of(self, sender: str) -> str:
        return self.partners[sender][1]

    def partner_ids(self) -> list[str]:
        return [pid for pid, _ in self.partners.values()]


def load_and_make_keys(run: str) -> Keys:
    """The organisation and its rules loaded, then the pools, the partners and the tracker's key side by side:
    each `leadflow` command is a Python start-up of seconds."""
    folder = documents_dir()
    load_organisation(folder / "org.yaml", folder / "rules.yaml")
    with ThreadPoolExecutor(max_workers=len(SENDERS) + 2) as workers:
        pools = workers.submit(leadflow, "pools", "load", str(folder / "pools.yaml"))
        made = {s.key: workers.submit(leadflow, "partners", "create", f"{s.name} {run}", "--rate", "50/s")
                for s in SENDERS}
        tracker = workers.submit(leadflow, "scoring", "keys", "create", f"官网访客追踪 {run}")
        pools.result()
        return Keys({key: _partner(future.result()) for key, future in made.items()}, _last_line(tracker.result()))


def load_organisation(org: Path, rules: Path) -> None:
    """`leadflow org load`, then `leadflow assignment rules load`. Each is checked against the other in force,
    so an organisation whose teams the rules in force still name (another demo's) cannot come first, nor its
    rules: it goes in through a bridge, the organisation in force and the new one together."""
    try:
        leadflow("org", "load", str(org))
    except ScenarioFailed as exc:
        if "(rules version" not in str(exc):
            raise
        bridge = bridged(yaml.safe_load(leadflow("org", "export")), yaml.safe_load(org.read_text(encoding="utf-8")))
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "bridge-org.yaml"
            path.write_text(yaml.safe_dump(bridge, allow_unicode=True, sort_keys=False), encoding="utf-8")
            leadflow("org", "load", str(path))
        leadflow("assignment", "rules", "load", str(rules))
        leadflow("org", "load", str(org))
        return
    leadflow("assignment", "rules", "load", str(rules))


def bridged(current: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """Both organisations in one: the new one's teams, territories and reps, and the current one's the new
    one lacks (by id)."""
    current = current or {}
    merged: dict[str, Any] = {}
    for section in ("teams", "territories", "reps"):
        ids = {item["id"] for item in new.get(section) or []}
        merged[section] = [*(new.get(section) or []), *(i for i in current.get(section) or [] if i["id"] not in ids)]
    return merged


def _last_line(output: str) -> str:
    return output.strip().splitlines()[-1].strip()


def _partner(output: str) -> tuple[str, str]:
    """(partner id, key) from `leadflow partners create`: the id in its first line, the key alone on the last."""
    found = re.search(r"\bp_[0-9a-f]+\b", output)
    if not found:
        raise ScenarioFailed(f"`leadflow partners create` printed no partner id: {output}")
    return found.group(0), _last_line(output)


# ---- staff tokens --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Tokens:
    reps: dict[str, str]
    managers: dict[str, str]  # team → its manager's token
    admin: str
    finance: str


def staff_tokens(cast: Cast) -> Tokens:
    """Tokens signed with the stack's key, as `leadflow staff token` signs them (the same function, here in
    process: a command per person would cost a few seconds each)."""
    key_file = stack_mod.staff_env().get("LEADFLOW_STAFF_SIGNING_KEY_FILE")
    if not key_file:
        raise ScenarioFailed("no staff signing key: run `leadflow stack up`")
    settings = LeadflowSettings(staff_signing_key_file=Path(key_file))

    def sign(user: str, role: str, teams: list[str], name: str | None = None) -> str:
        return issue_token(settings, user, [role], teams, TOKEN_TTL, name=name)

    return Tokens(reps={r.id: sign(r.id, "rep", [r.team], r.name) for r in cast.reps},
                  managers={team: sign(manager, "manager", [team]) for team, manager in cast.managers.items()},
                  admin=sign("demo-admin", "admin", []), finance=sign("demo-billing", "finance", []))
