"""Feed leases for overlapping runs, and a record of every ingest run.

Revision ID: 0008
Revises: 0007
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

COUNTS = (
    'feeds', 'feeds_failed', 'entries_new', 'pages_fetched', 'pages_failed', 'articles_new',
    'stories_new', 'copies', 'articles_enriched', 'errors',
)


def upgrade() -> None:
    op.create_table(
        'ingest_runs',
        sa.Column('id', sa.BigInteger(), nullable=False),
        sa.Column('flow_run_id', sa.Text(), nullable=True),
        sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('status', sa.Text(), server_default='running', nullable=False),
        *(sa.Column(name, sa.Integer(), server_default='0', nullable=False) for name in COUNTS),
        sa.Column('details', postgresql.JSONB(), server_default='{}', nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index('ix_ingest_runs_started_at', 'ingest_runs', ['started_at'])
    op.add_column('feeds', sa.Column('leased_by', sa.BigInteger(), nullable=True))
    op.add_column('feeds', sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True))
    op.create_foreign_key(
        'feeds_leased_by_fkey', 'feeds', 'ingest_runs', ['leased_by'], ['id'], ondelete='SET NULL'
    )


def downgrade() -> None:
    op.drop_constraint('feeds_leased_by_fkey', 'feeds', type_='foreignkey')
    op.drop_column('feeds', 'lease_until')
    op.drop_column('feeds', 'leased_by')
    op.drop_index('ix_ingest_runs_started_at', table_name='ingest_runs')
    op.drop_table('ingest_runs')
