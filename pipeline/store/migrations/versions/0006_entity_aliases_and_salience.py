"""Entity aliases, first mention and salience, and the model behind an article's entities.

Revision ID: 0006
Revises: 0005
"""

from alembic import op
import sqlalchemy as sa

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'entity_aliases',
        sa.Column('alias', sa.Text(), nullable=False),
        sa.Column('entity_id', sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(['entity_id'], ['entities.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('alias', 'entity_id'),
    )
    op.create_index('ix_entity_aliases_entity_id', 'entity_aliases', ['entity_id'], unique=False)
    op.add_column('article_entities', sa.Column('first_offset', sa.Integer(), nullable=True))
    op.add_column('article_entities', sa.Column('salience', sa.Float(), nullable=True))
    op.add_column('articles', sa.Column('entities_model', sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column('articles', 'entities_model')
    op.drop_column('article_entities', 'salience')
    op.drop_column('article_entities', 'first_offset')
    op.drop_index('ix_entity_aliases_entity_id', table_name='entity_aliases')
    op.drop_table('entity_aliases')
