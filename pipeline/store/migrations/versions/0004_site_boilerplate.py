"""Learned per-site boilerplate lines.

Revision ID: 0004
Revises: 0003
"""

from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'site_boilerplate',
        sa.Column('rules_version', sa.Integer(), nullable=False),
        sa.Column('host', sa.Text(), nullable=False),
        sa.Column('line_hash', sa.BigInteger(), nullable=False),
        sa.Column('text', sa.Text(), nullable=False),
        sa.Column('support', sa.Integer(), nullable=False),
        sa.Column('first_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.Column('last_seen_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
        sa.PrimaryKeyConstraint('rules_version', 'host', 'line_hash'),
    )


def downgrade() -> None:
    op.drop_table('site_boilerplate')
