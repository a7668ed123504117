"""opportunity's tables (schema `opportunity`): the leads it may convert, the customer master, contacts,
opportunities with their stage history and payments, the pipeline document, and the reporting projection
(the funnel per lead and per cohort, channel spend, targets)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Index, Integer, Numeric, String, Table, Uuid,
    func, text,
)
from sqlalchemy.dialects.postgresql import JSONB

from leadflow_shared.db import service_metadata

metadata = service_metadata("opportunity")

NOW = func.now()

leads = Table(
    "leads", metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("owner_id", String(100)),
    Column("team_id", String(100)),
    Column("status", String(20), nullable=False),
    Column("owner_at", DateTime(timezone=True), comment="When the ownership it holds began."),
    Column("qualified_by", String(100), comment="The SDR who qualified it (SDR 奖励)."),
    Column("source", String(50)),
    Column("partner_id", String(100)),
    Column("customer_id", Uuid, comment="intake's link of the lead to a known customer."),
    Column("snapshot", JSONB, comment="The lead as intake normalized it (its latest submission)."),
    Column("received_at", DateTime(timezone=True)),
    Column("mql_at", DateTime(timezone=True)),
    Column("accepted_at", DateTime(timezone=True), comment="SQL: sales accepted it (销售认可)."),
    Column("accepted_by", String(100)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

customers = Table(
    "customers", metadata,
    Column("customer_id", Uuid, primary_key=True),
    Column("kind", String(10), nullable=False),
    Column("name", String(200), nullable=False),
    Column("name_key", String(300)),
    Column("credit_code", String(18)),
    Column("mobile", String(20)),
    Column("province", String(50)),
    Column("city", String(50)),
    Column("industry", String(100)),
    Column("owner_id", String(100)),
    Column("created_from_lead", Uuid),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Index("customers_credit_code", "credit_code", unique=True, postgresql_where=text("credit_code IS NOT NULL")),
    Index("customers_name_key", "name_key", unique=True,
          postgresql_where=text("name_key IS NOT NULL AND credit_code IS NULL")),
    Index("customers_name_key_any", "name_key"),
    Index("customers_mobile", "mobile", unique=True, postgresql_where=text("mobile IS NOT NULL")),
)

contacts = Table(
    "contacts", metadata,
    Column("contact_id", Uuid, primary_key=True),
    Column("customer_id", Uuid, ForeignKey("opportunity.customers.customer_id"), nullable=False, index=True),
    Column("name", String(100)),
    Column("title", String(100)),
    Column("mobile", String(20)),
    Column("wechat", String(100)),
    Column("email", String(200)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

opportunities = Table(
    "opportunities", metadata,
    Column("opportunity_id", Uuid, primary_key=True),
    Column("lead_id", Uuid, nullable=False, unique=True),
    Column("customer_id", Uuid, ForeignKey("opportunity.customers.customer_id"), nullable=False, index=True),
    Column("contact_id", Uuid, ForeignKey("opportunity.contacts.contact_id"), nullable=False),
    Column("name", String(200), nullable=False),
    Column("amount", Numeric(16, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("expected_close", Date),
    Column("product_line", String(100)),
    Column("stage", String(50), nullable=False),
    Column("status", String(10), nullable=False, comment="open | won | lost"),
    Column("probability", Numeric(4, 3), nullable=False),
    Column("owner_id", String(100), index=True),
    Column("team_id", String(100)),
    Column("sdr_id", String(100), index=True),
    Column("source", String(50)),
    Column("partner_id", String(100)),
    Column("lost_reason", String(50)),
    Column("contract_ref", String(100)),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("stage_entered_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("won_at", DateTime(timezone=True)),
    Column("lost_at", DateTime(timezone=True)),
    Column("realized_at", DateTime(timezone=True), index=True,
           comment="Its first payment: new-sale credit counts from here (新签业绩以首次消费为准)."),
    Column("realized_amount", Numeric(16, 2)),
    Index("opportunities_contract_ref", "contract_ref", unique=True, postgresql_where=text("contract_ref IS NOT NULL")),
)

conversions = Table(
    "conversions", metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("customer_id", Uuid, nullable=False),
    Column("contact_id", Uuid, nullable=False),
    Column("opportunity_id", Uuid, nullable=False),
    Column("merged", Boolean, nullable=False),
    Column("override", Boolean, nullable=False, server_default=text("false"),
           comment="A manager converted it without sales' acceptance."),
    Column("converted_by", String(100), nullable=False),
    Column("converted_at", DateTime(timezone=True), nullable=False),
)

stage_changes = Table(
    "stage_changes", metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("opportunity_id", Uuid, nullable=False),
    Column("from_stage", String(50)),
    Column("to_stage", String(50), nullable=False),
    Column("by", String(100), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("detail", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("stage_changes_by_opportunity", "opportunity_id", "at"),
    Index("stage_changes_at", "at"),
)

payments = Table(
    "payments", metadata,
    Column("payment_id", String(100), primary_key=True),
    Column("opportunity_id", Uuid, nullable=False, index=True),
    Column("amount", Numeric(16, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("recorded_by", String(100), nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

pipeline_documents = Table(
    "pipeline_documents", metadata,
    Column("version", Integer, primary_key=True, autoincrement=True),
    Column("document", JSONB, nullable=False),
    Column("created_by", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

# ---- the reporting projection (fed by every service's events) -----------------------------------------

funnel_leads = Table(
    "funnel_leads", metadata,
    Column("lead_id", Uuid, primary_key=True),
    Column("received_on", Date, comment="The cohort: the day (report timezone) intake received it."),
    Column("source", String(50)),
    Column("partner_id", String(100)),
    Column("owner_id", String(100)),
    Column("team_id", String(100)),
    Column("owner_at", DateTime(timezone=True), comment="When the ownership it holds began."),
    Column("received_at", DateTime(timezone=True)),
    Column("mql_at", DateTime(timezone=True)),
    Column("sql_at", DateTime(timezone=True)),
    Column("opportunity_at", DateTime(timezone=True)),
    Column("won_at", DateTime(timezone=True)),
    Column("realized_at", DateTime(timezone=True)),
    Column("won_amount", Numeric(16, 2)),
    Column("realized_amount", Numeric(16, 2)),
    Index("funnel_leads_received_on", "received_on"),
)

def _cohort_table(name: str, period: str, comment: str) -> Table:
    return Table(
        name, metadata,
        Column(period, Date, primary_key=True, comment=comment),
        Column("source", String(50), primary_key=True),
        Column("partner_id", String(100), primary_key=True),
        Column("owner_id", String(100), primary_key=True),
        Column("team_id", String(100), primary_key=True),
        *(Column(step, BigInteger, nullable=False, server_default=text("0"))
          for step in ("leads", "mql", "sql", "opportunities", "won", "realized")),
        Column("won_amount", Numeric(18, 2), nullable=False, server_default=text("0")),
        Column("realized_amount", Numeric(18, 2), nullable=False, server_default=text("0")),
    )


# The same sums by day and by month: a report over whole months reads the months, and days only at its edges.
funnel_cohorts = _cohort_table("funnel_cohorts", "day", "The day (report timezone) the leads were received.")
funnel_months = _cohort_table("funnel_months", "month", "The month's first day.")

channel_spend = Table(
    "channel_spend", metadata,
    Column("month", Date, primary_key=True, comment="The month's first day."),
    Column("source", String(50), primary_key=True),
    Column("partner_id", String(100), primary_key=True, comment="'' for the whole source."),
    Column("amount", Numeric(16, 2), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

targets = Table(
    "targets", metadata,
    Column("month", Date, primary_key=True, comment="The month's first day."),
    Column("kind", String(10), primary_key=True, comment="rep | team"),
    Column("subject_id", String(100), primary_key=True),
    Column("team_id", String(100), comment="A rep's team: a team without its own target sums its reps'."),
    Column("amount", Numeric(16, 2), nullable=False, comment="新签业绩目标: realized new sales."),
    Column("updated_by", String(100), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
)

__all__ = ["metadata", "leads", "customers", "contacts", "opportunities", "conversions", "stage_changes",
           "payments", "pipeline_documents", "funnel_leads", "funnel_cohorts", "funnel_months", "channel_spend", "targets"]
