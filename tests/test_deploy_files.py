"""docker-compose.yml stays valid and in step with the contracts and services it deploys."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from leadflow_shared.contracts import TOPICS
from leadflow_shared.service import discover_services

ROOT = Path(__file__).resolve().parents[1]


def test_compose_runs_the_stack_and_every_service_on_its_port() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"kafka", "postgres", "temporal", "kafka-init"} <= set(services)
    for name, service in discover_services().items():
        assert services[name]["build"]["args"]["SERVICE"] == name
        assert f"{service.http_port}:{service.http_port}" in [str(p) for p in services[name]["ports"]]


def test_compose_creates_every_contract_topic() -> None:
    script = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["kafka-init"]["command"][0]
    listed = set(re.findall(r"^\s+([a-z_.0-9]+)(?: \\)?$", script, re.MULTILINE))
    assert {t.name for t in TOPICS} <= listed


def _lock_table(settings: list[str]) -> int:
    """Advisory locks the whole server can hold at once (max_locks_per_transaction × max_connections)."""
    values = dict(s.split("=", 1) for s in settings)
    return int(values.get("max_locks_per_transaction", 64)) * int(values.get("max_connections", 100))


def test_both_stacks_hold_several_full_batches_of_advisory_locks() -> None:
    # A 1,000-lead batch locks up to ~4 keys a lead; intake, scoring and a few single posts at once.
    enough = 4 * 4 * 1_000 * 3
    from leadflow_localstack.components import POSTGRES_SETTINGS

    command = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["postgres"]["command"]
    assert _lock_table([arg for arg in command if "=" in arg]) >= enough
    assert _lock_table(list(POSTGRES_SETTINGS)) >= enough


def test_compose_gives_every_service_the_staff_identity() -> None:
    """Staff tokens verify in containers too: the public key of the one-shot `staff-keys`, or an IdP's JWKS."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    keys = services["staff-keys"]
    assert keys["entrypoint"] == ["leadflow", "staff"] and keys["command"] == ["keygen"]
    signing = keys["environment"]["LEADFLOW_STAFF_SIGNING_KEY_FILE"]
    for name in discover_services():
        env = services[name]["environment"]
        public = env["LEADFLOW_STAFF_PUBLIC_KEY_FILE"]
        assert public.rsplit("/", 1)[0] == signing.rsplit("/", 1)[0]
        assert {"LEADFLOW_STAFF_JWKS_URL", "LEADFLOW_STAFF_ISSUER", "LEADFLOW_STAFF_AUDIENCE"} <= set(env)
        assert f"staff-keys:{public.rsplit('/', 1)[0]}:ro" in services[name]["volumes"]
        assert services[name]["depends_on"]["staff-keys"]["condition"] == "service_completed_successfully"
