"""waiting activities' indexes, each fit for one kind of probe

Revision ID: 7c2d41e9a0b3
Revises: 01601769e628
Create Date: 2026-11-23 19:20:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '7c2d41e9a0b3'
down_revision: str | None = '01601769e628'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # An activity waiting by contact (no lead id) is not in the lead index any more: with statistics that
    # expect few waiting activities, the planner scanned all of that index for each contact of a batch.
    op.drop_index('ix_activities_pending_lead', table_name='activities', schema='scoring')
    op.create_index('ix_activities_pending_lead', 'activities', ['lead_id'], unique=False, schema='scoring',
                    postgresql_where=sa.text('applied_at IS NULL AND lead_id IS NOT NULL'))
    # GIN's fast update keeps new entries in a list that every search reads whole.
    op.execute("ALTER INDEX scoring.ix_activities_pending_contacts SET (fastupdate = off)")
    op.execute("SELECT gin_clean_pending_list('scoring.ix_activities_pending_contacts'::regclass)")


def downgrade() -> None:
    op.execute("ALTER INDEX scoring.ix_activities_pending_contacts RESET (fastupdate)")
    op.drop_index('ix_activities_pending_lead', table_name='activities', schema='scoring')
    op.create_index('ix_activities_pending_lead', 'activities', ['lead_id'], unique=False, schema='scoring',
                    postgresql_where=sa.text('applied_at IS NULL'))
