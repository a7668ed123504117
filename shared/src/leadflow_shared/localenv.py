"""Where the local stack keeps its files, and its addresses for every `leadflow` command.

`leadflow stack up` writes `.local/env` (`export LEADFLOW_…=…` lines) beside `.local/stack.json`. The
`leadflow` command reads it before anything else, so a shell that never ran `source .local/env` still
finds the stack; a variable already set (in the environment, or in the `.env` file that the settings
read) always wins over the file.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping
from pathlib import Path

from dotenv import dotenv_values

ENV_FILE = "env"
_PREFIX = "LEADFLOW_"


def _checkout_root() -> Path | None:
    """The workspace checkout this code is installed from (an editable install), if any."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "deploy" / "local" / "kafka" / "pom.xml").exists():
            return parent
    return None


def repo_root() -> Path:
    return _checkout_root() or Path.cwd()


def _nearest_local(start: Path) -> Path | None:
    """`.local` of the start directory or its nearest parent that has a `.local/env` (not ~/.local)."""
    home = Path.home().resolve()
    for directory in (start, *start.parents):
        if directory != home and (directory / ".local" / ENV_FILE).is_file():
            return directory / ".local"
    return None


def local_dir() -> Path:
    """LEADFLOW_LOCAL_DIR; else `.local/` of the checkout the code runs from (the one its `stack up`
    writes); else (an installed copy) that of the current directory or its nearest parent having one."""
    if os.environ.get("LEADFLOW_LOCAL_DIR"):
        return Path(os.environ["LEADFLOW_LOCAL_DIR"]).resolve()
    root = _checkout_root()
    if root is not None:
        return (root / ".local").resolve()
    cwd = Path.cwd().resolve()
    return _nearest_local(cwd) or cwd / ".local"


def _set(environ: MutableMapping[str, str]) -> set[str]:
    """Names (upper case: the settings ignore case) that are given a value; `.env` counts as given."""
    given = {name.upper() for name, value in environ.items() if value}
    if Path(".env").is_file():
        given |= {name.upper() for name, value in dotenv_values(".env").items() if value}
    return given


def load_local_env(path: Path | None = None,
                   environ: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """Put the LEADFLOW_* variables of `.local/env` that are not set yet into the environment.

    Returns what was added (nothing when there is no file).
    """
    environ = os.environ if environ is None else environ
    path = path or local_dir() / ENV_FILE
    if not path.is_file():
        return {}
    given = _set(environ)
    added = {name: value for name, value in dotenv_values(path, interpolate=False).items()
             if name.upper().startswith(_PREFIX) and value and name.upper() not in given}
    environ.update(added)
    return added


__all__ = ["load_local_env", "local_dir", "repo_root"]
