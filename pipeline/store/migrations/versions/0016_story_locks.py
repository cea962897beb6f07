"""Writers that store at the same moment lock only what their story
decisions read: a row per key (canonical URL, content hash, LSH band key)
in ``story_locks``, inserted before the reads and deleted before commit
(pipeline/store/articles.py says why rows and not advisory locks).

Unlogged: its rows never outlive the transaction that wrote them, so there
is nothing to log or to keep after a crash.

Revision ID: 0016
Revises: 0015
"""

from alembic import op

revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE UNLOGGED TABLE IF NOT EXISTS story_locks (key bigint PRIMARY KEY)")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS story_locks")
