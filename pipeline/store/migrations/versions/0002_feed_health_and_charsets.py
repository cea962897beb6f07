"""Feed health columns and page charsets.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('feeds', sa.Column('last_status', sa.Integer(), nullable=True))
    op.add_column('feeds', sa.Column('last_error_kind', sa.Text(), nullable=True))
    op.add_column('feeds', sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True))
    op.add_column('feeds', sa.Column('last_warning', sa.Text(), nullable=True))
    op.add_column('feeds', sa.Column('disabled_reason', sa.Text(), nullable=True))
    op.add_column('feeds', sa.Column('entries_skipped', sa.Integer(), server_default='0', nullable=False))
    op.add_column('feeds', sa.Column('previous_url', sa.Text(), nullable=True))
    op.create_index(op.f('ix_feeds_previous_url'), 'feeds', ['previous_url'], unique=False)
    op.add_column('raw_pages', sa.Column('charset_declared', sa.Text(), nullable=True))
    op.add_column('raw_pages', sa.Column('charset_used', sa.Text(), nullable=True))
    op.add_column('raw_pages', sa.Column('replacement_ratio', sa.Float(), nullable=True))


def downgrade() -> None:
    for column in ('replacement_ratio', 'charset_used', 'charset_declared'):
        op.drop_column('raw_pages', column)
    op.drop_index(op.f('ix_feeds_previous_url'), table_name='feeds')
    for column in ('previous_url', 'entries_skipped', 'disabled_reason', 'last_warning', 'last_success_at',
                   'last_error_kind', 'last_status'):
        op.drop_column('feeds', column)
