"""Documents people keep in Git and post to APIs (an organisation, rules, pools): parsed from YAML and
validated whole, every error reported with its path (`reps[3].max_open_leads`), nothing half applied."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError


class Problem(BaseModel):
    """One error of a document, with where it is (`reps[3].max_open_leads`)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '<root>'}: {self.message}"


class DocumentError(ValueError):
    """A document is invalid; `problems` lists every error found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


def parse_yaml(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise DocumentError([Problem(path=where, message=f"not YAML: {getattr(exc, 'problem', exc)}")]) from None


def pydantic_problems(exc: ValidationError) -> list[Problem]:
    return [Problem(path=_path(error["loc"]), message=error["msg"]) for error in exc.errors()]


def _path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path
