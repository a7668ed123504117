"""a WeChat id that is a phone number is a mobile key (as intake files it)

Scoring used to file such a contact as `wechat:+86…`; intake, and now every service through
`leadflow_shared.contacts`, as `mobile:+86…`. Known contacts and waiting activities are respelled, so an
activity naming the person by that number finds its lead. Where the same number is already some lead's
mobile, that lead keeps it.

Revision ID: 3f8a2c9d1e47
Revises: 510cdd1615f7
Create Date: 2026-12-04 17:20:00
"""
from collections.abc import Sequence

from alembic import op

revision: str = '3f8a2c9d1e47'
down_revision: str | None = '510cdd1615f7'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = r"^wechat:\+"


def upgrade() -> None:
    op.execute(
        "DELETE FROM scoring.lead_contacts w WHERE w.key LIKE 'wechat:+%' AND EXISTS "
        "(SELECT 1 FROM scoring.lead_contacts m WHERE m.key = 'mobile:' || substr(w.key, 8))")
    op.execute("UPDATE scoring.lead_contacts SET key = 'mobile:' || substr(key, 8) WHERE key LIKE 'wechat:+%'")
    # Only activities still waiting are looked up by their keys; each key once, in its first place.
    op.execute(
        "UPDATE scoring.activities SET contact_keys = ARRAY("
        f"  SELECT k FROM (SELECT regexp_replace(k, '{OLD}', 'mobile:+') AS k, min(n) AS n "
        "    FROM unnest(contact_keys) WITH ORDINALITY AS c(k, n) GROUP BY 1) AS r ORDER BY n) "
        "WHERE applied_at IS NULL AND EXISTS (SELECT 1 FROM unnest(contact_keys) AS c(k) WHERE k LIKE 'wechat:+%')")


def downgrade() -> None:
    pass  # the old spelling was the bug; `mobile:` keys stay right for the code before this one too
