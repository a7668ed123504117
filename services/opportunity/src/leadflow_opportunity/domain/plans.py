"""What managers load to judge the funnel by: channel spend per month (渠道投入, for ROI) and targets of realized
new sales per rep and team per month (业绩目标, for attainment), as JSON rows or CSV with a header line.

A load is validated whole: any bad row refuses it, with every error and its row, nothing applied.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from leadflow_shared.contracts import Channel
from leadflow_shared.documents import DocumentError, Problem, pydantic_problems

MAX_ROWS = 10_000


def month_of(value: Any) -> date:
    """The month's first day from `2026-11`, `2026-11-01` or a date."""
    if isinstance(value, date):
        return value.replace(day=1)
    text = str(value).strip()
    try:
        if len(text) == 7:
            return date.fromisoformat(f"{text}-01")
        return date.fromisoformat(text).replace(day=1)
    except ValueError:
        raise ValueError(f"a month is YYYY-MM, not {text!r}") from None


def next_month(day: date) -> date:
    """The first day of the month after `day`'s."""
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def month_bounds(month: date) -> tuple[date, date]:
    """The month's first and last day."""
    return month.replace(day=1), next_month(month) - timedelta(days=1)


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    month: date = Field(description="YYYY-MM")

    @field_validator("month", mode="before")
    @classmethod
    def _month(cls, value: Any) -> date:
        return month_of(value)


class SpendRow(_Row):
    """What one channel (a source, or one partner of it) cost in a month."""

    source: Channel
    partner_id: str = Field("", max_length=100, description="Empty: the source as a whole.")
    amount: float = Field(ge=0, le=1e12)
    currency: str = Field("CNY", pattern=r"^[A-Z]{3}$")

    @field_validator("partner_id", mode="before")
    @classmethod
    def _none_is_whole(cls, value: Any) -> Any:
        return "" if value is None else value


class TargetRow(_Row):
    """A month's target of realized new sales for a rep (with his team) or a team."""

    kind: Literal["rep", "team"]
    subject_id: str = Field(min_length=1, max_length=100, description="The rep's or the team's id.")
    team_id: str | None = Field(None, max_length=100, description="A rep's team (a manager sets his teams' only).")
    amount: float = Field(ge=0, le=1e12)

    @field_validator("team_id", mode="before")
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if value == "" else value


def parse_rows(model: type[_Row], raw: Any) -> list[Any]:
    """Rows of `model` from a JSON list (or {"rows": [...]}), or CSV text with a header line."""
    if isinstance(raw, str):
        raw = _csv_rows(raw)
    if isinstance(raw, dict) and isinstance(raw.get("rows"), list):
        raw = raw["rows"]
    if not isinstance(raw, list) or not raw:
        raise DocumentError([Problem(path="", message="send a non-empty list of rows (JSON) or CSV with a header")])
    if len(raw) > MAX_ROWS:
        raise DocumentError([Problem(path="", message=f"at most {MAX_ROWS} rows at a time")])
    rows, problems = [], []
    for i, item in enumerate(raw):
        try:
            rows.append(model.model_validate(item))
        except ValidationError as exc:
            problems += [Problem(path=f"[{i}]{'.' + p.path if p.path else ''}", message=p.message)
                         for p in pydantic_problems(exc)]
    if problems:
        raise DocumentError(problems)
    _no_repeats(model, rows)
    return rows


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))  # Excel writes a BOM
    rows = []
    for row in reader:
        if None in row:
            raise DocumentError([Problem(path=f"line {reader.line_num}", message="more fields than the header names")])
        rows.append({k.strip(): v for k, v in row.items() if k and v is not None and v.strip() != ""})
    return rows


def _no_repeats(model: type[_Row], rows: list[Any]) -> None:
    counts = Counter(_key(r) for r in rows)
    repeated = sorted(str(k) for k, n in counts.items() if n > 1)
    if repeated:
        raise DocumentError([Problem(path="", message=f"rows repeat: {', '.join(repeated)}")])


def _key(row: Any) -> tuple[Any, ...]:
    if isinstance(row, SpendRow):
        return (row.month.isoformat()[:7], str(row.source), row.partner_id)
    return (row.month.isoformat()[:7], row.kind, row.subject_id)
