"""`leadflow stack up/down`: starts what is missing, is safe to repeat, stops only what it started."""

from __future__ import annotations

import os
import subprocess
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
    for var in stack.STAFF_KEY_ENV:
        monkeypatch.delenv(var, raising=False)

    env = stack.up(["postgres"])
    # the staff identity's key pair, made once under .local/staff/ and named in .local/env
    signing, public = Path(env["LEADFLOW_STAFF_SIGNING_KEY_FILE"]), Path(env["LEADFLOW_STAFF_PUBLIC_KEY_FILE"])
    assert signing.parent == tmp_path / "local" / "staff" and b"PRIVATE KEY" in signing.read_bytes()
    assert oct(signing.stat().st_mode & 0o777) == "0o600" and b"PUBLIC KEY" in public.read_bytes()
    assert f"export LEADFLOW_STAFF_PUBLIC_KEY_FILE={public}" in (tmp_path / "local" / "env").read_text()
    key = signing.read_bytes()
    rows = {row["name"]: row for row in stack.status()}
    assert rows["postgres"]["state"] == "running" and rows["kafka"]["state"] == "external"
    pid = rows["postgres"]["pid"]
    assert env["LEADFLOW_KAFKA_BOOTSTRAP"] == "kafka.example.internal:9092"

    conn = await asyncpg.connect(env["LEADFLOW_PG_DSN"].replace("postgresql+asyncpg", "postgresql"))
    assert await conn.fetchval("SELECT current_user") == "leadflow"
    await conn.close()

    stack.up(["postgres"])  # again: nothing new is started, the key pair is kept
    assert {r["name"]: r for r in stack.status()}["postgres"]["pid"] == pid
    assert signing.read_bytes() == key
    assert (tmp_path / "local" / "env").read_text().count("LEADFLOW_PG_DSN=") == 1

    stack.down()
    assert not procs.is_running(pid)
    assert {r["name"]: r for r in stack.status()}["postgres"]["state"] == "stopped"

    # `source .local/env` (or any `leadflow` command, which reads it): our own address is not external,
    # and our stopped Postgres is started again
    for line in (tmp_path / "local" / "env").read_text().splitlines():
        key, _, value = line.removeprefix("export ").partition("=")
        monkeypatch.setenv(key, value)
    assert stack.up(["postgres"])["LEADFLOW_PG_DSN"] == env["LEADFLOW_PG_DSN"]
    again = {r["name"]: r for r in stack.status()}["postgres"]
    assert again["state"] == "running" and again["pid"] != pid
    stack.down()
    assert not procs.is_running(again["pid"])


def test_the_stacks_own_address_is_ours_not_external(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEADFLOW_LOCAL_DIR", str(tmp_path / "local"))
    ours = "postgresql+asyncpg://leadflow:leadflow@127.0.0.1:55999/leadflow"
    state = stack.StackState.load()
    state.components["postgres"] = {"pid": None, "started": None, "address": ours, "ports": {"postgres": 55999}}
    state.save()

    monkeypatch.setenv("LEADFLOW_PG_DSN", ours)  # as .local/env gives it
    assert stack.external(stack.StackState.load(), "postgres") is None
    assert {r["name"]: r for r in stack.status()}["postgres"]["state"] == "stopped"  # ours: `up` starts it
    assert stack.stack_env()["LEADFLOW_PG_DSN"] == ours

    elsewhere = "postgresql+asyncpg://leadflow:leadflow@db.example.internal:5432/leadflow"
    monkeypatch.setenv("LEADFLOW_PG_DSN", elsewhere)
    assert stack.external(stack.StackState.load(), "postgres") == elsewhere
    row = {r["name"]: r for r in stack.status()}["postgres"]
    assert row["state"] == "external" and row["address"] == elsewhere
    assert stack.stack_env()["LEADFLOW_PG_DSN"] == elsewhere


def test_down_never_signals_a_process_that_merely_reuses_a_recorded_pid(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADFLOW_LOCAL_DIR", str(tmp_path / "local"))
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        state = stack.StackState.load()
        # the state file says "our postgres has this pid", but it started at another time
        state.components["postgres"] = {"pid": stranger.pid, "started": 1.0, "address": "-", "ports": {}}
        state.save()
        assert {r["name"]: r for r in stack.status()}["postgres"]["state"] == "stopped"
        stack.down()
        assert stranger.poll() is None, "down killed a process it did not start"
    finally:
        stranger.kill()
        stranger.wait()


def test_kraft_cluster_ids_never_look_like_an_option(monkeypatch: pytest.MonkeyPatch) -> None:
    import uuid as uuid_mod

    from leadflow_localstack import components

    dashed = uuid_mod.UUID(bytes=b"\xfb" + bytes(15))  # base64 "-w…": the storage tool would take it for an option
    draws = iter([dashed, uuid_mod.UUID(int=1)])
    monkeypatch.setattr(components.uuid, "uuid4", lambda: next(draws))
    cluster_id = components.new_cluster_id()
    assert not cluster_id.startswith("-") and len(cluster_id) == 22


def _service_running(state: stack.StackState) -> subprocess.Popen[bytes]:
    service = subprocess.Popen(["sleep", "60"])
    state.services["intake"] = {"pid": service.pid, "started": procs.start_time(service.pid)}
    return service


def test_ports_sit_below_the_ephemeral_range_and_no_two_components_share_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADFLOW_LOCAL_DIR", str(tmp_path / "local"))
    low, _ = stack.ephemeral_range()
    plan = stack.plan_ports(stack.StackState.load())
    assert len(set(plan.values())) == len(plan) == 5
    assert all(port < low for port in plan.values())

    # an older stack on ephemeral ports moves off them once no service of ours points at them ...
    state = stack.StackState.load()
    state.components["kafka"] = {"pid": None, "address": "127.0.0.1:59092",
                                 "ports": {"kafka": 59092, "kafka_controller": 59093}}
    assert stack.plan_ports(state)["kafka"] < low
    # ... but while one runs, the broker comes back on the port the services use, the controller on its own
    service = _service_running(state)
    try:
        plan = stack.plan_ports(state)
        assert (plan["kafka"], plan["kafka_controller"]) == (59092, 59093)
        assert len(set(plan.values())) == len(plan)
    finally:
        service.kill()
        service.wait()


def test_a_kept_port_held_by_another_program_is_an_error_naming_it_not_a_move(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    monkeypatch.setattr(stack, "PORT_WAIT_S", 1.0)
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    port = squatter.getsockname()[1]
    try:
        with pytest.raises(stack.StackError, match=f"kafka: port {port} is taken by pid") as caught:
            stack.wait_for_ports("kafka", [port])
        assert "must come back on it" in str(caught.value)
    finally:
        squatter.close()
    stack.wait_for_ports("kafka", [port])  # let go: nothing to wait for


def test_a_shell_that_sourced_an_older_env_still_calls_the_stack_ours(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEADFLOW_LOCAL_DIR", str(tmp_path / "local"))
    state = stack.StackState.load()
    state.components["kafka"] = {"pid": None, "address": "127.0.0.1:59092", "ports": {"kafka": 59092}}
    state.save()
    monkeypatch.setenv("LEADFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:59092")
    # it moves below the ephemeral range (a stand-in for the broker's start: the address it is given is kept)
    kafka = stack.build_components(state)["kafka"]
    assert kafka.port < stack.ephemeral_range()[0]
    monkeypatch.setattr(kafka, "start", lambda: 0)
    monkeypatch.setattr(stack, "_wait_healthy", lambda *_: None)
    monkeypatch.setattr(kafka, "prepare", lambda: None)
    stack._up_one(state, kafka)
    assert stack.StackState.load().components["kafka"]["address"] == f"127.0.0.1:{kafka.port}"
    monkeypatch.setenv("LEADFLOW_KAFKA_BOOTSTRAP", "127.0.0.1:59092")
    assert stack.external(stack.StackState.load(), "kafka") is None


def test_a_spawned_process_is_reniced_through_its_scheduling_group(tmp_path: Path) -> None:
    """spawn starts a session of its own; where Linux groups sessions (autogroup), the CPU is shared between
    groups first, so a follower yields only if its group's niceness is raised."""
    pid = procs.spawn(["sleep", "30"], tmp_path / "sleep.log")
    try:
        ours = procs.group_niceness(os.getpid())
        procs.set_group_niceness(pid, 7)
        if Path("/proc/self/autogroup").exists():
            assert procs.group_niceness(pid) == 7
            assert procs.group_niceness(os.getpid()) == ours  # ours is another group: untouched
        else:  # a kernel without autogroup: nothing to set, nothing read
            assert procs.group_niceness(pid) is None
    finally:
        procs.stop_all([(pid, procs.start_time(pid))], timeout_s=5)
