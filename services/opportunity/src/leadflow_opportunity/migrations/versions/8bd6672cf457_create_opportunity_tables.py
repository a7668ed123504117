"""create opportunity tables

Revision ID: 8bd6672cf457
Revises: 
Create Date: 2026-11-23 03:38:50.712955
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from leadflow_shared.migrations import create_plumbing_tables_v1, drop_plumbing_tables_v1

revision: str = '8bd6672cf457'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_plumbing_tables_v1('opportunity')
    op.create_table('lead_owners',
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('owner_id', sa.String(length=100), nullable=True),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('lead_id'),
    schema='opportunity'
    )


def downgrade() -> None:
    op.drop_table('lead_owners', schema='opportunity')
    drop_plumbing_tables_v1('opportunity')
