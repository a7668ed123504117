"""outbox payload as text

Revision ID: 0912e5bbd4b6
Revises: 8bd6672cf457
Create Date: 2026-11-23 17:30:00
"""
from collections.abc import Sequence

from leadflow_shared.migrations import outbox_payload_as_jsonb_v1, outbox_payload_as_text_v2

revision: str = '0912e5bbd4b6'
down_revision: str | None = '8bd6672cf457'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    outbox_payload_as_text_v2('opportunity')


def downgrade() -> None:
    outbox_payload_as_jsonb_v1('opportunity')
