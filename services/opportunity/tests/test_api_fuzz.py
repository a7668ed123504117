"""schemathesis against opportunity's API, served by a real process: whatever its OpenAPI document allows a
client to send, as an admin, a manager, a rep, finance or without a token, is never answered with a 5xx."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leadflow_localstack.testing import ServiceProcesses, assert_no_server_errors
from leadflow_opportunity.app import service


@pytest.fixture(scope="module")
def opportunity_url(leadflow_env: dict[str, str], migrated: Any,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    run = uuid.uuid4().hex[:8]
    env = {**leadflow_env, "LEADFLOW_KAFKA_GROUP_PREFIX": f"fuzz-{run}",
           "LEADFLOW_KAFKA_TOPIC_PREFIX": f"{leadflow_env['LEADFLOW_KAFKA_TOPIC_PREFIX']}{run}."}
    processes = ServiceProcesses(env, Path(tmp_path_factory.mktemp("fuzz")))
    running = processes.start(service)
    processes.wait_ready()
    yield running.url
    codes = processes.stop_all()
    assert set(codes.values()) <= {0, -15}, (codes, running.log_file.read_text()[-4000:])


def test_no_request_gets_a_5xx(opportunity_url: str, staff_token: Callable[..., str]) -> None:
    """Each operation of the OpenAPI document, as an admin, a manager, a rep, finance and with no token."""
    headers = [{"Authorization": staff_token("fuzz-admin", "admin")},
               {"Authorization": staff_token("fuzz-boss", "manager", teams=["east"])},
               {"Authorization": staff_token("fuzz-rep", "rep", teams=["east"])},
               {"Authorization": staff_token("fuzz-billing", "finance")}, {}]
    assert_no_server_errors(opportunity_url, headers, min_operations=20, max_examples=20)


def test_the_fuzzed_service_still_answers(opportunity_url: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if httpx.get(f"{opportunity_url}/health/ready", timeout=5).status_code == 200:
            return
        time.sleep(0.2)
    raise AssertionError("opportunity is not ready after the fuzzing")
