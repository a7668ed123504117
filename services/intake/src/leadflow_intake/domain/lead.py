"""A submitted lead, checked and normalized: what it looks like to people and what it matches on."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from leadflow_shared import normalize
from leadflow_intake.domain.errors import FieldError
from leadflow_intake.domain.matching import Whereabouts
from leadflow_shared.contacts import contact_keys
from leadflow_shared.normalize import CompanyName, InvalidContact, NameReading

CONTACT_FIELDS = ("mobile", "wechat", "email")


@dataclass(frozen=True)
class CleanLead:
    """A lead that passed validation: original fields for display, normal forms for matching."""

    fields: dict[str, Any]  # as submitted (trimmed), for display and settlement
    mobile: str | None = None  # E.164
    wechat: str | None = None
    email: str | None = None
    credit_code: str | None = None
    company: CompanyName | None = None
    company_readings: tuple[NameReading, ...] = ()  # the name read with one slip corrected (rarely any)
    name: str | None = None  # folded: simplified, no spaces
    client_ip: str | None = None
    device_id: str | None = None
    extra_mobiles: tuple[str, ...] = field(default_factory=tuple)  # a phone given as WeChat id

    def contact_keys(self) -> tuple[str, ...]:
        """Match keys of the person: equal keys are the same person (查重)."""
        return self._contact_keys

    @cached_property
    def _contact_keys(self) -> tuple[str, ...]:  # asked for several times per lead in a batch
        return contact_keys(self.mobile, self.wechat, self.email, normalized=True)

    @property
    def whereabouts(self) -> Whereabouts:
        return Whereabouts(self.fields.get("city"), self.fields.get("industry"))

    @property
    def email_domain(self) -> str | None:
        return self.email.rsplit("@", 1)[1] if self.email else None

    def snapshot(self) -> dict[str, Any]:
        """The lead as events carry it: display fields, contacts in normal form."""
        snap = {k: v for k, v in self.fields.items() if k not in ("client_ip", "device_id")}
        snap.update({k: v for k, v in (("mobile", self.mobile or (self.extra_mobiles[0] if self.extra_mobiles else None)),
                                       ("wechat", self.wechat), ("email", self.email),
                                       ("company_credit_code", self.credit_code)) if v})
        if self.company:
            snap["company_canonical"] = self.company.canonical
        return snap


def clean(fields: dict[str, Any]) -> CleanLead | list[FieldError]:
    """Check and normalize one lead whose types are already right; all its errors at once."""
    fields = {k: (v.strip() if isinstance(v, str) else v) for k, v in fields.items() if v not in (None, "", {}, [])}
    errors: list[FieldError] = []
    values: dict[str, Any] = {}
    for name, normalizer in (("mobile", normalize.phone), ("wechat", normalize.wechat), ("email", normalize.email),
                             ("company_credit_code", normalize.credit_code)):
        if name in fields:
            try:
                values[name] = normalizer(str(fields[name]))
            except InvalidContact as exc:
                errors.append(FieldError(name, exc.code))
    if "client_ip" in fields:
        try:
            values["client_ip"] = str(ipaddress.ip_address(str(fields["client_ip"])))
        except ValueError:
            errors.append(FieldError("client_ip", "invalid_ip"))
    if not errors and not any(values.get(k) for k in CONTACT_FIELDS):
        errors.append(FieldError("mobile", "missing_contact"))
    if errors:
        return errors
    wechat = values.get("wechat")
    return CleanLead(
        fields=fields,
        mobile=values.get("mobile"),
        wechat=wechat,
        email=values.get("email"),
        credit_code=values.get("company_credit_code"),
        company=normalize.company_name(fields["company_name"]) if fields.get("company_name") else None,
        company_readings=normalize.company_readings(fields["company_name"]) if fields.get("company_name") else (),
        name=normalize.person_name(fields["name"]) if fields.get("name") else None,
        client_ip=values.get("client_ip"),
        device_id=str(fields["device_id"]) if fields.get("device_id") else None,
        extra_mobiles=(wechat,) if wechat and wechat.startswith("+") else (),
    )


def fill_blanks(existing: dict[str, Any], incoming: dict[str, Any]) -> dict[str, Any]:
    """Merge: the existing lead keeps what it has; the new submission fills only what it lacks."""
    merged = dict(existing)
    for key, value in incoming.items():
        if key == "custom" and isinstance(value, dict):
            merged["custom"] = {**value, **(existing.get("custom") or {})}
        elif merged.get(key) in (None, "", [], {}):
            merged[key] = value
    return merged
