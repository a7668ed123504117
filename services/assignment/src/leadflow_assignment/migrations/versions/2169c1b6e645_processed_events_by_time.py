"""processed events by time

Revision ID: 2169c1b6e645
Revises: 90a7270473fe
Create Date: 2026-11-23 21:20:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import drop_processed_events_by_time_v1, processed_events_by_time_v1

revision: str = '2169c1b6e645'
down_revision: str | None = '90a7270473fe'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    processed_events_by_time_v1('assignment')


def downgrade() -> None:
    drop_processed_events_by_time_v1('assignment')
