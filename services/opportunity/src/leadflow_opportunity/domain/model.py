"""Leads that may become customers: who works each one, and where it stands."""

from __future__ import annotations

from enum import StrEnum


class ConversionStatus(StrEnum):
    open = "open"  # being worked by its owner, not converted yet
    unowned = "unowned"  # back in a pool
    converted = "converted"


def status_for_owner(owner_id: str | None) -> ConversionStatus:
    return ConversionStatus.open if owner_id else ConversionStatus.unowned
