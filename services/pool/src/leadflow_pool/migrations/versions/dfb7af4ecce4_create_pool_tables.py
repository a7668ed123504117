"""create pool tables

Revision ID: dfb7af4ecce4
Revises: 
Create Date: 2026-11-23 03:38:44.873134
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from leadflow_shared.migrations import create_plumbing_tables_v1, drop_plumbing_tables_v1

revision: str = 'dfb7af4ecce4'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_tables_v1('pool')
    op.create_table('pool_leads',
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('pool_id', sa.String(length=100), nullable=False),
    sa.Column('owner_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('follow_up_deadline', sa.DateTime(timezone=True), nullable=True),
    sa.Column('workflow_id', sa.String(length=200), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('lead_id'),
    schema='pool'
    )


def downgrade() -> None:
    op.drop_table('pool_leads', schema='pool')
    drop_plumbing_tables_v1('pool')
