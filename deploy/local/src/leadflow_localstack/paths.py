"""Where the local stack keeps its files: `.local/` at the repository root (or LEADFLOW_LOCAL_DIR)."""

from __future__ import annotations

from pathlib import Path

from leadflow_shared.localenv import local_dir, repo_root


def logs_dir() -> Path:
    path = local_dir() / "logs"
    path.mkdir(parents=True, exist_ok=True)
    return path


def kafka_pom() -> Path:
    return repo_root() / "deploy" / "local" / "kafka" / "pom.xml"


__all__ = ["kafka_pom", "local_dir", "logs_dir", "repo_root"]
