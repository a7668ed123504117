"""`.local/env` for every `leadflow` command: read when the variables are not set, never over them."""

from __future__ import annotations

from pathlib import Path

import pytest

from leadflow_shared import localenv

ENV_FILE = (
    "export LEADFLOW_KAFKA_BOOTSTRAP=127.0.0.1:59092\n"
    "export LEADFLOW_PG_DSN=postgresql+asyncpg://leadflow:leadflow@127.0.0.1:55432/leadflow\n"
    "export LEADFLOW_TEMPORAL_ADDRESS='127.0.0.1:57233'\n"
    "export PATH=/nowhere\n"
)


@pytest.fixture
def env_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no .env of the settings here
    path = tmp_path / "local" / "env"
    path.parent.mkdir()
    path.write_text(ENV_FILE)
    return path


def test_export_lines_are_read_into_the_environment(env_file: Path) -> None:
    environ: dict[str, str] = {"HOME": "/root"}
    added = localenv.load_local_env(env_file, environ)
    assert environ["LEADFLOW_PG_DSN"] == "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:55432/leadflow"
    assert environ["LEADFLOW_KAFKA_BOOTSTRAP"] == "127.0.0.1:59092"
    assert environ["LEADFLOW_TEMPORAL_ADDRESS"] == "127.0.0.1:57233"
    assert "PATH" not in environ, "only LEADFLOW_* variables are taken from the file"
    assert set(added) == {"LEADFLOW_PG_DSN", "LEADFLOW_KAFKA_BOOTSTRAP", "LEADFLOW_TEMPORAL_ADDRESS"}


def test_variables_already_set_win(env_file: Path) -> None:
    environ = {"LEADFLOW_PG_DSN": "postgresql+asyncpg://u:p@db.example:5432/x",
               "leadflow_kafka_bootstrap": "kafka.example:9092",  # the settings ignore case: so does this
               "LEADFLOW_TEMPORAL_ADDRESS": ""}  # empty is unset
    localenv.load_local_env(env_file, environ)
    assert environ["LEADFLOW_PG_DSN"] == "postgresql+asyncpg://u:p@db.example:5432/x"
    assert "LEADFLOW_KAFKA_BOOTSTRAP" not in environ
    assert environ["LEADFLOW_TEMPORAL_ADDRESS"] == "127.0.0.1:57233"


def test_a_dotenv_file_of_the_settings_wins_too(env_file: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("LEADFLOW_PG_DSN=postgresql+asyncpg://u:p@db.example:5432/x\n")
    environ: dict[str, str] = {}
    localenv.load_local_env(env_file, environ)
    assert "LEADFLOW_PG_DSN" not in environ  # the settings read it from .env
    assert environ["LEADFLOW_KAFKA_BOOTSTRAP"] == "127.0.0.1:59092"


def test_no_file_no_variables(tmp_path: Path) -> None:
    environ: dict[str, str] = {}
    assert localenv.load_local_env(tmp_path / "missing" / "env", environ) == {}
    assert environ == {}


def test_the_file_is_that_of_local_dir(env_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_LOCAL_DIR", str(env_file.parent))
    environ: dict[str, str] = {}
    localenv.load_local_env(environ=environ)
    assert environ["LEADFLOW_PG_DSN"].endswith("@127.0.0.1:55432/leadflow")


def test_local_dir_is_the_checkouts_then_the_nearest_one_above_the_current_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("LEADFLOW_LOCAL_DIR", raising=False)
    checkout = Path(localenv.__file__).resolve().parents[3]  # shared/src/leadflow_shared/localenv.py
    assert localenv.local_dir() == checkout / ".local"

    # an installed (not editable) copy: the current directory's, or its nearest parent's
    monkeypatch.setattr(localenv, "_checkout_root", lambda: None)
    (tmp_path / "repo" / ".local").mkdir(parents=True)
    (tmp_path / "repo" / ".local" / "env").write_text(ENV_FILE)
    (tmp_path / "repo" / "a" / "b").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "repo" / "a" / "b")
    assert localenv.local_dir() == (tmp_path / "repo" / ".local").resolve()
    monkeypatch.chdir(tmp_path)
    assert localenv.local_dir() == (tmp_path / ".local").resolve()  # none: where `stack up` would make it
