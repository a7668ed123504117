"""create assignment tables

Revision ID: 6ae99c53f94a
Revises: 
Create Date: 2026-11-23 03:38:39.701093
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from leadflow_shared.migrations import create_plumbing_tables_v1, drop_plumbing_tables_v1

revision: str = '6ae99c53f94a'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_tables_v1('assignment')
    op.create_table('assignments',
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('rule', sa.String(length=50), nullable=False),
    sa.Column('owner_id', sa.String(length=100), nullable=True),
    sa.Column('pool_id', sa.String(length=100), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('lead_id'),
    schema='assignment'
    )


def downgrade() -> None:
    op.drop_table('assignments', schema='assignment')
    drop_plumbing_tables_v1('assignment')
