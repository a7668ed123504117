"""The API-key cache: trusted for its TTL, then asked again; off at 0."""

from leadflow_shared.auth import KeyCache, hash_key

ACME = {"id": "p_1", "name": "acme"}


def test_a_checked_key_is_trusted_until_its_ttl_runs_out() -> None:
    now = [100.0]
    cache: KeyCache[dict[str, str]] = KeyCache(2.0, clock=lambda: now[0])
    assert cache.get("h") == (False, None)
    cache.put("h", ACME)
    cache.put("unknown", None)
    assert cache.get("h") == (True, ACME)
    assert cache.get("unknown") == (True, None)  # a bad key is refused without a query, too
    now[0] += 2.0
    assert cache.get("h") == (False, None)


def test_a_zero_ttl_always_asks_the_database() -> None:
    cache = KeyCache(0.0)
    cache.put("h", ACME)
    assert cache.get("h") == (False, None)


def test_keys_are_stored_as_sha256() -> None:
    import hashlib

    assert hash_key("lf_x") == hashlib.sha256(b"lf_x").hexdigest()
    assert len(hash_key("lf_x")) == 64 and hash_key("lf_x") != hash_key("lf_y")
