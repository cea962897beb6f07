"""Near-duplicate stories: fingerprints, LSH bands, how each article matched.

Revision ID: 0005
Revises: 0004
"""

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'article_fingerprints',
        sa.Column('article_id', sa.BigInteger(), nullable=False),
        sa.Column('version', sa.SmallInteger(), nullable=False),
        sa.Column('minhash', sa.LargeBinary(), nullable=False),
        sa.Column('shingles', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('article_id'),
    )
    # Random bytes do not compress: keep them out of TOAST compression.
    op.execute("ALTER TABLE article_fingerprints ALTER COLUMN shingles SET STORAGE EXTERNAL")
    op.execute("ALTER TABLE article_fingerprints ALTER COLUMN minhash SET STORAGE EXTERNAL")
    op.create_table(
        'article_bands',
        sa.Column('hash', sa.BigInteger(), nullable=False),
        sa.Column('article_id', sa.BigInteger(), nullable=False),
        sa.Column('band', sa.SmallInteger(), nullable=False),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('hash', 'article_id'),
    )
    op.add_column('articles', sa.Column('match_kind', sa.Text(), nullable=True))
    op.add_column('articles', sa.Column('matched_article_id', sa.BigInteger(), nullable=True))
    op.add_column('articles', sa.Column('match_score', sa.Float(), nullable=True))


def downgrade() -> None:
    for column in ('match_score', 'matched_article_id', 'match_kind'):
        op.drop_column('articles', column)
    op.drop_table('article_bands')
    op.drop_table('article_fingerprints')
