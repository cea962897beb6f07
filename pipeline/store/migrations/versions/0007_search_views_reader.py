"""Full-text search, views for downstream readers, and the read-only role.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

# The text search configuration for an article's language; 'simple' (no
# stemming, no stop words) where PostgreSQL has none.
TS_CONFIG_FUNCTION = """
CREATE OR REPLACE FUNCTION newsflow_ts_config(language text) RETURNS regconfig
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE lower(split_part(coalesce(language, ''), '-', 1))
        WHEN 'en' THEN 'english' WHEN 'de' THEN 'german' WHEN 'fr' THEN 'french'
        WHEN 'es' THEN 'spanish' WHEN 'it' THEN 'italian' WHEN 'pt' THEN 'portuguese'
        WHEN 'nl' THEN 'dutch' WHEN 'sv' THEN 'swedish' WHEN 'da' THEN 'danish'
        WHEN 'no' THEN 'norwegian' WHEN 'nb' THEN 'norwegian' WHEN 'fi' THEN 'finnish'
        WHEN 'ru' THEN 'russian' WHEN 'hu' THEN 'hungarian' WHEN 'ro' THEN 'romanian'
        WHEN 'tr' THEN 'turkish'
        ELSE 'simple' END::regconfig
$$
"""

VIEWS = """
CREATE VIEW v_articles AS
SELECT a.id, a.title, a.canonical_url AS url, a.published_at, a.fetched_at, a.language,
       a.site_name, a.author, a.dateline, a.agency, a.image_url,
       f.name AS feed_name, f.url AS feed_url,
       a.story_id, a.is_canonical, a.match_kind, a.match_score, a.text
FROM articles a LEFT JOIN feeds f ON f.id = a.feed_id;

CREATE VIEW v_stories AS
SELECT s.id AS story_id, canon.title, canon.canonical_url AS url, canon.text,
       s.first_seen_at, min(a.published_at) AS first_published_at, s.article_count,
       array_agg(DISTINCT a.site_name) FILTER (WHERE a.site_name IS NOT NULL) AS outlets,
       array_agg(DISTINCT a.agency) FILTER (WHERE a.agency IS NOT NULL) AS agencies,
       (SELECT array_agg(e.name ORDER BY ae.salience DESC NULLS LAST, ae.mentions DESC, e.name)
          FROM (SELECT * FROM article_entities x WHERE x.article_id = canon.id
                ORDER BY x.salience DESC NULLS LAST, x.mentions DESC LIMIT 5) ae
          JOIN entities e ON e.id = ae.entity_id) AS top_entities
FROM stories s
JOIN articles canon ON canon.id = s.canonical_article_id
JOIN articles a ON a.story_id = s.id
GROUP BY s.id, canon.id;

CREATE VIEW v_entity_mentions AS
SELECT e.id AS entity_id, e.name, e.label, a.id AS article_id, a.title, a.canonical_url AS url,
       a.story_id, a.published_at, ae.mentions, ae.in_title, ae.salience
FROM article_entities ae
JOIN entities e ON e.id = ae.entity_id
JOIN articles a ON a.id = ae.article_id;
"""

# Roles belong to the cluster, not the database: create the role only once,
# and only where the migrating user may create roles.
READER_ROLE = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'newsflow_reader')
       AND (SELECT rolcreaterole OR rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE ROLE newsflow_reader NOLOGIN;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'newsflow_reader') THEN
        EXECUTE format('GRANT CONNECT ON DATABASE %I TO newsflow_reader', current_database());
        GRANT USAGE ON SCHEMA public TO newsflow_reader;
        GRANT SELECT ON ALL TABLES IN SCHEMA public TO newsflow_reader;
        ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO newsflow_reader;
    ELSE
        RAISE NOTICE 'newsflow_reader not created: % may not create roles', current_user;
    END IF;
END
$$;
"""


def upgrade() -> None:
    op.execute(TS_CONFIG_FUNCTION)
    op.execute(
        "ALTER TABLE articles ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ("
        " setweight(to_tsvector(newsflow_ts_config(language), coalesce(title, '')), 'A') ||"
        " setweight(to_tsvector(newsflow_ts_config(language), text), 'B')) STORED"
    )
    op.execute("CREATE INDEX ix_articles_search_vector ON articles USING gin (search_vector)")
    op.execute(VIEWS)
    op.execute(READER_ROLE)


def downgrade() -> None:
    op.execute("DROP VIEW IF EXISTS v_entity_mentions, v_stories, v_articles")
    op.execute("DROP INDEX IF EXISTS ix_articles_search_vector")
    op.execute("ALTER TABLE articles DROP COLUMN IF EXISTS search_vector")
    op.execute("DROP FUNCTION IF EXISTS newsflow_ts_config(text)")
