"""processed events by time

Revision ID: 85de7d7aac65
Revises: 0912e5bbd4b6
Create Date: 2026-11-23 21:20:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import drop_processed_events_by_time_v1, processed_events_by_time_v1

revision: str = '85de7d7aac65'
down_revision: str | None = '0912e5bbd4b6'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    processed_events_by_time_v1('opportunity')


def downgrade() -> None:
    drop_processed_events_by_time_v1('opportunity')
