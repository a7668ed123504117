"""Deciding that two company names are one company (the same 客户) — precision first.

Candidates come from the database by index (credit code, exact core, one-typo variants, trigrams, and
the cores of the name's tolerant readings); these rules decide. A wrong link sends a lead to the wrong account owner, so a link needs positive
evidence, and conflicting evidence (two different credit codes, two different regions) forbids it.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

from leadflow_shared.divisions import ALL as PLACES
from leadflow_shared.divisions import province_of
from leadflow_shared.normalize import MIN_TYPO_CORE, CompanyName, NameReading, distinctive, fold

_LATIN = re.compile(r"^[a-z0-9]+$")
MIN_LATIN_CORE = 8
SLIP = 3  # the rank of a link through a tolerant reading: below the same name, above a typo in the core


@dataclass(frozen=True)
class CompanyCandidate:
    id: uuid.UUID
    core: str
    region: str | None
    credit_code: str | None
    city: str | None = None
    industry: str | None = None


@dataclass(frozen=True)
class CompanyLink:
    company_id: uuid.UUID
    rule: str  # credit_code | same_name | slip | typo | similar_name
    core: str = ""  # the company's, as it is known (a customer of that name is the lead's customer)
    region: str | None = None


@dataclass(frozen=True)
class Whereabouts:
    """Where the lead says its company is and what it does (its city and industry fields)."""

    city: str | None = None
    industry: str | None = None


@lru_cache(maxsize=4096)
def _normal(text: str | None) -> str | None:
    """A city or industry as compared (深圳市 and 深圳 are one city; a blank says nothing); cached, as the
    same few values come back for every candidate of every lead."""
    return (fold(text).removesuffix("市") or None) if text else None


def compatible(a: str | None, b: str | None) -> bool:
    """Two regions (cities, industries) are no conflict when either is unknown."""
    return a is None or b is None or a == b


def link_company(
    name: CompanyName | None,
    credit_code: str | None,
    where: Whereabouts,
    candidates: list[CompanyCandidate],
    readings: tuple[NameReading, ...] = (),
) -> CompanyLink | None:
    """The company this lead works for, if one we know is it for certain enough."""
    if credit_code:
        for candidate in candidates:
            if candidate.credit_code == credit_code:
                return CompanyLink(candidate.id, "credit_code", candidate.core, candidate.region)
    if name is None:
        return None
    best: tuple[int, CompanyLink] | None = None
    slipped_into: set[uuid.UUID] = set()
    for candidate in candidates:
        if credit_code and candidate.credit_code and candidate.credit_code != credit_code:
            continue  # two registrations: two companies, however alike their names
        rank = max(_name_rank(name, candidate, where), _reading_rank(readings, candidate, where))
        if rank == SLIP:
            slipped_into.add(candidate.id)
        if rank and (best is None or rank > best[0]):
            rule = ("similar_name", "typo", "slip", "same_name")[rank - 1]
            best = (rank, CompanyLink(candidate.id, rule, candidate.core, candidate.region))
    if best and best[0] == SLIP and len(slipped_into) > 1:
        return None  # 河东钢铁 is one character from 河北钢铁 and from 山东钢铁: knowing both, we cannot tell
    return best[1] if best else None


def _name_rank(name: CompanyName, candidate: CompanyCandidate, where: Whereabouts) -> int:
    """4 same core, 2 one typo apart, 1 a close Latin spelling; 0 not the same company."""
    if not compatible(name.region, candidate.region):
        return 0  # 示例科技(上海) and 示例科技(北京) are two legal entities
    query, known = name.core, candidate.core
    if query == known:
        return 4
    city, other_city = _normal(where.city), _normal(candidate.city)
    if not compatible(city, other_city) or not compatible(_normal(where.industry), _normal(candidate.industry)):
        return 0
    if _LATIN.match(query) and _LATIN.match(known):
        shorter = min(len(query), len(known))
        return 1 if shorter >= MIN_LATIN_CORE and fuzz.ratio(query, known) >= 92 else 0
    shorter = min(len(distinctive(query)), len(distinctive(known)))  # 深圳市兆驰 is a short core
    if shorter < MIN_TYPO_CORE or Levenshtein.distance(query, known) != 1 or _another_normal(query, known):
        return 0
    # a core of five is half brand: one character off is another company unless both sit in one city
    return 2 if shorter > MIN_TYPO_CORE or (city is not None and city == other_city) else 0


def _another_normal(query: str, known: str) -> bool:
    """纬创资通黄山 and 纬创资通昆山: the one character that differs turns one real place into another."""
    if len(query) != len(known):
        return False
    at = next(i for i, (a, b) in enumerate(zip(query, known, strict=True)) if a != b)
    return any(known[start:start + size] in PLACES and query[start:start + size] in PLACES
               for size in (2, 3, 4) for start in range(max(0, at - size + 1), at + 1))


def _reading_rank(readings: tuple[NameReading, ...], candidate: CompanyCandidate, where: Whereabouts) -> int:
    """SLIP when the name, read with its slip corrected, is the company's name in a place it may be."""
    for reading in readings:
        if reading.core != candidate.core or not compatible(reading.region, candidate.region):
            continue
        if not reading.region_guesses:
            return SLIP
        city = _normal(where.city)
        if not compatible(city, _normal(candidate.city)):
            continue  # 深州市… from 衡水 is not 深圳's company
        if reading.place_in_core:
            if city and (city in reading.region_guesses or province_of(city) in reading.region_guesses):
                return SLIP
            continue
        places = {candidate.region, _normal(candidate.city)} - {None}
        if places & reading.region_guesses or (reading.region_certain and not places):
            return SLIP
    return 0
