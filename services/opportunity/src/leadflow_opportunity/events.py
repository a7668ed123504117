"""The events opportunity publishes, built from its rows (contracts in leadflow_shared.contracts)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from leadflow_shared.contracts import CustomerChanged, OpportunityChanged, OpportunityClosed


def customer_event(customer: dict[str, Any], contacts: list[dict[str, Any]], change: str, lead_id: uuid.UUID,
                   at: datetime) -> CustomerChanged:
    mobiles = [m for m in dict.fromkeys([customer.get("mobile"), *(c.get("mobile") for c in contacts)]) if m]
    emails = [e for e in dict.fromkeys(c.get("email") for c in contacts) if e]
    return CustomerChanged(customer_id=customer["customer_id"], name=customer["name"],
                           credit_code=customer.get("credit_code"), owner_id=customer.get("owner_id"),
                           mobiles=mobiles, emails=emails, change=change, kind=customer["kind"], lead_id=lead_id,
                           changed_at=at)


def opportunity_event(row: dict[str, Any], change: str, from_stage: str | None, by: str,
                      at: datetime) -> OpportunityChanged:
    expected = row.get("expected_close")
    return OpportunityChanged(
        opportunity_id=row["opportunity_id"], lead_id=row["lead_id"], customer_id=row["customer_id"], change=change,
        stage=row["stage"], from_stage=from_stage, status=row["status"], probability=float(row["probability"]),
        name=row["name"], amount=float(row["amount"]), currency=row["currency"], product_line=row.get("product_line"),
        expected_close=expected.isoformat() if expected else None, owner_id=row.get("owner_id"),
        team_id=row.get("team_id"), sdr_id=row.get("sdr_id"), lost_reason=row.get("lost_reason"),
        contract_ref=row.get("contract_ref"),
        realized_amount=float(row["realized_amount"]) if row.get("realized_amount") is not None else None,
        by=by, at=at)


def closed_event(row: dict[str, Any], at: datetime) -> OpportunityClosed:
    return OpportunityClosed(opportunity_id=row["opportunity_id"], lead_id=row["lead_id"],
                             customer_id=row["customer_id"], outcome=row["status"], amount=float(row["amount"]),
                             reason=row.get("lost_reason"), closed_at=at)
