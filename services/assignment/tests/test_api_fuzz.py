"""schemathesis against assignment's API, served by a real process: whatever its OpenAPI document allows
a client to send, as an admin or without a token, is never answered with a 5xx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadflow_assignment.app import service
from leadflow_localstack.testing import assert_no_server_errors, assert_ready, served_alone

from .conftest import configure, unique


@pytest.fixture(scope="module")
def assignment_url(leadflow_env: dict[str, str], migrated: Any,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_alone(service, leadflow_env, Path(tmp_path_factory.mktemp("fuzz"))) as url:
        yield url


@pytest.fixture(scope="module")
async def fuzz_org(leadflow_env: dict[str, str], migrated: Any) -> str:
    """An organisation and rules for the fuzzed calls to find (and change: it is this module's own)."""
    from leadflow_assignment.db import metadata
    from leadflow_shared.db import Database

    db = Database(leadflow_env["LEADFLOW_PG_DSN"], metadata, "/leadflow/fuzz", pool_size=2)
    team = unique("fuzz")
    try:
        await configure(db, {"teams": [{"id": team, "default_pool": "p"}], "reps": [{"id": f"{team}-a", "team": team}]},
                        {"rules": [{"id": "rr", "strategy": "round_robin", "team": team}]})
    finally:
        await db.dispose()
    return team


def test_no_request_gets_a_5xx(assignment_url: str, fuzz_org: str, staff_token: Callable[..., str]) -> None:
    """Each operation of the OpenAPI document, up to 30 generated requests, as an admin and with no token."""
    admin = {"Authorization": staff_token("fuzz-admin", "admin")}
    assert_no_server_errors(assignment_url, [admin, {}], min_operations=15, max_examples=30)


def test_the_fuzzed_service_still_answers(assignment_url: str) -> None:
    assert_ready(assignment_url, "assignment after the fuzzing")
