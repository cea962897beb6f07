"""Article metadata: lead image and where the publication date came from.

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('articles', sa.Column('image_url', sa.Text(), nullable=True))
    op.add_column('articles', sa.Column('date_source', sa.Text(), nullable=True))
    op.add_column('articles', sa.Column('date_candidates', postgresql.JSONB(), nullable=True))
    op.add_column('articles', sa.Column('date_warning', sa.Text(), nullable=True))


def downgrade() -> None:
    for column in ('date_warning', 'date_candidates', 'date_source', 'image_url'):
        op.drop_column('articles', column)
