"""A person's match keys (查重): `mobile:+8613800138000`, `wechat:abc_123`, `email:a@b.cn`.

Every service spells them here, so that the same person gives the same keys wherever they are seen: a lead
at intake, a customer of the master, an activity at scoring. A WeChat id that is a phone number is the
person's mobile (`normalize.wechat` gives it its E.164 form), so it is a mobile key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache

from leadflow_shared import normalize

_NORMAL_FORMS: dict[str, Callable[[str], str]] = {
    "mobile": normalize.phone, "wechat": normalize.wechat, "email": normalize.email}


def contact_keys(mobile: str | None = None, wechat: str | None = None, email: str | None = None, *,
                 mobiles: Iterable[str] = (), emails: Iterable[str] = (),
                 normalized: bool = False) -> tuple[str, ...]:
    """The match keys of a person's contacts (equal keys are the same person): mobiles first, each key
    once. A contact that is not valid gives none. `normalized`: the contacts are already in their normal
    forms (normalize.phone, wechat, email), so nothing is parsed again."""
    key = _normal_key if normalized else _key
    found = [key("mobile", m) for m in (mobile, *mobiles) if m]
    if wechat:
        found.append(key("wechat", wechat))
    found += [key("email", e) for e in (email, *emails) if e]
    keys = dict.fromkeys(found)  # in order, each once
    keys.pop(None, None)  # an invalid contact's
    return tuple(keys)


def _normal_key(kind: str, value: str) -> str:
    if kind == "wechat" and value.startswith("+"):  # a phone number given as WeChat id
        kind = "mobile"
    return f"{kind}:{value}"


@lru_cache(maxsize=65536)
def _key(kind: str, value: str) -> str | None:
    """One contact's key, or None when it is not a valid contact (normalizing is pure: the same person's
    events repeat their contacts, and parsing a phone number costs tens of µs)."""
    try:
        return _normal_key(kind, _NORMAL_FORMS[kind](value))
    except normalize.InvalidContact:
        return None
