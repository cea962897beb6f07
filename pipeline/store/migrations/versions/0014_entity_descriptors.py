"""What an article calls each of its entities besides its name: the roles,
titles and nationalities the entity normaliser takes off a mention
("Defender Hassan Abbas" is stored as Hassan Abbas, with "defender" here).

A constant default: PostgreSQL adds the column without rewriting the table.

Revision ID: 0014
Revises: 0013
"""

from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE article_entities ADD COLUMN IF NOT EXISTS descriptors text[] NOT NULL DEFAULT '{}'")


def downgrade() -> None:
    op.execute("ALTER TABLE article_entities DROP COLUMN IF EXISTS descriptors")
