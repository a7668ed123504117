"""schemathesis against opportunity's API, served by a real process: whatever its OpenAPI document allows a
client to send, as an admin, a manager, a rep, finance or without a token, is never answered with a 5xx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from leadflow_localstack.testing import assert_no_server_errors, assert_ready, served_alone
from leadflow_opportunity.app import service


@pytest.fixture(scope="module")
def opportunity_url(leadflow_env: dict[str, str], migrated: Any,
                    tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with served_alone(service, leadflow_env, Path(tmp_path_factory.mktemp("fuzz"))) as url:
        yield url


def test_no_request_gets_a_5xx(opportunity_url: str, staff_token: Callable[..., str]) -> None:
    """Each operation of the OpenAPI document, as an admin, a manager, a rep, finance and with no token."""
    headers = [{"Authorization": staff_token("fuzz-admin", "admin")},
               {"Authorization": staff_token("fuzz-boss", "manager", teams=["east"])},
               {"Authorization": staff_token("fuzz-rep", "rep", teams=["east"])},
               {"Authorization": staff_token("fuzz-billing", "finance")}, {}]
    assert_no_server_errors(opportunity_url, headers, min_operations=20, max_examples=20)


def test_the_fuzzed_service_still_answers(opportunity_url: str) -> None:
    assert_ready(opportunity_url, "opportunity after the fuzzing")
