"""Read helpers shared by the command line (and any API): parameters always
bound, each query written once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, text


@dataclass(frozen=True)
class SearchHit:
    article_id: int
    title: str | None
    url: str
    site_name: str | None
    published_at: datetime | None
    story_id: int | None
    story_size: int
    score: float
    snippet: str
    entities: list[str]


# Configurations a query is parsed in: articles are indexed in their own
# language's configuration, so the query is too, one OR branch per language
# (a constant tsquery, so the GIN index serves it).
SEARCH_CONFIGS = ("english", "german", "french", "spanish", "italian", "portuguese", "dutch", "simple")
_QUERY = " || ".join(f"websearch_to_tsquery('{config}', :query)" for config in SEARCH_CONFIGS)

_SEARCH = text(
    f"""
    WITH q AS (SELECT {_QUERY} AS query),
    matches AS (
        SELECT a.id, a.title, a.canonical_url, a.site_name, a.published_at, a.fetched_at,
               a.story_id, a.text, a.language,
               -- A story ranks by its best-matching member and is shown by its
               -- canonical article when that matches too.
               max(ts_rank_cd(a.search_vector, q.query))
                   OVER (PARTITION BY coalesce(a.story_id, -a.id)) AS story_score,
               ts_rank_cd(a.search_vector, q.query) AS own_score,
               row_number() OVER (PARTITION BY coalesce(a.story_id, -a.id)
                                  ORDER BY a.is_canonical DESC,
                                           ts_rank_cd(a.search_vector, q.query) DESC, a.id) AS nth
        FROM articles a, q
        WHERE a.search_vector @@ q.query
          AND (CAST(:since AS timestamptz) IS NULL OR coalesce(a.published_at, a.fetched_at) >= :since)
          AND (CAST(:feed AS text) IS NULL OR a.feed_id IN (
                SELECT id FROM feeds WHERE lower(name) = lower(:feed) OR url = :feed))
          AND (CAST(:entity AS text) IS NULL OR EXISTS (
                SELECT 1 FROM article_entities ae JOIN entities e ON e.id = ae.entity_id
                LEFT JOIN entity_aliases al ON al.entity_id = e.id
                WHERE ae.article_id = a.id
                  AND (lower(e.name) = lower(:entity) OR lower(al.alias) = lower(:entity))
                  AND (CAST(:label AS text) IS NULL OR e.label = :label)))
          AND (CAST(:label AS text) IS NULL OR CAST(:entity AS text) IS NOT NULL OR EXISTS (
                SELECT 1 FROM article_entities ae JOIN entities e ON e.id = ae.entity_id
                WHERE ae.article_id = a.id AND e.label = :label))
    ),
    best AS (
        SELECT *, CASE WHEN :one_per_story THEN story_score ELSE own_score END AS score
        FROM matches WHERE nth = 1 OR NOT :one_per_story
        ORDER BY score DESC, coalesce(published_at, fetched_at) DESC, id DESC
        LIMIT :limit
    )
    SELECT b.id, b.title, b.canonical_url, b.site_name, b.published_at, b.story_id,
           coalesce(s.article_count, 1) AS story_size, b.score,
           regexp_replace(ts_headline(newsflow_ts_config(b.language), b.text, q.query,
                       'MaxFragments=2, MaxWords=18, MinWords=6, StartSel=**, StopSel=**'),
                          '\\s+', ' ', 'g') AS snippet,
           coalesce((
               SELECT array_agg(e.name ORDER BY ae.salience DESC NULLS LAST, ae.mentions DESC, e.name)
               FROM (SELECT * FROM article_entities WHERE article_id = b.id
                     ORDER BY salience DESC NULLS LAST, mentions DESC LIMIT :top_entities) ae
               JOIN entities e ON e.id = ae.entity_id
           ), ARRAY[]::text[]) AS entities
    FROM best b CROSS JOIN q
    LEFT JOIN stories s ON s.id = b.story_id
    ORDER BY b.score DESC, coalesce(b.published_at, b.fetched_at) DESC, b.id DESC
    """
)


def search_articles(
    conn: Connection, query: str, *, limit: int = 10, since: datetime | None = None,
    feed: str | None = None, entity: str | None = None, label: str | None = None,
    one_per_story: bool = True, top_entities: int = 5,
) -> list[SearchHit]:
    """Articles matching a web-search style query ("quoted phrase", or, -not),
    best first (ts_rank_cd: title weighs more than text), one per story by
    default, with a highlighted snippet and their top entities."""
    rows = conn.execute(
        _SEARCH,
        {"query": query, "limit": limit, "since": since, "feed": feed, "entity": entity,
         "label": label, "one_per_story": one_per_story, "top_entities": top_entities},
    )
    return [SearchHit(*row) for row in rows]


TABLES = (
    "feeds", "articles", "stories", "entities", "article_entities", "raw_pages", "fetch_failures",
    "site_boilerplate", "article_fingerprints", "article_bands", "entity_aliases",
)


def table_counts(conn: Connection) -> dict[str, int]:
    # Table names come from the constant above, never from input.
    return {
        name: conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one() for name in TABLES
    }


def articles_per_feed(conn: Connection) -> list[tuple[str, int, int, str | None]]:
    """(feed, articles, consecutive failures, last error) per feed."""
    rows = conn.execute(
        text(
            "SELECT coalesce(f.name, f.title, f.url), count(a.id), f.consecutive_failures, f.last_error"
            " FROM feeds f LEFT JOIN articles a ON a.feed_id = f.id"
            " GROUP BY f.id ORDER BY count(a.id) DESC, 1"
        )
    )
    return [tuple(row) for row in rows]


def recent_failures(conn: Connection, limit: int = 10) -> list[tuple[str, str, str, int]]:
    """(url, stage, error, attempts) of entries that could not be ingested."""
    rows = conn.execute(
        text(
            "SELECT url, stage, error, attempts FROM fetch_failures"
            " ORDER BY last_failed_at DESC, url LIMIT :limit"
        ),
        {"limit": limit},
    )
    return [tuple(row) for row in rows]


def site_rules(conn: Connection, host: str, limit: int = 200) -> list[dict]:
    """Learned lines of one site, most supported first."""
    from pipeline.clean import SITE_RULES_VERSION

    rows = conn.execute(
        text(
            "SELECT text, support, first_seen_at, last_seen_at FROM site_boilerplate"
            " WHERE rules_version = :version AND host = :host AND support > 1"
            " ORDER BY support DESC, text LIMIT :limit"
        ),
        {"version": SITE_RULES_VERSION, "host": host, "limit": limit},
    )
    return [dict(row._mapping) for row in rows]


def feed_health(conn: Connection) -> list[dict]:
    """One row per feed: its state, when it last worked, what went wrong."""
    rows = conn.execute(
        text(
            "SELECT f.id, f.url, coalesce(f.name, f.title) AS name, f.disabled, f.disabled_reason,"
            " f.last_status, f.last_success_at, f.last_fetched_at, f.next_fetch_at,"
            " f.consecutive_failures, f.last_error_kind, f.last_error, f.last_warning,"
            " (SELECT count(*) FROM articles a WHERE a.feed_id = f.id) AS articles"
            " FROM feeds f ORDER BY f.disabled, f.consecutive_failures DESC, f.id"
        )
    )
    return [dict(row._mapping) for row in rows]


def list_stories(
    conn: Connection, *, since: datetime | None = None, min_outlets: int = 1, limit: int = 20
) -> list[dict]:
    """The largest stories: canonical title, outlets, agencies, first seen."""
    rows = conn.execute(
        text(
            """
            SELECT s.id, canon.title, canon.canonical_url AS url, s.article_count, s.first_seen_at,
                   min(a.published_at) AS first_published,
                   array_agg(DISTINCT coalesce(a.site_name, '?')) AS outlets,
                   coalesce(array_agg(DISTINCT a.agency) FILTER (WHERE a.agency IS NOT NULL),
                            ARRAY[]::text[]) AS agencies
            FROM stories s
            JOIN articles canon ON canon.id = s.canonical_article_id
            JOIN articles a ON a.story_id = s.id
            WHERE (CAST(:since AS timestamptz) IS NULL OR s.first_seen_at >= :since)
            GROUP BY s.id, canon.title, canon.canonical_url
            HAVING count(DISTINCT coalesce(a.site_name, a.canonical_url)) >= :min_outlets
            ORDER BY s.article_count DESC, s.first_seen_at DESC, s.id
            LIMIT :limit
            """
        ),
        {"since": since, "min_outlets": min_outlets, "limit": limit},
    )
    return [dict(row._mapping) for row in rows]


def story_members(conn: Connection, story_id: int) -> list[dict]:
    """Every article of a story and how it joined: new, exact, near (score)."""
    rows = conn.execute(
        text(
            "SELECT a.id, a.title, a.site_name, a.canonical_url AS url, a.published_at,"
            " a.dateline, a.agency, a.is_canonical, a.match_kind, a.match_score,"
            " a.matched_article_id"
            " FROM articles a WHERE a.story_id = :story"
            " ORDER BY a.is_canonical DESC, a.published_at NULLS LAST, a.id"
        ),
        {"story": story_id},
    )
    return [dict(row._mapping) for row in rows]


def top_entities_by_story(
    conn: Connection, *, limit: int = 20, label: str | None = None, since: datetime | None = None
) -> list[dict]:
    """Entities by the number of stories mentioning them (copies count once)."""
    rows = conn.execute(
        text(
            "SELECT e.name, e.label, count(DISTINCT a.story_id) AS stories, count(*) AS articles,"
            " sum(ae.mentions) AS mentions"
            " FROM article_entities ae JOIN entities e ON e.id = ae.entity_id"
            " JOIN articles a ON a.id = ae.article_id"
            " WHERE (CAST(:label AS text) IS NULL OR e.label = :label)"
            " AND (CAST(:since AS timestamptz) IS NULL OR a.published_at >= :since)"
            " GROUP BY e.id ORDER BY stories DESC, mentions DESC, e.name LIMIT :limit"
        ),
        {"label": label, "since": since, "limit": limit},
    )
    return [dict(row._mapping) for row in rows]


def entity_report(conn: Connection, name: str, *, stories: int = 10, cooccurring: int = 10) -> list[dict]:
    """Each entity called ``name`` (or with that alias): its aliases, the
    stories mentioning it, and the entities it shares the most stories with."""
    found = conn.execute(
        text(
            "SELECT DISTINCT e.id, e.name, e.label FROM entities e"
            " LEFT JOIN entity_aliases al ON al.entity_id = e.id"
            " WHERE lower(e.name) = lower(:name) OR lower(al.alias) = lower(:name)"
            " ORDER BY e.name, e.label"
        ),
        {"name": name},
    ).all()
    report = []
    for entity_id, entity_name, label in found:
        aliases = [row[0] for row in conn.execute(
            text("SELECT alias FROM entity_aliases WHERE entity_id = :id ORDER BY alias"), {"id": entity_id})]
        story_rows = conn.execute(
            text(
                "SELECT a.story_id, max(canon.title) AS title, min(a.published_at) AS published_at,"
                " sum(ae.mentions) AS mentions"
                " FROM article_entities ae JOIN articles a ON a.id = ae.article_id"
                " JOIN stories s ON s.id = a.story_id JOIN articles canon ON canon.id = s.canonical_article_id"
                " WHERE ae.entity_id = :id GROUP BY a.story_id"
                " ORDER BY min(a.published_at) DESC NULLS LAST LIMIT :limit"
            ),
            {"id": entity_id, "limit": stories},
        )
        others = conn.execute(
            text(
                "WITH mine AS (SELECT DISTINCT a.story_id FROM article_entities ae"
                "   JOIN articles a ON a.id = ae.article_id WHERE ae.entity_id = :id)"
                " SELECT e.name, e.label, count(DISTINCT a.story_id) AS stories"
                " FROM article_entities ae JOIN articles a ON a.id = ae.article_id"
                " JOIN entities e ON e.id = ae.entity_id"
                " WHERE a.story_id IN (SELECT story_id FROM mine) AND ae.entity_id <> :id"
                " GROUP BY e.id ORDER BY stories DESC, e.name LIMIT :limit"
            ),
            {"id": entity_id, "limit": cooccurring},
        )
        report.append({
            "name": entity_name, "label": label, "aliases": aliases,
            "stories": [dict(row._mapping) for row in story_rows],
            "cooccurring": [dict(row._mapping) for row in others],
        })
    return report


def articles_per_day(conn: Connection, days: int = 14) -> list[tuple]:
    """(day, articles, stories) of the last ``days`` days of publication."""
    rows = conn.execute(
        text(
            "SELECT date_trunc('day', coalesce(published_at, fetched_at))::date AS day, count(*),"
            " count(DISTINCT story_id) FROM articles"
            " GROUP BY 1 ORDER BY 1 DESC LIMIT :days"
        ),
        {"days": days},
    )
    return [tuple(row) for row in rows]


def articles_per_language(conn: Connection) -> list[tuple]:
    """(language, articles, share of them with entities)."""
    rows = conn.execute(
        text(
            "SELECT coalesce(language, '?'), count(*),"
            " round(avg(CASE WHEN entities_status IN ('done', 'copied', 'truncated') THEN 1 ELSE 0 END), 2)"
            " FROM articles GROUP BY 1 ORDER BY 2 DESC"
        )
    )
    return [tuple(row) for row in rows]
