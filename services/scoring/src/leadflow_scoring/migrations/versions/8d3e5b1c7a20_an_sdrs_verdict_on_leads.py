"""an SDR's verdict on leads (线索清洗)

Revision ID: 8d3e5b1c7a20
Revises: 3f8a2c9d1e47
Create Date: 2026-12-05 06:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '8d3e5b1c7a20'
down_revision: str | None = '3f8a2c9d1e47'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('leads', sa.Column('disposition', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
                  schema='scoring')


def downgrade() -> None:
    op.drop_column('leads', 'disposition', schema='scoring')
