"""Enrichment (客商系统回填): a lead's blanks filled from the company registry, the match recorded."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

# What the registry knows that a lead may lack: lead field ← registry field.
FILLED_FROM_REGISTRY = {
    "company_credit_code": "credit_code",
    "industry": "industry",
    "province": "province",
    "city": "city",
    "company_size": "size",
    "employees": "employees",
    "registered_capital": "registered_capital",
    "founded": "founded",
    "company_status": "status",
}


@dataclass(frozen=True)
class RegistryCompany:
    """A company as a registry describes it. `registered_capital` is in CNY (1000万元 = 10,000,000)."""

    name: str
    canonical: str
    source: str
    credit_code: str | None = None
    industry: str | None = None
    size: str | None = None
    employees: int | None = None
    registered_capital: float | None = None
    province: str | None = None
    city: str | None = None
    founded: date | None = None
    status: str | None = None
    registry_id: str | None = None


@dataclass(frozen=True)
class Match:
    company: RegistryCompany
    matched_by: str  # credit_code | name


@dataclass(frozen=True)
class Candidates:
    """A batch's registry candidates by credit code and by name: each lead finds its own at once, not by
    scanning every company the batch's leads named."""

    by_code: dict[str, RegistryCompany]
    by_name: dict[str, list[RegistryCompany]]

    @classmethod
    def of(cls, companies: Iterable[RegistryCompany]) -> Candidates:
        by_code: dict[str, RegistryCompany] = {}
        by_name: dict[str, list[RegistryCompany]] = {}
        for company in companies:
            if company.credit_code:
                by_code.setdefault(company.credit_code, company)
            by_name.setdefault(company.canonical, []).append(company)
        return cls(by_code, by_name)

    def match(self, credit_code: str | None, canonical_name: str | None) -> Match | None:
        """The lead's company: by credit code first (exact and unique), then by name."""
        if credit_code and credit_code in self.by_code:
            return Match(self.by_code[credit_code], "credit_code")
        named = self.by_name.get(canonical_name, []) if canonical_name else []
        if len(named) == 1:  # two registered companies of the same name: no guess
            return Match(named[0], "name")
        return None


def enrich(lead: Mapping[str, Any], match: Match | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The lead with its blanks filled from the registry, and the record of what was filled and why.
    What the lead says always wins over the registry."""
    if match is None:
        return dict(lead), None
    filled = dict(lead)
    names = []
    for field, registry_field in FILLED_FROM_REGISTRY.items():
        value = getattr(match.company, registry_field)
        if value not in (None, "") and filled.get(field) in (None, ""):
            filled[field] = value.isoformat() if isinstance(value, date) else value
            names.append(field)
    record = {"source": match.company.source, "matched_by": match.matched_by, "registry_name": match.company.name,
              "credit_code": match.company.credit_code, "registry_id": match.company.registry_id, "filled": names}
    return filled, record


def employees_from_size(size: str | None) -> int | None:
    """The lower bound of a head-count band such as "100-499人", "500人以上", "少于50人" (conservative)."""
    if not size:
        return None
    digits = [int("".join(run)) for run in _digit_runs(size)]
    if not digits:
        return None
    return 0 if any(word in size for word in ("少于", "以下", "小于", "<")) else digits[0]


def _digit_runs(text: str) -> list[list[str]]:
    runs: list[list[str]] = []
    current: list[str] = []
    for ch in text.replace(",", ""):
        if ch.isdigit():
            current.append(ch)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs
