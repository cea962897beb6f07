"""An article's own label for each of its entities, beside the entity it is
filed under: where the article's evidence is thin, the entity's other
articles decide its type (pipeline.enrich.labels), and the own label lets
that decision be taken again as articles come and go.

own_label NULL: the label of the entity the row is filed under (rows older
than this migration).  Both columns are added without rewriting the table.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE article_entities ADD COLUMN IF NOT EXISTS own_label text")
    op.execute("ALTER TABLE article_entities ADD COLUMN IF NOT EXISTS label_by_rule boolean NOT NULL DEFAULT false")


def downgrade() -> None:
    op.execute("ALTER TABLE article_entities DROP COLUMN IF EXISTS label_by_rule")
    op.execute("ALTER TABLE article_entities DROP COLUMN IF EXISTS own_label")
