"""Indexes for the listing, search and time-window queries (bench/query.py).

ix_stories_listing: `newsflow stories` walks stories in its order (largest,
then newest) and stops after --limit, instead of grouping every article.
ix_articles_time: an article's time (published, else fetched), which the
--since filters, the search's newest-candidates walk and the stats' last-24-h
window use.
ix_articles_feed_time: a feed's articles newest first (`search --feed`).
ix_article_entities_entity_article replaces ix_article_entities_entity_id:
an entity's articles from the index alone (`search --entity`, `newsflow entity`).
ix_entities_lower_name, ix_entity_aliases_lower_alias: an entity named in any
case, by its name or an alias.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_stories_listing ON stories (article_count DESC, first_seen_at DESC, id)"
    )
    op.execute("CREATE INDEX IF NOT EXISTS ix_articles_time ON articles ((coalesce(published_at, fetched_at)))")
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_articles_feed_time ON articles (feed_id, (coalesce(published_at, fetched_at)))"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_article_entities_entity_article ON article_entities (entity_id, article_id)"
    )
    op.execute("DROP INDEX IF EXISTS ix_article_entities_entity_id")
    op.execute("CREATE INDEX IF NOT EXISTS ix_entities_lower_name ON entities (lower(name))")
    op.execute("CREATE INDEX IF NOT EXISTS ix_entity_aliases_lower_alias ON entity_aliases (lower(alias))")


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_entity_aliases_lower_alias")
    op.execute("DROP INDEX IF EXISTS ix_entities_lower_name")
    op.execute("CREATE INDEX IF NOT EXISTS ix_article_entities_entity_id ON article_entities (entity_id)")
    op.execute("DROP INDEX IF EXISTS ix_article_entities_entity_article")
    op.execute("DROP INDEX IF EXISTS ix_articles_feed_time")
    op.execute("DROP INDEX IF EXISTS ix_articles_time")
    op.execute("DROP INDEX IF EXISTS ix_stories_listing")
