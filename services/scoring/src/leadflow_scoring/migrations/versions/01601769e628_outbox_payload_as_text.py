"""outbox payload as text

Revision ID: 01601769e628
Revises: 11fa8d204733
Create Date: 2026-11-23 17:30:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import outbox_payload_as_jsonb_v1, outbox_payload_as_text_v2

revision: str = '01601769e628'
down_revision: str | None = '11fa8d204733'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_payload_as_text_v2('scoring')


def downgrade() -> None:
    outbox_payload_as_jsonb_v1('scoring')
