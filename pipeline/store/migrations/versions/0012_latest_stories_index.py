"""An index for the latest stories, newest first (`newsflow web`'s story
list and /api/stories): the list walks stories in this order and stops after
a page, instead of sorting every story (at 100k articles the sort alone took
a few hundred milliseconds, spilling to disk).

Revision ID: 0012
Revises: 0011
"""

from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE INDEX IF NOT EXISTS ix_stories_latest ON stories (first_seen_at DESC, id DESC)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_stories_latest")
