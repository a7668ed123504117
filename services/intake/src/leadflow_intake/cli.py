"""intake's commands: `leadflow partners …`, `leadflow import FILE`, `leadflow intake blocklist …`,
`leadflow intake dedupe-eval`."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Annotated

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from leadflow_intake.db import BlocklistRepository, PartnerRepository, metadata
from leadflow_intake.partners import hash_key, new_key, new_partner_id
from leadflow_intake.settings import IntakeSettings
from leadflow_shared.db import Database, run_transaction

console = Console(soft_wrap=True)
partners_app = typer.Typer(help="Channel partners and their API keys.", no_args_is_help=True)
blocklist_app = typer.Typer(help="Numbers, e-mails, domains and IP ranges whose leads are flagged (风控).",
                            no_args_is_help=True)
BLOCK_KINDS = ("mobile", "wechat", "email", "email_domain", "ip_range")


def _db(dsn: str | None = None) -> Database:
    return Database(dsn or IntakeSettings().pg_dsn, metadata, "/leadflow/intake-cli", pool_size=2)


def _run(work, dsn: str | None = None):  # type: ignore[no-untyped-def]
    return run_transaction(lambda: _db(dsn), work)


def _rate(text: str) -> float:
    value = text.removesuffix("/s")
    try:
        rate = float(value)
    except ValueError:
        raise typer.BadParameter("a rate is requests per second, e.g. 50/s") from None
    if rate <= 0:
        raise typer.BadParameter("a rate must be positive")
    return rate


@partners_app.command("create")
def create_partner(
    name: str,
    rate: Annotated[str | None, typer.Option(help="requests per second, e.g. 50/s")] = None,
) -> None:
    """Create a partner; its API key is printed once, alone on the last line (only a hash is kept)."""
    per_s = _rate(rate) if rate else IntakeSettings().intake_default_partner_rate
    partner_id, key = add_partner(name, per_s)
    console.print(f"partner {partner_id} ({name}), {per_s:g} requests/s. Its API key, shown only now:")
    print(key)


def add_partner(name: str, rate_per_s: float, dsn: str | None = None) -> tuple[str, str]:
    """A new partner and its API key (the key exists only in what this returns)."""
    key, partner_id = new_key(), new_partner_id()
    _run(lambda uow: PartnerRepository(uow.session).add(partner_id, name, hash_key(key), key[:8], rate_per_s), dsn)
    return partner_id, key


@partners_app.command("list")
def list_partners() -> None:
    rows = _run(lambda uow: PartnerRepository(uow.session).all())
    table = Table("id", "name", "key", "rate/s", "created", "revoked")
    for row in rows:
        table.add_row(row["id"], row["name"], row["key_prefix"] + "…", f"{row['rate_per_s']:g}",
                      row["created_at"].strftime("%Y-%m-%d %H:%M"),
                      row["revoked_at"].strftime("%Y-%m-%d %H:%M") if row["revoked_at"] else "")
    console.print(table)


@partners_app.command("revoke")
def revoke_partner(partner_id: str) -> None:
    """Revoke the partner's key: its next request gets 401."""
    if not _run(lambda uow: PartnerRepository(uow.session).revoke(partner_id)):
        console.print(f"[red]no active partner {partner_id}[/]")
        raise typer.Exit(1)
    console.print(f"revoked {partner_id}")


@blocklist_app.command("add")
def block(kind: Annotated[str, typer.Argument(help=", ".join(BLOCK_KINDS))], value: str,
          note: Annotated[str | None, typer.Option()] = None) -> None:
    """Flag leads with this mobile (E.164), WeChat id, e-mail, e-mail domain or IP range (CIDR)."""
    if kind not in BLOCK_KINDS:
        raise typer.BadParameter(f"kind is one of {', '.join(BLOCK_KINDS)}")
    value = _normal_block_value(kind, value)
    _run(lambda uow: BlocklistRepository(uow.session).add(kind, value, note))
    console.print(f"blocked {kind} {value}")


@blocklist_app.command("remove")
def unblock(kind: str, value: str) -> None:
    value = _normal_block_value(kind, value)
    _run(lambda uow: BlocklistRepository(uow.session).remove(kind, value))
    console.print(f"unblocked {kind} {value}")


@blocklist_app.command("list")
def list_blocked() -> None:
    rows = _run(lambda uow: BlocklistRepository(uow.session).all())
    table = Table("kind", "value", "note")
    for row in rows:
        table.add_row(row["kind"], row["value"], row["note"] or "")
    console.print(table)


def _normal_block_value(kind: str, value: str) -> str:
    import ipaddress

    from leadflow_shared import normalize

    if kind == "mobile":
        return normalize.phone(value)
    if kind == "email":
        return normalize.email(value)
    if kind == "wechat":
        return normalize.wechat(value)
    if kind == "email_domain":
        return value.strip().lower().lstrip("@")
    if kind == "ip_range":
        return str(ipaddress.ip_network(value.strip(), strict=False))
    return value


def import_file(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or XLSX")],
    key: Annotated[str, typer.Option(envvar="LEADFLOW_API_KEY", help="your partner API key")],
    url: Annotated[str, typer.Option(envvar="LEADFLOW_INTAKE_URL")] = "http://127.0.0.1:8001",
    mapping: Annotated[str | None, typer.Option(help='JSON {"column": "field"} for unusual headers')] = None,
    report: Annotated[Path | None, typer.Option(help="where to save the rejected rows (CSV)")] = None,
) -> None:
    """Bulk-import a CSV or XLSX through intake's API, with a progress bar, like POST /v1/imports."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        response = client.post("/v1/imports", files={"file": (file.name, file.read_bytes())},
                               data={"mapping": mapping} if mapping else {})
        if response.status_code != 202:
            console.print(f"[red]refused: {response.status_code} {response.text}[/]")
            raise typer.Exit(1)
        started = response.json()
        state = _follow_import(client, started["import_id"], started["total"])
        console.print(f"{state['status']}: {state['created']} created, {state['merged']} merged, "
                      f"{state['flagged']} flagged, {state['rejected']} rejected")
        if state["rejected"]:
            target = report or file.with_name(f"{file.stem}.rejected.csv")
            target.write_bytes(client.get(state["rejected_report_url"]).content)
            console.print(f"rejected rows and reasons: {target}")
        if state["status"] != "done":
            raise typer.Exit(1)


def _follow_import(client: httpx.Client, import_id: str, total: int) -> dict:  # type: ignore[type-arg]
    columns = (TextColumn("importing"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("rows", total=total)
        while True:
            state = client.get(f"/v1/imports/{import_id}").json()
            progress.update(task, completed=state["processed"], total=state["total"] or total)
            if state["status"] in ("done", "failed"):
                return state  # type: ignore[no-any-return]
            time.sleep(0.5)


def dedupe_eval(
    labelled_set: Annotated[str, typer.Option("--set", help="ours (generated from rules) or blind (written by a "
                                                             "tester without the rules in view)")] = "ours",
    write_cases: Annotated[bool, typer.Option(help="regenerate our set (cases.csv) from its rules first")] = False,
    examples: Annotated[bool, typer.Option(help="show a few missed or wrongly linked names per kind")] = False,
) -> None:
    """Run a labelled dedupe set through intake's pipeline on a scratch database and print precision and
    recall per variant kind, for person merges and company links. Exits 1 below the goals."""
    from leadflow_intake.evaluation import cases as labelled
    from leadflow_intake.evaluation.run import GOALS, evaluate

    if labelled_set not in labelled.SETS:
        raise typer.BadParameter(f"one of {', '.join(labelled.SETS)}", param_hint="--set")
    if write_cases:
        labelled.write_cases(labelled.generate())
    companies, cases = labelled.load_companies(labelled_set), labelled.load_cases(labelled_set)
    columns = (TextColumn("posting"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("leads", total=len(companies) + len(cases))
        report = asyncio.run(evaluate(IntakeSettings().pg_dsn, companies, cases,
                                      lambda n: progress.advance(task, n)))
    table = Table("subject", "variant", "should link", "should not", "linked right", "missed", "wrong",
                  "precision", "recall", title=f"dedupe evaluation, {labelled_set} set: {len(companies)} companies, {len(cases)} cases")
    for subject in sorted({s for s, _ in report.by_kind}, reverse=True):  # person, then company
        for (s, kind), tally in sorted(report.by_kind.items()):
            if s == subject:
                table.add_row(subject, kind, str(tally.same), str(tally.apart), str(tally.right), str(tally.missed),
                              str(tally.wrong), f"{tally.precision:.3f}", f"{tally.recall:.3f}" if tally.same else "")
                if examples and tally.examples:
                    table.add_row("", "[dim]" + " | ".join(tally.examples) + "[/]", *[""] * 7)
        total = report.subject(subject)
        table.add_row(f"[bold]{subject}[/]", "[bold]all[/]", str(total.same), str(total.apart), str(total.right),
                      str(total.missed), str(total.wrong), f"[bold]{total.precision:.3f}[/]",
                      f"[bold]{total.recall:.3f}[/]", end_section=True)
    console.print(table)
    console.print(f"goals: precision ≥ {GOALS['precision']}, recall ≥ {GOALS['recall']}, for each subject: "
                  + ("[green]met[/]" if report.meets_goals() else "[red]missed[/]"))
    if not report.meets_goals():
        raise typer.Exit(1)


__all__ = ["blocklist_app", "dedupe_eval", "import_file", "partners_app"]
