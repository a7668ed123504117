"""Where the local stack keeps its files: `.local/` at the repository root (or LEADFLOW_LOCAL_DIR)."""

from __future__ import annotations

import os
from pathlib import Path


def repo_root() -> Path:
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "deploy" / "local" / "kafka" / "pom.xml").exists():
            return parent
    return Path.cwd()


def local_dir() -> Path:
    return Path(os.environ.get("LEADFLOW_LOCAL_DIR") or repo_root() / ".local").resolve()


def logs_dir() -> Path:
    path = local_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kafka_pom() -> Path:
    return repo_root() / "deploy" / "local" / "kafka" / "pom.xml"
