"""an SDR's qualification: who qualified each lead, and its hand-off to sales

Revision ID: c4f1a7d9e2b3
Revises: b7e3a1c9d2f4
Create Date: 2026-12-05 07:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'c4f1a7d9e2b3'
down_revision: str | None = 'b7e3a1c9d2f4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('leads', sa.Column('qualified_by', sa.String(length=100), nullable=True), schema='assignment')
    op.add_column('leads', sa.Column('handoff_due', sa.Boolean(), server_default=sa.text('false'), nullable=False),
                  schema='assignment')


def downgrade() -> None:
    op.drop_column('leads', 'handoff_due', schema='assignment')
    op.drop_column('leads', 'qualified_by', schema='assignment')
