"""waiting activities by age, for their expiry

Revision ID: 510cdd1615f7
Revises: 60ace5e3b926
Create Date: 2026-11-23 21:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '510cdd1615f7'
down_revision: str | None = '60ace5e3b926'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Only waiting activities enter it (few, next to the applied ones): small. Built without blocking the
    # consumers' writes while it reads the table.
    with op.get_context().autocommit_block():
        op.create_index('ix_activities_waiting_since', 'activities', ['received_at'], unique=False,
                        schema='scoring', postgresql_where=sa.text('applied_at IS NULL'),
                        postgresql_concurrently=True)


def downgrade() -> None:
    op.drop_index('ix_activities_waiting_since', table_name='activities', schema='scoring')
