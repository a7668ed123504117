"""Local sign-in (本地账号): who may sign in with a password, and the pause after too many wrong ones."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

PERSON_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
MIN_PASSWORD = 10


class AccountError(ValueError):
    """Why an account cannot be made as asked (English; the CLI prints it)."""


def check_person_id(person_id: str) -> str:
    person_id = person_id.strip()
    if not PERSON_ID.fullmatch(person_id):
        raise AccountError(f"{person_id!r}: a person id is letters, digits and . _ @ - (at most 100), "
                           "the same id the staff token names (its `sub`)")
    return person_id


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password has at least {MIN_PASSWORD} characters")
    if password.strip() != password:
        raise AccountError("a password neither starts nor ends with a space")
    return password


@dataclass(frozen=True)
class Attempts:
    """Wrong passwords in a row, and until when sign-in is paused."""

    failed: int = 0
    locked_until: datetime | None = None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    def after_failure(self, now: datetime, limit: int, pause: timedelta) -> Attempts:
        """One more wrong password; at the limit, a pause (and the count starts again after it)."""
        failed = self.failed + 1
        if failed >= limit:
            return Attempts(0, now + pause)
        return Attempts(failed, None)
