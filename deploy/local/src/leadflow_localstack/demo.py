"""`leadflow demo` (what `make demo` runs): the platform up and a sales team's day on it (the scenario
package: thousands of leads, reps at work, deadlines lapsing in minutes); `--quick`: one sample lead through
all five services, each service's view of it printed as it sees it. The platform is left running afterwards.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from collections.abc import Callable
from typing import Any

import httpx
import typer
from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from leadflow_localstack import scenario
from leadflow_localstack import services as services_mod
from leadflow_localstack import stack as stack_mod
from leadflow_localstack.components import StackError
from leadflow_localstack.scenario.api import ScenarioFailed
from leadflow_localstack.scenario.setup import load_organisation
from leadflow_shared.localenv import repo_root

console = Console(soft_wrap=True)

SAMPLE_LEAD = {
    "name": "張偉",
    "mobile": "+86 138-0013-8000",
    "email": "Zhang.Wei@Example.cn",
    "company_name": "上海示例科技有限公司",
    "title": "IT 总监",
    "province": "上海",
    "city": "上海",
    "industry": "software",
    "source": "channel_partner",
    "campaign": "2026-q4-webinar",
    "referrer": "rep-li-na",
    "product_interest": "CRM 企业版",
    # BANT answers (预算, 决策人, 需求, 时间): scoring qualifies the lead (MQL), so assignment routes it
    "bant": {"budget": "预算50万", "authority": "IT 总监, 决策人", "need": "替换现有CRM", "timeline": "3个月内"},
}

# service → (path of its view of a lead, what must be true of that view for the journey to be done)
JOURNEY: dict[str, tuple[str, Callable[[dict[str, Any]], bool]]] = {
    "intake": ("/v1/leads/{id}", lambda v: v.get("status") in ("assigned", "converted")),  # as the partner sees it
    "scoring": ("/v1/leads/{id}/score", lambda v: "grade" in v),
    "assignment": ("/v1/leads/{id}/assignment", lambda v: bool(v.get("decisions"))),
    "pool": ("/v1/leads/{id}", lambda v: v.get("status") in ("owned", "in_pool")),
    "opportunity": ("/v1/leads/{id}", lambda v: "status" in v),
}


def demo(
    leads: int = typer.Option(3000, min=200, help="Submissions the partners post (a mix: 200 at least)."),
    seed: int | None = typer.Option(None, help="Replays a run's people and choices (default: a new one)."),
    day_minutes: float = typer.Option(1.0, min=0.2, help="Minutes a business day lasts for pool."),
    wait: float = typer.Option(6.0, min=1, help="Minutes the reps' day may take before a stage that did not "
                                                 "happen fails the demo."),
    quick: bool = typer.Option(False, "--quick", help="The short path: one sample lead through the five "
                                                       "services, converted, won and paid."),
    timeout_s: float = typer.Option(60.0, help="--quick: how long to wait for the lead's journey."),
) -> None:
    """The platform on the local stack and a sales team's day on it: thousands of leads from three partners
    and the company's own channels, two teams of reps working them while deadlines lapse in minutes, then
    the funnel, the distribution, the recycles and the collusion flags. The platform is left running."""
    if quick:
        journey(timeout_s)
        return
    try:
        seed = seed if seed is not None else random.randrange(1, 10**6)
        scenario.run(console, leads, seed, day_minutes, wait)
    except (StackError, ScenarioFailed) as exc:
        console.print(f"[red]✗ {exc}[/]")
        raise typer.Exit(1) from exc


def journey(timeout_s: float) -> None:
    """Start the platform, send a sample lead through it and print each service's view of it."""
    try:
        stack_mod.up()
        services = services_mod.up()
    except StackError as exc:
        console.print(f"[red]✗ {exc}[/]")
        raise typer.Exit(1) from exc
    intake = services["intake"]
    # The sales organisation and assignment rules, as a platform team loads them from Git
    examples = repo_root() / "services" / "assignment" / "examples"
    try:
        load_organisation(examples / "org.yaml", examples / "rules.yaml")
    except ScenarioFailed as exc:
        console.print(f"[red]✗ {exc}[/]")
        raise typer.Exit(1) from exc
    _operator_key(["pools", "load", str(repo_root() / "services" / "pool" / "examples" / "pools.yaml")])
    key = _demo_partner_key()
    response = httpx.post(services_mod.service_url(intake, "/v1/leads"), json=SAMPLE_LEAD, timeout=10,
                          headers={"Authorization": f"Bearer {key}"})
    if response.status_code != 202:
        console.print(f"[red]✗ intake refused the sample lead: {response.status_code} {response.text}[/]")
        raise typer.Exit(1)
    lead_id = response.json()["lead_id"]
    console.print(Panel(json.dumps(response.json(), ensure_ascii=False, indent=2),
                        title="POST /v1/leads → 202 (intake)"))
    # staff endpoints take a staff token (JWT), signed with the stack's key as `leadflow staff token` signs
    staff = _operator_key(["staff", "token", "--user", "demo-admin", "--role", "admin", "--ttl", "1h"])
    keys = {"intake": key, **{name: staff for name in JOURNEY if name != "intake"}}
    views = follow_journey(services, lead_id, timeout_s, keys)
    for name, view in views.items():
        path = JOURNEY[name][0].format(id=lead_id)
        console.print(Panel(json.dumps(view, ensure_ascii=False, indent=2, default=str),
                            title=f"{name}: GET {path}"))
    missing = [n for n in JOURNEY if not JOURNEY[n][1](views.get(n, {}))]
    if missing:
        console.print(f"[red]✗ the lead did not reach: {', '.join(missing)} (see .local/logs/)[/]")
        raise typer.Exit(1)
    close_the_sale(services["opportunity"], lead_id, views["opportunity"], staff, timeout_s)
    print_urls(services)


def close_the_sale(opportunity: Any, lead_id: str, lead: dict[str, Any], admin: str, timeout_s: float) -> None:
    """The rep who owns the lead accepts and converts it, wins it with a contract, finance records the first
    payment (the sale is realized), and the funnel shows it."""
    owner, team = lead.get("owner_id"), lead.get("team_id")
    rep = _operator_key(["staff", "token", "--user", owner, "--role", "rep", "--ttl", "1h",
                         *(["--team", team] if team else [])]) if owner else admin
    finance = _operator_key(["staff", "token", "--user", "demo-billing", "--role", "finance", "--ttl", "1h"])

    def call(method: str, path: str, token: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        reply = httpx.request(method, services_mod.service_url(opportunity, path), json=body, timeout=10,
                              headers={"Authorization": f"Bearer {token}", "Accept-Language": "zh-CN"})
        if reply.status_code >= 300:
            console.print(f"[red]✗ {method} {path}: {reply.status_code} {reply.text}[/]")
            raise typer.Exit(1)
        return dict(reply.json())

    call("POST", f"/v1/leads/{lead_id}/accept", rep)
    made = call("POST", f"/v1/leads/{lead_id}/convert", rep, {"contact": {"title": "IT 总监"}, "opportunity": {
        "name": "CRM 企业版年度合同", "amount": 500000, "expected_close": "2027-03-31", "product_line": "crm"}})
    deal = made["opportunity_id"]
    call("POST", f"/v1/opportunities/{deal}/stage", rep, {"to": "negotiation"})
    call("POST", f"/v1/opportunities/{deal}/stage", rep, {"to": "won", "contract_ref": f"HT-DEMO-{deal[:8]}"})
    call("POST", "/v1/payments", finance, {"payment_id": f"demo-{deal}", "opportunity_id": deal, "amount": 100000,
                                            "received_at": datetime.now(UTC).isoformat()})
    shown = call("GET", f"/v1/opportunities/{deal}", rep)
    console.print(Panel(json.dumps({k: shown[k] for k in ("opportunity_id", "customer_id", "stage", "status",
                                                         "contract_ref", "realized_at", "realized_amount")}
                                   | {"history": [f"{h['from_stage'] or '(new)'} → {h['to_stage']} ({h['by']})"
                                                  for h in shown["history"]]}, ensure_ascii=False, indent=2),
                        title=f"opportunity: converted, won and paid (GET /v1/opportunities/{deal})"))
    deadline = time.monotonic() + timeout_s
    report: dict[str, Any] = {}
    while time.monotonic() < deadline:
        report = call("GET", "/v1/reports/funnel", admin)
        if report["steps"][-1]["count"] >= 1:
            break
        time.sleep(0.5)
    console.print(Panel("\n".join(f"{s['label']:<16} {s['count']:>6}" + (f"   {s['rate']:.0%}" if s["rate"] is not None
                                                                      else "") for s in report["steps"]),
                        title="GET /v1/reports/funnel (this month; also ?format=csv|svg|png)"))


def _demo_partner_key() -> str:
    """A channel partner for the demo, made the way an operator would: `leadflow partners create`."""
    return _operator_key(["partners", "create", "demo partner"])


def _operator_key(command: list[str]) -> str:
    """Run a `leadflow …` command that makes a key or token as an operator would; it is alone on the last
    line of its output."""
    env = {**os.environ, **stack_mod.stack_env()}
    made = subprocess.run([str(Path(sys.executable).parent / "leadflow"), *command],
                          capture_output=True, text=True, env=env)
    if made.returncode != 0:
        console.print(f"[red]✗ `leadflow {' '.join(command)}` failed: {made.stderr or made.stdout}[/]")
        raise typer.Exit(1)
    return made.stdout.strip().splitlines()[-1]


def follow_journey(services: dict[str, Any], lead_id: str, timeout_s: float, keys: dict[str, str]
                   ) -> dict[str, dict[str, Any]]:
    """Poll each service until its view of the lead shows it has done its part (or time runs out)."""
    views: dict[str, dict[str, Any]] = {}
    deadline = time.monotonic() + timeout_s
    with console.status("following the lead through the services"):
        while time.monotonic() < deadline:
            for name, (path, done) in JOURNEY.items():
                if name in views and done(views[name]):
                    continue
                headers = {"Authorization": f"Bearer {keys[name]}"} if name in keys else {}
                reply = httpx.get(services_mod.service_url(services[name], path.format(id=lead_id)), timeout=5,
                                  headers=headers)
                if reply.status_code == 200:
                    views[name] = reply.json()
            if all(n in views and JOURNEY[n][1](views[n]) for n in JOURNEY):
                break
            time.sleep(0.3)
    return views


def print_urls(services: dict[str, Any]) -> None:
    table = Table(title="leadflow is running (stop it with: .venv/bin/leadflow down)")
    table.add_column("service")
    table.add_column("url", no_wrap=True)
    for name, service in services.items():
        table.add_row(name, services_mod.service_url(service))
    console.print(table)
    console.print("Each serves /schema (OpenAPI), /health/live, /health/ready and /metrics.")
    for key, value in sorted(stack_mod.stack_env().items()):
        console.print(f"  {key}={value}")
    console.print("Logs: .local/logs/. `leadflow …` commands find these addresses by themselves (.local/env);\n"
                  "other tools, or a service run by hand: source .local/env. Next: .venv/bin/leadflow partners "
                  "create NAME, then POST /v1/leads with its key (README, intake); staff endpoints take a "
                  "token: .venv/bin/leadflow staff token --user rep-wang --role rep (README, Staff identity).")
