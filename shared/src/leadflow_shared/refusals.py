"""A request turned down for a reason its caller can act on: an HTTP status, a stable code, and the reason in
both languages (the caller's is chosen by Accept-Language). Pure: domain rules return a Refusal, services raise
Refused, and leadflow_shared.http answers it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Refusal:
    status: int
    code: str
    en: str
    zh: str

    def text(self, language: str) -> str:
        return self.zh if language == "zh" else self.en


class Refused(Exception):
    """A Refusal raised; `result` is what stands instead (a conversion done before, say)."""

    def __init__(self, refusal: Refusal, result: dict[str, Any] | None = None) -> None:
        super().__init__(refusal.en)
        self.refusal = refusal
        self.result = result


__all__ = ["Refusal", "Refused"]
