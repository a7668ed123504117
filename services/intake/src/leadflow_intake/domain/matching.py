"""Deciding that two company names are one company (the same 客户) — precision first.

Candidates come from the database by index (credit code, exact core, one-typo variants, trigrams);
these rules decide. A wrong link sends a lead to the wrong account owner, so a link needs positive
evidence, and conflicting evidence (two different credit codes, two different regions) forbids it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from leadflow_shared.normalize import MIN_TYPO_CORE, CompanyName

_LATIN = re.compile(r"^[a-z0-9]+$")
MIN_LATIN_CORE = 8


@dataclass(frozen=True)
class CompanyCandidate:
    id: uuid.UUID
    core: str
    region: str | None
    credit_code: str | None
    city: str | None = None


@dataclass(frozen=True)
class CompanyLink:
    company_id: uuid.UUID
    rule: str  # credit_code | same_name | typo | similar_name


def _regions_agree(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def _cities_agree(a: str | None, b: str | None) -> bool:
    return a is None or b is None or a == b


def link_company(
    name: CompanyName | None,
    credit_code: str | None,
    city: str | None,
    candidates: list[CompanyCandidate],
) -> CompanyLink | None:
    """The company this lead works for, if one we know is it for certain enough."""
    if credit_code:
        for candidate in candidates:
            if candidate.credit_code == credit_code:
                return CompanyLink(candidate.id, "credit_code")
    if name is None:
        return None
    best: tuple[int, CompanyLink] | None = None
    for candidate in candidates:
        if credit_code and candidate.credit_code and candidate.credit_code != credit_code:
            continue  # two registrations: two companies, however alike their names
        if not _regions_agree(name.region, candidate.region):
            continue  # 示例科技(上海) and 示例科技(北京) are two legal entities
        rank = _name_rank(name.core, candidate.core, same_city=_cities_agree(city, candidate.city))
        if rank and (best is None or rank > best[0]):
            best = (rank, CompanyLink(candidate.id, ("similar_name", "typo", "same_name")[rank - 1]))
    return best[1] if best else None


def _name_rank(query: str, known: str, *, same_city: bool) -> int:
    """3 same core, 2 one typo apart, 1 a close Latin spelling; 0 not the same company."""
    if query == known:
        return 3
    if not same_city:
        return 0
    if _LATIN.match(query) and _LATIN.match(known):
        shorter = min(len(query), len(known))
        if shorter >= MIN_LATIN_CORE and fuzz.ratio(query, known) >= 92:
            return 1
        return 0
    if min(len(query), len(known)) >= MIN_TYPO_CORE and Levenshtein.distance(query, known) == 1:
        return 2
    return 0
