"""A batch's rows in rounds (shared.db.execute_rows): a key's rows in their order, one a round; each round in key
order, so that two replicas writing the same keys lock them in one order."""

from __future__ import annotations

from leadflow_shared.db import _once_per_key


def test_a_keys_rows_keep_their_order_and_every_round_is_in_key_order() -> None:
    rows = [{"k": "c", "v": 1}, {"k": "a", "v": 2}, {"k": "c", "v": 3}, {"k": "b", "v": 4}, {"k": "a", "v": 5},
            {"k": "c", "v": 6}]
    rounds = _once_per_key(rows, ("k",))
    assert [[(r["k"], r["v"]) for r in part] for part in rounds] == [
        [("a", 2), ("b", 4), ("c", 1)], [("a", 5), ("c", 3)], [("c", 6)]]


def test_two_batches_of_the_same_keys_in_other_orders_lock_them_in_one_order() -> None:
    first = _once_per_key([{"k": k} for k in ("x", "m", "b")], ("k",))
    second = _once_per_key([{"k": k} for k in ("b", "x", "m")], ("k",))
    assert first == second == [[{"k": "b"}, {"k": "m"}, {"k": "x"}]]
