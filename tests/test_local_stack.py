"""`leadflow stack up/down`: starts what is missing, is safe to repeat, stops only what it started."""

from __future__ import annotations

from pathlib import Path

import asyncpg
import pytest

from leadflow_localstack import procs, stack


async def test_up_is_repeatable_and_down_stops_only_what_up_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADFLOW_LOCAL_DIR", str(tmp_path / "local"))
    monkeypatch.delenv("LEADFLOW_PG_DSN", raising=False)
    monkeypatch.setenv("LEADFLOW_KAFKA_BOOTSTRAP", "kafka.example.internal:9092")  # external: never started

    env = stack.up(["postgres"])
    rows = {row["name"]: row for row in stack.status()}
    assert rows["postgres"]["state"] == "running" and rows["kafka"]["state"] == "external"
    pid = rows["postgres"]["pid"]
    assert env["LEADFLOW_KAFKA_BOOTSTRAP"] == "kafka.example.internal:9092"

    conn = await asyncpg.connect(env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    assert await conn.fetchval("SELECT current_user") == "leadflow"
    await conn.close()

    stack.up(["postgres"])  # again: nothing new is started
    assert {r["name"]: r for r in stack.status()}["postgres"]["pid"] == pid
    assert (tmp_path / "local" / "env").read_text().count("LEADFLOW_PG_DSN=") == 1

    stack.down()
    assert not procs.is_running(pid)
    assert {r["name"]: r for r in stack.status()}["postgres"]["state"] == "stopped"
