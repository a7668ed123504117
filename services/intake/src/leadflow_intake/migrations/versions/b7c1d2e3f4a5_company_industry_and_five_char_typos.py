"""companies keep their industry; five-character cores join the typo index

Revision ID: b7c1d2e3f4a5
Revises: 4eedf16bb49d
Create Date: 2026-12-06 05:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = 'b7c1d2e3f4a5'
down_revision: str | None = '4eedf16bb49d'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column('companies', sa.Column('industry', sa.String(length=100), nullable=True), schema='intake')
    # what normalize.typo_variants now keeps for a core of five characters: itself and each one-deletion
    op.execute("""
        INSERT INTO intake.company_variants (variant, company_id)
        SELECT DISTINCT v.variant, c.id FROM intake.companies c
        CROSS JOIN LATERAL (SELECT c.core AS variant
                            UNION SELECT overlay(c.core placing '' from i for 1) FROM generate_series(1, 5) AS i) v
        WHERE char_length(c.core) = 5
        ON CONFLICT DO NOTHING""")


def downgrade() -> None:
    op.execute("""
        DELETE FROM intake.company_variants cv USING intake.companies c
        WHERE c.id = cv.company_id AND char_length(c.core) = 5""")
    op.drop_column('companies', 'industry', schema='intake')
