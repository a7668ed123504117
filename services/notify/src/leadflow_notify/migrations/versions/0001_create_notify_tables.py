"""create notify tables

Revision ID: 0001
Revises:
Create Date: 2026-12-07 09:00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from leadflow_shared.migrations import (
    create_plumbing_tables_v1, drop_plumbing_tables_v1, drop_processed_events_by_time_v1, outbox_payload_as_text_v2,
    processed_events_by_time_v1,
)

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # the outbox and processed-event tables as they are today: first made, then brought up to date
    create_plumbing_tables_v1('notify')
    outbox_payload_as_text_v2('notify')
    op.create_table(
        'recipients',
        sa.Column('person_id', sa.String(length=100), nullable=False, comment="The staff id (a token's `sub`)."),
        sa.Column('display_name', sa.String(length=100), nullable=True),
        sa.Column('language', sa.String(length=2), nullable=False),
        sa.Column('timezone', sa.String(length=64), nullable=False),
        sa.Column('quiet_start', sa.Time(), nullable=True,
                  comment='Quiet hours, local time (start > end crosses midnight).'),
        sa.Column('quiet_end', sa.Time(), nullable=True),
        sa.Column('kinds', postgresql.ARRAY(sa.String(length=20)), nullable=False,
                  comment='The kinds of news wanted.'),
        sa.Column('watch_teams', postgresql.ARRAY(sa.String(length=100)), nullable=False,
                  comment='Teams whose collusion flags they hear of (* all).'),
        sa.Column('channels', postgresql.JSONB(astext_type=sa.Text()), nullable=False,
                  comment='[{channel, target fields}]: robot credentials, e-mail address.'),
        sa.Column('updated_by', sa.String(length=100), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('person_id'),
        schema='notify',
    )
    op.create_table(
        'rep_teams',
        sa.Column('person_id', sa.String(length=100), nullable=False),
        sa.Column('team_id', sa.String(length=100), nullable=False),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False,
                  comment='The assignment that told it.'),
        sa.PrimaryKeyConstraint('person_id'),
        schema='notify',
    )
    op.create_table(
        'notifications',
        sa.Column('id', sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column('event_id', sa.Uuid(), nullable=False,
                  comment='The event that caused it (a random id for a test message).'),
        sa.Column('topic', sa.String(length=100), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('person_id', sa.String(length=100), nullable=False),
        sa.Column('channel', sa.String(length=20), nullable=False),
        sa.Column('lead_id', sa.Uuid(), nullable=True),
        sa.Column('title', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False, comment='pending | sent | failed'),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=True,
                  comment="Pending: when it is due (a claim's lease end)."),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('event_id', 'person_id', 'channel', name='uq_notifications_event_person_channel'),
        schema='notify',
    )
    op.create_index('ix_notifications_due', 'notifications', ['next_attempt_at'], unique=False, schema='notify',
                    postgresql_where=sa.text("status = 'pending'"))
    op.create_index('ix_notifications_person', 'notifications', ['person_id', 'id'], unique=False, schema='notify')
    op.create_index('ix_notifications_lead', 'notifications', ['lead_id'], unique=False, schema='notify')
    processed_events_by_time_v1('notify')  # last: it commits what came before (built concurrently)


def downgrade() -> None:
    drop_processed_events_by_time_v1('notify')
    op.drop_index('ix_notifications_lead', table_name='notifications', schema='notify')
    op.drop_index('ix_notifications_person', table_name='notifications', schema='notify')
    op.drop_index('ix_notifications_due', table_name='notifications', schema='notify')
    op.drop_table('notifications', schema='notify')
    op.drop_table('rep_teams', schema='notify')
    op.drop_table('recipients', schema='notify')
    drop_plumbing_tables_v1('notify')
