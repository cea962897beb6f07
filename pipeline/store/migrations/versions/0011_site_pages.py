"""Each site's page count, and each learned line's count at its first sighting:
a line is learned on its share of the site's pages since, not on a page
count alone (issue 20: paragraphs an outlet reuses were learned as furniture).

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'site_pages',
        sa.Column('rules_version', sa.Integer(), nullable=False),
        sa.Column('host', sa.Text(), nullable=False),
        sa.Column('pages', sa.BigInteger(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('rules_version', 'host'),
    )
    op.add_column('site_boilerplate', sa.Column('site_pages_before', sa.BigInteger(), server_default='0', nullable=False))


def downgrade() -> None:
    op.drop_column('site_boilerplate', 'site_pages_before')
    op.drop_table('site_pages')
