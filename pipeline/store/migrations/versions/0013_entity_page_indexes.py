"""Indexes for one entity's page (`newsflow web`'s /entities/{id}, and
`newsflow entity`): its stories, the entities it appears with and its
mentions per day are read from its articles' story, time and mention count,
each from an index alone instead of from the tables' rows.

ix_articles_story_time: an article's story and times by its id.
ix_article_entities_entity_article gains the mention count (INCLUDE), under
the same name and keys: built beside the old one, then put in its place, so
the entity searches never lack it.

At 100k articles this took an entity in 3,099 articles from ~310 ms to
~80 ms for its page's queries (docs/benchmarks.md).

Revision ID: 0013
Revises: 0012
"""

from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_articles_story_time ON articles (id) INCLUDE (story_id, published_at, fetched_at)"
    )
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_article_entities_entity_article_new"
        " ON article_entities (entity_id, article_id) INCLUDE (mentions)"
    )
    op.execute("DROP INDEX IF EXISTS ix_article_entities_entity_article")
    op.execute("ALTER INDEX ix_article_entities_entity_article_new RENAME TO ix_article_entities_entity_article")


def downgrade() -> None:
    op.execute(
        "CREATE INDEX IF NOT EXISTS ix_article_entities_entity_article_old ON article_entities (entity_id, article_id)"
    )
    op.execute("DROP INDEX IF EXISTS ix_article_entities_entity_article")
    op.execute("ALTER INDEX ix_article_entities_entity_article_old RENAME TO ix_article_entities_entity_article")
    op.execute("DROP INDEX IF EXISTS ix_articles_story_time")
