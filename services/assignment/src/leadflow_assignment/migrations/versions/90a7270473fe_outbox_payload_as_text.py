"""outbox payload as text

Revision ID: 90a7270473fe
Revises: 6ae99c53f94a
Create Date: 2026-11-23 17:30:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import outbox_payload_as_jsonb_v1, outbox_payload_as_text_v2

revision: str = '90a7270473fe'
down_revision: str | None = '6ae99c53f94a'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_payload_as_text_v2('assignment')


def downgrade() -> None:
    outbox_payload_as_jsonb_v1('assignment')
