"""The language a caller reads: zh or en, from `Accept-Language` (partners' errors, staff's refusals)."""

from __future__ import annotations


def preferred_language(accept_language: str | None) -> str:
    """zh when the caller prefers any Chinese locale over English, else en."""
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh"
        if tag.startswith("en"):
            return "en"
    return "en"


__all__ = ["preferred_language"]
