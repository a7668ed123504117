"""outbox payload as text

Revision ID: 392f44cb69c9
Revises: 97e915b8fb7f
Create Date: 2026-11-23 17:30:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import outbox_payload_as_jsonb_v1, outbox_payload_as_text_v2

revision: str = '392f44cb69c9'
down_revision: str | None = '97e915b8fb7f'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_payload_as_text_v2('intake')


def downgrade() -> None:
    outbox_payload_as_jsonb_v1('intake')
