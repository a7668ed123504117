"""processed events by time

Revision ID: 14bf08c69cfa
Revises: 41e4a01db782
Create Date: 2026-11-23 21:20:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import drop_processed_events_by_time_v1, processed_events_by_time_v1

revision: str = '14bf08c69cfa'
down_revision: str | None = '41e4a01db782'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    processed_events_by_time_v1('pool')


def downgrade() -> None:
    drop_processed_events_by_time_v1('pool')
