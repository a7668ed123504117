"""create intake tables

Revision ID: 97e915b8fb7f
Revises: 
Create Date: 2026-11-23 04:44:42.695165
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from leadflow_shared.migrations import create_plumbing_tables_v1, drop_plumbing_tables_v1

revision: str = '97e915b8fb7f'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # pg_trgm (a trusted extension) backs fuzzy company-name lookups
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    create_plumbing_tables_v1('intake')
    op.create_table('blocklist',
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('value', sa.String(length=300), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'value'),
    schema='intake'
    )
    op.create_table('companies',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('core', sa.String(length=300), nullable=False),
    sa.Column('region', sa.String(length=50), nullable=True),
    sa.Column('city', sa.String(length=100), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('credit_code'),
    schema='intake'
    )
    op.create_index('ix_companies_core', 'companies', ['core'], unique=False, schema='intake')
    op.create_index('ix_companies_latin_core_trgm', 'companies', ['core'], unique=False, schema='intake', postgresql_using='gin', postgresql_ops={'core': 'gin_trgm_ops'}, postgresql_where=sa.text("core ~ '^[a-z0-9]{6,}$'"))
    op.create_table('company_variants',
    sa.Column('variant', sa.String(length=300), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('variant', 'company_id'),
    schema='intake'
    )
    op.create_table('customer_contacts',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('customer_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('key'),
    schema='intake'
    )
    op.create_table('customers',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('core', sa.String(length=300), nullable=True),
    sa.Column('region', sa.String(length=50), nullable=True),
    sa.Column('credit_code', sa.String(length=18), nullable=True),
    sa.Column('owner_id', sa.String(length=100), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='intake'
    )
    op.create_index('ix_customers_core', 'customers', ['core'], unique=False, schema='intake')
    op.create_index(op.f('ix_intake_customers_credit_code'), 'customers', ['credit_code'], unique=False, schema='intake')
    op.create_table('idempotency_keys',
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('partner_id', 'key'),
    schema='intake'
    )
    op.create_table('imports',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=False),
    sa.Column('filename', sa.String(length=300), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('mapping', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('total', sa.Integer(), nullable=True),
    sa.Column('processed', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created', sa.Integer(), server_default='0', nullable=False),
    sa.Column('merged', sa.Integer(), server_default='0', nullable=False),
    sa.Column('flagged', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rejected', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rejected_rows', postgresql.JSONB(astext_type=sa.Text()), server_default='[]', nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='intake'
    )
    op.create_index('ix_imports_unfinished', 'imports', ['created_at'], unique=False, schema='intake', postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.create_table('lead_contacts',
    sa.Column('key', sa.String(length=300), nullable=False),
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint('key'),
    schema='intake'
    )
    op.create_index(op.f('ix_intake_lead_contacts_lead_id'), 'lead_contacts', ['lead_id'], unique=False, schema='intake')
    op.create_table('leads',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('fields', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('company_id', sa.Uuid(), nullable=True),
    sa.Column('customer_id', sa.Uuid(), nullable=True),
    sa.Column('account_owner_id', sa.String(length=100), nullable=True),
    sa.Column('owner_id', sa.String(length=100), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='intake'
    )
    op.create_index('ix_leads_company_id', 'leads', ['company_id'], unique=False, schema='intake')
    op.create_table('partners',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('key_prefix', sa.String(length=16), nullable=False),
    sa.Column('rate_per_s', sa.Float(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash'),
    schema='intake'
    )
    op.create_table('submissions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('lead_id', sa.Uuid(), nullable=False),
    sa.Column('partner_id', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=20), nullable=False),
    sa.Column('duplicate_of', sa.Uuid(), nullable=True),
    sa.Column('risk_reasons', postgresql.ARRAY(sa.Text()), server_default='{}', nullable=False),
    sa.Column('fields', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('client_ip', postgresql.INET(), nullable=True),
    sa.Column('device_id', sa.String(length=200), nullable=True),
    sa.Column('import_id', sa.Uuid(), nullable=True),
    sa.Column('received_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    schema='intake'
    )
    op.create_index(op.f('ix_intake_submissions_lead_id'), 'submissions', ['lead_id'], unique=False, schema='intake')
    op.create_index('ix_submissions_device_time', 'submissions', ['device_id', 'received_at'], unique=False, schema='intake', postgresql_where=sa.text('device_id IS NOT NULL'))
    op.create_index('ix_submissions_ip_time', 'submissions', ['client_ip', 'received_at'], unique=False, schema='intake', postgresql_where=sa.text('client_ip IS NOT NULL'))
    op.create_index('ix_submissions_partner_time', 'submissions', ['partner_id', 'received_at'], unique=False, schema='intake')


def downgrade() -> None:
    op.drop_index('ix_submissions_partner_time', table_name='submissions', schema='intake')
    op.drop_index('ix_submissions_ip_time', table_name='submissions', schema='intake', postgresql_where=sa.text('client_ip IS NOT NULL'))
    op.drop_index('ix_submissions_device_time', table_name='submissions', schema='intake', postgresql_where=sa.text('device_id IS NOT NULL'))
    op.drop_index(op.f('ix_intake_submissions_lead_id'), table_name='submissions', schema='intake')
    op.drop_table('submissions', schema='intake')
    op.drop_table('partners', schema='intake')
    op.drop_index('ix_leads_company_id', table_name='leads', schema='intake')
    op.drop_table('leads', schema='intake')
    op.drop_index(op.f('ix_intake_lead_contacts_lead_id'), table_name='lead_contacts', schema='intake')
    op.drop_table('lead_contacts', schema='intake')
    op.drop_index('ix_imports_unfinished', table_name='imports', schema='intake', postgresql_where=sa.text("status IN ('queued', 'running')"))
    op.drop_table('imports', schema='intake')
    op.drop_table('idempotency_keys', schema='intake')
    op.drop_index(op.f('ix_intake_customers_credit_code'), table_name='customers', schema='intake')
    op.drop_index('ix_customers_core', table_name='customers', schema='intake')
    op.drop_table('customers', schema='intake')
    op.drop_table('customer_contacts', schema='intake')
    op.drop_table('company_variants', schema='intake')
    op.drop_index('ix_companies_latin_core_trgm', table_name='companies', schema='intake', postgresql_using='gin', postgresql_ops={'core': 'gin_trgm_ops'}, postgresql_where=sa.text("core ~ '^[a-z0-9]{6,}$'"))
    op.drop_index('ix_companies_core', table_name='companies', schema='intake')
    op.drop_table('companies', schema='intake')
    op.drop_table('blocklist', schema='intake')
    drop_plumbing_tables_v1('intake')
