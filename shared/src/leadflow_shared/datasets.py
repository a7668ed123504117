"""Finding the shared datasets (`../shared/datasets/` beside the repository) from a checkout or a clone."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def shared_dataset(name: str) -> Path | None:
    """`$LEADFLOW_SHARED_DIR/datasets/<name>`, else `shared/datasets/<name>` beside (or inside) the repository
    or the working directory, else beside the repository a local clone was made from."""
    for base in _bases():
        candidate = base / "datasets" / name
        if candidate.is_file():
            return candidate
    return None


def _bases() -> list[Path]:
    bases = [Path(os.environ["LEADFLOW_SHARED_DIR"])] if os.environ.get("LEADFLOW_SHARED_DIR") else []
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        bases += [parent / "shared" for parent in start.parents]
    origin = _local_origin(Path(__file__).resolve().parent)
    if origin is not None:
        bases += [origin.parent / "shared", origin / "shared"]
    return bases


def _local_origin(inside: Path) -> Path | None:
    """The repository this checkout was cloned from, when that is a path on this machine."""
    try:
        url = subprocess.run(["git", "-C", str(inside), "config", "--get", "remote.origin.url"],
                             capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    path = Path(url.removeprefix("file://"))
    return path.resolve() if url and path.is_dir() else None
