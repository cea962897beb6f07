"""Shards: which tick last claimed a feed, and which run started a run.

``feeds.claimed_at`` is when a run last claimed the feed.  The shards of one
ingest run claim in chunks until nothing is left; a feed claimed since their
parent started is not claimed again by any of them, so each feed is fetched
once per tick even when a shard left it unsettled or crashed (the next tick
takes it).  ``ingest_runs.parent_id`` is the coordinating run of a shard's
run, whose counts are the sum of its shards'.

Nullable columns without a default: PostgreSQL adds them without rewriting
the tables.

Revision ID: 0017
Revises: 0016
"""

from alembic import op

revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE feeds ADD COLUMN IF NOT EXISTS claimed_at timestamptz")
    op.execute(
        "ALTER TABLE ingest_runs ADD COLUMN IF NOT EXISTS parent_id bigint"
        " REFERENCES ingest_runs (id) ON DELETE SET NULL"
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_ingest_runs_parent_id ON ingest_runs (parent_id)")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_ingest_runs_parent_id")
    op.execute("ALTER TABLE ingest_runs DROP COLUMN IF EXISTS parent_id")
    op.execute("ALTER TABLE feeds DROP COLUMN IF EXISTS claimed_at")
