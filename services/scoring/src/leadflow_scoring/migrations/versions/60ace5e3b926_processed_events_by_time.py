"""processed events by time

Revision ID: 60ace5e3b926
Revises: 7c2d41e9a0b3
Create Date: 2026-11-23 21:20:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import drop_processed_events_by_time_v1, processed_events_by_time_v1

revision: str = '60ace5e3b926'
down_revision: str | None = '7c2d41e9a0b3'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    processed_events_by_time_v1('scoring')


def downgrade() -> None:
    drop_processed_events_by_time_v1('scoring')
