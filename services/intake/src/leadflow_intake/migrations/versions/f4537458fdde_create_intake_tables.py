"""create intake tables

Revision ID: f4537458fdde
Revises: 
Create Date: 2026-11-23 03:38:29.069020
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

from leadflow_shared.migrations import create_plumbing_tables_v1, drop_plumbing_tables_v1

revision: str = 'f4537458fdde'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_tables_v1('intake')
    op.create_table('leads',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('fields', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='intake'
    )
    op.create_table('submissions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.String(length=100), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('fields', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['intake.leads.id'], ),
    sa.PrimaryKeyConstraint('id'),
    schema='intake'
    )
    op.create_index(op.f('ix_intake_submissions_lead_id'), 'submissions', ['lead_id'], unique=False, schema='intake')


def downgrade() -> None:
    op.drop_index(op.f('ix_intake_submissions_lead_id'), table_name='submissions', schema='intake')
    op.drop_table('submissions', schema='intake')
    op.drop_table('leads', schema='intake')
    drop_plumbing_tables_v1('intake')
