"""schemathesis against pool's API, served by a real process: whatever its OpenAPI document allows a client
to send, as an admin, a rep or without a token, is never answered with a 5xx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadflow_localstack.testing import assert_no_server_errors, assert_ready, served_alone
from leadflow_pool.app import service


@pytest.fixture(scope="module")
def pool_url(leadflow_env: dict[str, str], migrated: Any,
             tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_alone(service, leadflow_env, Path(tmp_path_factory.mktemp("fuzz")),
                      LEADFLOW_POOL_TASK_QUEUE="fuzz-{run}") as url:
        yield url


def test_no_request_gets_a_5xx(pool_url: str, staff_token: Callable[..., str]) -> None:
    """Each operation of the OpenAPI document, as an admin, as a rep and with no token."""
    admin = {"Authorization": staff_token("fuzz-admin", "admin")}
    rep = {"Authorization": staff_token("fuzz-rep", "rep", teams=["east"])}
    assert_no_server_errors(pool_url, [admin, rep, {}], min_operations=15)


def test_the_fuzzed_service_still_answers(pool_url: str) -> None:
    assert_ready(pool_url, "pool after the fuzzing")
