"""The JSON documents a batch's rows travel in to Postgres (db.json_text, db.json_rows)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from decimal import Decimal

from leadflow_shared.db import json_rows, json_text


def test_rows_travel_as_arrays_in_column_order() -> None:
    lead_id = uuid.UUID("6f1c2b1e-0000-4000-8000-000000000001")
    at = datetime(2026, 11, 23, 8, 30, tzinfo=UTC)
    document = json_rows([{"b": {"城市": "杭州"}, "a": lead_id, "c": at}], ["a", "b", "c"])
    assert json.loads(document) == [[str(lead_id), {"城市": "杭州"}, "2026-11-23T08:30:00Z"]]


def test_values_json_cannot_hold_become_null_or_text() -> None:
    # Postgres refuses NaN in jsonb: a score that went NaN must not sink its whole batch.
    assert json.loads(json_text({"nan": float("nan"), "inf": float("inf"), "money": Decimal("1.50"),
                                 "tags": frozenset({"vip"})})) == {"nan": None, "inf": None, "money": "1.50",
                                                                   "tags": ["vip"]}


def test_an_unknown_type_is_written_as_its_text() -> None:
    class Code:
        def __str__(self) -> str:
            return "91330106MA2GL1RQ4X"

    assert json.loads(json_text([Code()])) == ["91330106MA2GL1RQ4X"]
