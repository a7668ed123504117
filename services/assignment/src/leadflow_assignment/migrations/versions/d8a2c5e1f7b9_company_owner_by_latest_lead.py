"""a company's owner read from its latest routed lead by one index probe

Revision ID: d8a2c5e1f7b9
Revises: c4f1a7d9e2b3
Create Date: 2026-12-06 18:30:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'd8a2c5e1f7b9'
down_revision: str | None = 'c4f1a7d9e2b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_leads_company_latest', 'leads', ['company_id', sa.text('routed_at DESC NULLS LAST')],
                    schema='assignment', postgresql_where=sa.text("status = 'assigned'"))
    op.drop_index('ix_leads_company', table_name='leads', schema='assignment')


def downgrade() -> None:
    op.create_index('ix_leads_company', 'leads', ['company_id'], schema='assignment',
                    postgresql_where=sa.text("status = 'assigned'"))
    op.drop_index('ix_leads_company_latest', table_name='leads', schema='assignment')
