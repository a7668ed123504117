"""outbox payload as text

Revision ID: 41e4a01db782
Revises: dfb7af4ecce4
Create Date: 2026-11-23 17:30:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import outbox_payload_as_jsonb_v1, outbox_payload_as_text_v2

revision: str = '41e4a01db782'
down_revision: str | None = 'dfb7af4ecce4'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_payload_as_text_v2('pool')


def downgrade() -> None:
    outbox_payload_as_jsonb_v1('pool')
