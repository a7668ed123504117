"""create scoring tables

Revision ID: 551a0c7e0be7
Revises: 
Create Date: 2026-11-23 03:38:34.590454
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

from leadflow_shared.migrations import create_plumbing_tables_v1, drop_plumbing_tables_v1

revision: str = '551a0c7e0be7'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_tables_v1('scoring')
    op.create_table('scored_leads',
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('lead', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('score', sa.Float(), nullable=False),
    sa.Column('grade', sa.String(length=2), nullable=False),
    sa.Column('stage', sa.String(length=20), nullable=False),
    sa.Column('rules_version', sa.String(length=50), nullable=False),
    sa.Column('explanation', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('scored_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('lead_id'),
    schema='scoring'
    )


def downgrade() -> None:
    op.drop_table('scored_leads', schema='scoring')
    drop_plumbing_tables_v1('scoring')
