import asyncio

import pytest
from sqlalchemy import exc as sa_exc

from leadflow_shared.errors import TransientError, is_transient


class _Orig(Exception):
    def __init__(self, sqlstate: str) -> None:
        super().__init__(sqlstate)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    "error",
    [
        TransientError("temporal away"),
        ConnectionRefusedError(),
        asyncio.TimeoutError(),
        sa_exc.OperationalError("SELECT 1", {}, _Orig("08006")),
        sa_exc.DBAPIError("UPDATE", {}, _Orig("40001")),  # serialization failure: try again
        sa_exc.DBAPIError("UPDATE", {}, _Orig("57P01")),  # admin shutdown
    ],
)
def test_outages_are_transient(error: BaseException) -> None:
    assert is_transient(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad data"),
        KeyError("field"),
        sa_exc.IntegrityError("INSERT", {}, _Orig("23505")),  # a unique violation is the event's fault
    ],
)
def test_faults_of_the_event_are_not(error: BaseException) -> None:
    assert not is_transient(error)


def test_a_wrapped_outage_is_still_an_outage() -> None:
    try:
        try:
            raise ConnectionResetError("peer gone")
        except ConnectionResetError as inner:
            raise RuntimeError("handler failed") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
