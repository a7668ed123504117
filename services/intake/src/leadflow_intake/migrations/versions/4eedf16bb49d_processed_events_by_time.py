"""processed events by time

Revision ID: 4eedf16bb49d
Revises: 392f44cb69c9
Create Date: 2026-11-23 21:20:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import drop_processed_events_by_time_v1, processed_events_by_time_v1

revision: str = '4eedf16bb49d'
down_revision: str | None = '392f44cb69c9'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    processed_events_by_time_v1('intake')


def downgrade() -> None:
    drop_processed_events_by_time_v1('intake')
