"""What the demo prints at the end, each figure from a service's public API: the funnel of this run's leads,
the distribution per rep, the recycles and the collusion flags; then where to look further."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from leadflow_localstack import services as services_mod
from leadflow_localstack import stack as stack_mod
from leadflow_localstack.paths import local_dir
from leadflow_localstack.scenario.api import Platform, ScenarioFailed
from leadflow_localstack.scenario.documents import Cast
from leadflow_localstack.scenario.setup import Keys, Tokens
from leadflow_localstack.scenario.tally import Tally
from leadflow_localstack.scenario.watch import Handovers, RecycleWatch

VARIANTS = {"another_partner": "another partner", "company_typo": "company name typo'd",
            "mobile_format": "mobile written otherwise", "wechat_is_mobile": "WeChat id = mobile",
            "email_only": "e-mail only (other case)"}


def intake_lines(tally: Tally, submissions: int) -> str:
    o = tally.outcomes
    merged = ", ".join(f"{VARIANTS[k]} {n}" for k, n in sorted(tally.merged_variants.items()))
    return (f"[bold]intake[/] (POST /v1/leads/batch): {submissions:,} submissions → created {o['created']:,} · "
            f"merged {o['merged']:,} · flagged {o['flagged']:,} · rejected {o['rejected']:,}\n"
            f"  duplicates seen through: {merged or 'none'}\n"
            f"[bold]scoring[/] (POST /v1/activities): {tally.activities:,} activities; {tally.warming_posted} "
            f"nurtured leads warmed up, {tally.warmed} of them now MQL")


def funnel_table(report: dict[str, Any], by_source: dict[str, Any]) -> Table:
    table = Table(title="GET :8005/v1/reports/funnel?partner=<this run's partners> (销售漏斗)")
    table.add_column("step")
    table.add_column("count", justify="right")
    table.add_column("rate", justify="right")
    for step in report["steps"]:
        table.add_row(step["label"], f"{step['count']:,}", f"{step['rate']:.0%}" if step["rate"] is not None else "")
    table.add_row("won amount", f"¥{report.get('won_amount', 0):,.0f}", "")
    table.add_row("realized (paid)", f"¥{report.get('realized_amount', 0):,.0f}", "")
    table.caption = "by source: " + " · ".join(
        f"{g['group']} {g['steps'][0]['count']}→{g['steps'][-2]['count']} won" for g in by_source.get("groups", []))
    return table


def distribution_table(rows: list[dict[str, Any]], cast: Cast, held: dict[str, int]) -> Table:
    table = Table(title="GET :8003/v1/reports/distribution?team=<each manager's>&from=<run start> (leads assigned "
                        "per rep)")
    for column in ("rep", "team", "tier", "assigned", "A", "B", "C", "D", "holds now"):
        table.add_column(column, justify="right" if column not in ("rep", "team") else "left")
    by_rep = {r["rep_id"]: r for r in rows}
    for rep in cast.reps:
        row = by_rep.get(rep.id, {"leads": 0, "by_grade": {}})
        grades = row["by_grade"]
        table.add_row(f"{rep.name} {rep.id}", rep.team, str(rep.tier), str(row["leads"]),
                      *(str(grades.get(g, 0)) for g in "ABCD"), str(held.get(rep.id, 0)))
    return table


def recycles_table(watch: RecycleWatch, tally: Tally, cast: Cast) -> Table:
    names = {r.id: r.name for r in cast.reps}
    table = Table(title=f"回收 {tally.recycled} (of {tally.neglected} neglected ownerships) → 二次分配 "
                        f"{tally.reassigned} (GET :8004/v1/leads/<id>/timeline)")
    for column in ("lead", "neglected by", "why", "assigned again to"):
        table.add_column(column)
    for r in list(watch.recycled.values())[:8]:
        table.add_row(r.lead_id, names.get(r.from_rep, r.from_rep), r.reason,
                      names.get(r.to_rep or "", r.to_rep or "(waits in its pool)"))
    return table


def collusion_table(flags: list[dict[str, Any]], tally: Tally, handovers: Handovers) -> Table:
    blocked = (f"{tally.blocked_claims} of his claims refused once flagged" if handovers.blocks
               else "their pool does not refuse flagged pairs")
    table = Table(title=f"串通 GET :8004/v1/reports/collusion?from=<run start>: {len(flags)} flag(s). Staged: "
                        f"{handovers.dropper.rep.id} released {handovers.done} lead(s) straight into "
                        f"{handovers.taker.rep.id}'s claims; {blocked}")
    for column in ("kind", "released by", "claimed by", "occurrences", "leads"):
        table.add_column(column)
    for f in flags:
        table.add_row(f["kind"], f["released_by"], f["claimed_by"], str(f["occurrences"]), str(len(f["lead_ids"])))
    return table


async def save_funnel_chart(api: Platform, admin: str, partners: list[str]) -> Path:
    params = [("partner", p) for p in partners] + [("format", "svg")]
    reply = await api.http.get(api.urls["opportunity"] + "/v1/reports/funnel", params=params,
                               headers={"Authorization": f"Bearer {admin}"})
    if reply.status_code != 200:
        raise ScenarioFailed(f"opportunity: the funnel chart answered {reply.status_code}: {reply.text[:300]}")
    path = local_dir() / "demo" / "funnel.svg"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(reply.content)
    return path


def where_to_look(services: dict[str, Any], chart: Path, partners: list[str]) -> str:
    lines = ["[bold]leadflow is running[/] (stop it with: .venv/bin/leadflow down). Where to look:"]
    lines += [f"  {name:<12} API docs  {services_mod.service_url(s, '/schema')}" for name, s in services.items()
              if name != "console"]
    if "console" in services:
        lines.append(f"  {'console':<12} pages     {services_mod.service_url(services['console'])}")
    ui = stack_mod.StackState.load().components.get("temporal", {}).get("ports", {}).get("temporal_ui")
    if ui:
        lines.append(f"  Temporal UI (the ownership workflows, ownership-<lead>-<n>)  http://127.0.0.1:{ui}")
    query = "&".join(f"partner={p}" for p in partners)
    lines += [f"  the funnel chart  {chart}",
              f"    live: {services_mod.service_url(services['opportunity'])}/v1/reports/funnel?format=svg&{query} "
              "(or format=png) with a staff token: .venv/bin/leadflow staff token --user demo-admin --role admin",
              f"  logs  {local_dir() / 'logs'}"]
    return "\n".join(lines)


async def print_report(console: Console, api: Platform, cast: Cast, keys: Keys, tokens: Tokens, tally: Tally,
                       watch: RecycleWatch, handovers: Handovers, services: dict[str, Any], started: datetime,
                       submissions: int) -> None:
    partners = keys.partner_ids()
    console.print(intake_lines(tally, submissions))
    console.print(funnel_table(await api.funnel(tokens.admin, partners),
                               await api.funnel(tokens.admin, partners, group="source")))
    held = {rep.id: len(await api.my_leads(tokens.reps[rep.id])) for rep in cast.reps}
    rows = []
    for team, manager in tokens.managers.items():
        rows += await api.distribution(manager, started, team)
    console.print(distribution_table(rows, cast, held))
    console.print(recycles_table(watch, tally, cast))
    console.print(collusion_table(await api.collusion(tokens.admin, started), tally, handovers))
    console.print(f"the reps' day (their whole lists, leads of earlier runs too): "
                  f"claims {tally.claims} (refused: {dict(tally.claim_refusals) or 'none'}) · releases "
                  f"{tally.releases} · follow-ups {tally.follow_ups} (visits {tally.visits}) · accepted "
                  f"{tally.accepted} · converted {tally.converted} · won {tally.won} · lost {tally.lost} · paid "
                  f"{tally.paid} (¥{tally.paid_amount:,.0f})")
    chart = await save_funnel_chart(api, tokens.admin, partners)
    console.print(where_to_look(services, chart, partners))
