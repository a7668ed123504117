"""routing by rules within capacity: leads, decisions, loads, pointers, conversion, org and rule versions

Revision ID: b7e3a1c9d2f4
Revises: 2169c1b6e645
Create Date: 2026-12-04 19:40:00

The one-row-per-lead `assignments` table becomes `leads` (where each lead is now) and `decisions` (every
decision, explained); its rows are carried over.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = 'b7e3a1c9d2f4'
down_revision: str | None = '2169c1b6e645'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = 'assignment'


def upgrade() -> None:
    op.create_table(
        'leads',
        sa.Column('lead_id', sa.Uuid(), primary_key=True),
        sa.Column('status', sa.String(20), nullable=False),
        sa.Column('owner_id', sa.String(100)),
        sa.Column('team_id', sa.String(100)),
        sa.Column('pool_id', sa.String(100)),
        sa.Column('queue', sa.String(100)),
        sa.Column('previous_owners', postgresql.ARRAY(sa.Text()), nullable=False, server_default='{}'),
        sa.Column('stage', sa.String(20)),
        sa.Column('grade', sa.String(2)),
        sa.Column('channel', sa.String(50)),
        sa.Column('partner_id', sa.String(100)),
        sa.Column('company_id', sa.Uuid()),
        sa.Column('customer_id', sa.Uuid()),
        sa.Column('account_owner_id', sa.String(100)),
        sa.Column('facts', postgresql.JSONB(), nullable=False, server_default='{}'),
        sa.Column('routed_at', sa.DateTime(timezone=True)),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.text('now()')),
        schema=S,
    )
    op.create_index('ix_leads_owner', 'leads', ['owner_id'], schema=S, postgresql_where=sa.text("status = 'assigned'"))
    op.create_index('ix_leads_company', 'leads', ['company_id'], schema=S,
                    postgresql_where=sa.text("status = 'assigned'"))
    op.create_index('ix_leads_routed_at', 'leads', ['routed_at'], schema=S)
    op.create_table(
        'decisions',
        sa.Column('id', sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column('lead_id', sa.Uuid(), nullable=False),
        sa.Column('kind', sa.String(20), nullable=False),
        sa.Column('outcome', sa.String(20), nullable=False),
        sa.Column('owner_id', sa.String(100)),
        sa.Column('team_id', sa.String(100)),
        sa.Column('pool_id', sa.String(100)),
        sa.Column('queue', sa.String(100)),
        sa.Column('rule', sa.String(100), nullable=False),
        sa.Column('rules_version', sa.String(20)),
        sa.Column('strategy', sa.String(50)),
        sa.Column('reason', sa.Text(), nullable=False),
        sa.Column('grade', sa.String(2)),
        sa.Column('channel', sa.String(50)),
        sa.Column('previous_owners', postgresql.ARRAY(sa.Text()), nullable=False, server_default='{}'),
        sa.Column('explanation', postgresql.JSONB(), nullable=False, server_default='{}'),
        sa.Column('decided_by', sa.String(100)),
        sa.Column('decided_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.text('now()')),
        schema=S,
    )
    op.create_index('ix_decisions_lead', 'decisions', ['lead_id', 'id'], schema=S)
    op.create_index('ix_decisions_decided_at', 'decisions', ['decided_at'], schema=S)
    op.create_table(
        'rep_loads',
        sa.Column('rep_id', sa.String(100), primary_key=True),
        sa.Column('open_leads', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('day', sa.Date()),
        sa.Column('new_today', sa.Integer(), nullable=False, server_default='0'),
        schema=S,
    )
    op.create_table(
        'rr_pointers',
        sa.Column('key', sa.String(200), primary_key=True),
        sa.Column('last_rep_id', sa.String(100), nullable=False),
        schema=S,
    )
    op.create_table(
        'conversion_counts',
        sa.Column('rep_id', sa.String(100), primary_key=True),
        sa.Column('channel', sa.String(50), primary_key=True),
        sa.Column('assigned', sa.Integer(), nullable=False, server_default='0'),
        sa.Column('converted', sa.Integer(), nullable=False, server_default='0'),
        schema=S,
    )
    op.create_table(
        'customer_owners',
        sa.Column('customer_id', sa.Uuid(), primary_key=True),
        sa.Column('owner_id', sa.String(100)),
        schema=S,
    )
    for name in ('org_versions', 'rule_sets'):
        op.create_table(
            name,
            sa.Column('version', sa.Integer(), primary_key=True),
            sa.Column('document', postgresql.JSONB(), nullable=False),
            sa.Column('created_by', sa.String(100)),
            sa.Column('created_at', sa.DateTime(timezone=True), nullable=False, server_default=sa.text('now()')),
            schema=S,
        )
    # Where each lead went, carried over: owned leads stay owned (and count in their rep's open leads).
    op.execute(
        "INSERT INTO assignment.leads (lead_id, status, owner_id, pool_id, routed_at, stage) "
        "SELECT lead_id, CASE WHEN owner_id IS NULL THEN 'pooled' ELSE 'assigned' END, owner_id, pool_id, "
        "assigned_at, 'mql' FROM assignment.assignments")
    op.execute(
        "INSERT INTO assignment.decisions (lead_id, kind, outcome, owner_id, pool_id, rule, strategy, reason, decided_at) "
        "SELECT lead_id, 'route', CASE WHEN owner_id IS NULL THEN 'pooled' ELSE 'assigned' END, owner_id, pool_id, "
        "rule, rule, coalesce(reason, ''), assigned_at FROM assignment.assignments")
    op.execute(
        "INSERT INTO assignment.rep_loads (rep_id, open_leads) SELECT owner_id, count(*) FROM assignment.assignments "
        "WHERE owner_id IS NOT NULL GROUP BY owner_id")
    op.drop_table('assignments', schema=S)


def downgrade() -> None:
    op.create_table(
        'assignments',
        sa.Column('lead_id', sa.Uuid(), nullable=False),
        sa.Column('rule', sa.String(length=50), nullable=False),
        sa.Column('owner_id', sa.String(length=100), nullable=True),
        sa.Column('pool_id', sa.String(length=100), nullable=True),
        sa.Column('reason', sa.String(length=500), nullable=True),
        sa.Column('assigned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('lead_id'),
        schema=S,
    )
    op.execute(
        "INSERT INTO assignment.assignments (lead_id, rule, owner_id, pool_id, reason, assigned_at) "
        "SELECT DISTINCT ON (lead_id) lead_id, left(rule, 50), owner_id, pool_id, left(reason, 500), decided_at "
        "FROM assignment.decisions ORDER BY lead_id, id")
    for name in ('rule_sets', 'org_versions', 'customer_owners', 'conversion_counts', 'rr_pointers', 'rep_loads',
                 'decisions', 'leads'):
        op.drop_table(name, schema=S)
