"""Read helpers shared by the command line (and any API): parameters always
bound, each query written once."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, TextClause, text

from pipeline.store.runs import run_alive


def _dicts(conn: Connection, statement: str | TextClause, parameters: dict | None = None) -> list[dict]:
    """The rows of one read, each a dict by column name."""
    statement = text(statement) if isinstance(statement, str) else statement
    return [dict(row) for row in conn.execute(statement, parameters or {}).mappings()]


def _tuples(conn: Connection, statement: str, parameters: dict | None = None) -> list[tuple]:
    """The rows of one read, each a tuple in column order."""
    return [tuple(row) for row in conn.execute(text(statement), parameters or {})]


# An article's time: when it was published, else when it was fetched (the
# --since filters and the stats' windows all use this).
ARTICLE_TIME = "coalesce(a.published_at, a.fetched_at)"


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


# The text search configuration an article is indexed in, by its language:
# what the SQL function newsflow_ts_config (migration 0007) returns, which
# builds the stored search vector; any other language is indexed 'simple'.
# tests/test_query.py checks that the function and this mapping agree.
TEXT_SEARCH_CONFIGS = {
    "en": "english", "de": "german", "fr": "french", "es": "spanish", "it": "italian", "pt": "portuguese",
    "nl": "dutch", "sv": "swedish", "da": "danish", "no": "norwegian", "nb": "norwegian", "fi": "finnish",
    "ru": "russian", "hu": "hungarian", "ro": "romanian", "tr": "turkish",
}
# Configurations a query is parsed in: articles are indexed in their own
# language's configuration, so the query is too, one OR branch per configuration.
# Written inline where rows are selected (not in a CTE): the planner then sees
# the constant tsquery and estimates from the column's statistics how many
# articles match, which decides the plan (see search_articles).
SEARCH_CONFIGS = (*dict.fromkeys(TEXT_SEARCH_CONFIGS.values()), "simple")
_QUERY = " || ".join(f"websearch_to_tsquery('{config}', :query)" for config in SEARCH_CONFIGS)

# How many matches a search ranks at most: its newest ones (see search_articles).
RANK_CANDIDATES = 200

# The newest :candidates matches.  Each way reads a source of articles
# newest first and stops once enough of them pass the remaining tests;
# search_way chooses the way by the planner's estimates:
# "walk":  the articles newest first (ix_articles_time; a feed's through
#          ix_articles_feed_time), each tested with @@ and the filters: cheap
#          when a large share of them match;
# "index": the query's matches from the GIN index (ix_articles_search_vector),
#          newest first, each tested with the filters: cheap when few match;
# "scope": the articles the filters select (an entity's, through
#          ix_article_entities_entity_article; a feed's, ix_articles_feed_time),
#          newest first, each tested with @@: cheap when the filters select few.
# MATERIALIZED and OFFSET 0 keep the planner from turning the latter two into
# a walk or from testing every row before sorting.
_CANDIDATES = {
    "walk": f"""candidates AS (
        SELECT a.id FROM articles a
        WHERE a.search_vector @@ ({_QUERY}) {{filters}}
        ORDER BY {ARTICLE_TIME} DESC, a.id DESC
        LIMIT :candidates
    )""",
    "index": f"""matched AS MATERIALIZED (
        SELECT id, feed_id, published_at, fetched_at FROM articles
        WHERE search_vector @@ ({_QUERY})
    ),
    candidates AS (
        SELECT a.id FROM (SELECT * FROM matched ORDER BY coalesce(published_at, fetched_at) DESC, id DESC
                          OFFSET 0) a
        WHERE true {{filters}}
        LIMIT :candidates
    )""",
    "scope": f"""scoped AS MATERIALIZED (
        SELECT a.id, {ARTICLE_TIME} AS time, a.search_vector FROM articles a
        WHERE true {{filters}}
    ),
    candidates AS (
        SELECT s.id FROM (SELECT * FROM scoped ORDER BY time DESC, id DESC OFFSET 0) s
        WHERE s.search_vector @@ ({_QUERY})
        LIMIT :candidates
    )""",
}
# What the planner estimates: the articles the filters leave, how many of
# them match, and how many match in all.
_ESTIMATES = {
    "scope": "SELECT a.id FROM articles a WHERE true {filters}",
    "matches": f"SELECT a.id FROM articles a WHERE a.search_vector @@ ({_QUERY}) {{filters}}",
    "all_matches": f"SELECT a.id FROM articles a WHERE a.search_vector @@ ({_QUERY})",
    "all": "SELECT a.id FROM articles a",
}
# Relative costs per article.  Testing @@ on an article reads its stored
# tsvector (a few kB, out of line): ~8 µs at 100k articles on the benchmark
# machine; taking a match from the GIN index with its row (or an article's
# row found by a filter) and sorting it: ~2 µs.  The planner cannot weigh
# this itself: it costs @@ like an integer comparison, so left alone it walks
# where a rare word needs the index.
TEST_COST, ROW_COST = 4.0, 1.0

_SEARCH = (
    """
    WITH {candidates},
    q AS (SELECT """ + _QUERY + """ AS query),
    scored AS (
        SELECT a.id, a.title, a.canonical_url, a.site_name, a.published_at, a.fetched_at,
               a.story_id, a.text, a.language, a.is_canonical,
               -- Ranked with the query in the article's own configuration, the
               -- one its tsvector was built with: the same score as with every
               -- configuration's branch, cheaper for a query of several words.
               ts_rank_cd(a.search_vector, websearch_to_tsquery(newsflow_ts_config(a.language), :query))
                   AS own_score
        FROM candidates c JOIN articles a ON a.id = c.id
    ),
    matches AS (
        -- A story ranks by its best-matching member and is shown by its
        -- canonical article when that matches too.
        SELECT *, max(own_score) OVER (PARTITION BY coalesce(story_id, -id)) AS story_score,
               row_number() OVER (PARTITION BY coalesce(story_id, -id)
                                  ORDER BY is_canonical DESC, own_score DESC, id) AS nth
        FROM scored
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
# The filters a search uses, as fixed fragments (values always bound): a
# filter that is not asked for is left out of the statement.  Feeds and
# entities are named by the user and resolved to ids first (FEEDS_NAMED,
# ENTITIES_NAMED), so the planner sees which ids it filters by and can start
# from their articles (ix_articles_feed_time, ix_article_entities_entity_article).
_SEARCH_FILTERS = {
    "since": f"AND {ARTICLE_TIME} >= :since",
    # One feed (the usual case) as an equality, so a walk can read that feed's
    # articles newest first from ix_articles_feed_time.
    "feed": "AND a.feed_id = :feed_id",
    "feeds": "AND a.feed_id = ANY(:feed_ids)",
    "entity": "AND a.id IN (SELECT article_id FROM article_entities WHERE entity_id = ANY(:entity_ids))",
    "label": """AND EXISTS (
        SELECT 1 FROM article_entities ae JOIN entities e ON e.id = ae.entity_id
        WHERE ae.article_id = a.id AND e.label = :label)""",
}

# Feeds called :feed (its name, any case, or its URL).
FEEDS_NAMED = text("SELECT id FROM feeds WHERE lower(name) = lower(:feed) OR url = :feed ORDER BY id")
# Entities called :name (their name or an alias, any case), of :label if given.
ENTITIES_NAMED = text(
    "SELECT e.id, e.name, e.label FROM entities e"
    " WHERE (lower(e.name) = lower(:name)"
    "        OR e.id IN (SELECT entity_id FROM entity_aliases WHERE lower(alias) = lower(:name)))"
    "   AND (CAST(:label AS text) IS NULL OR e.label = :label)"
    " ORDER BY e.name, e.label"
)


def _filters(parameters: dict) -> tuple[str, ...]:
    wanted = [name for name in ("since", "feed", "entity") if parameters.get(name) is not None]
    if "feed" in wanted and len(parameters["feed_ids"]) != 1:
        wanted[wanted.index("feed")] = "feeds"
    if parameters.get("label") is not None and parameters.get("entity") is None:
        wanted.append("label")  # with --entity, the label narrows the entities instead
    return tuple(wanted)


@lru_cache(maxsize=None)
def _statement(template: str, filters: tuple[str, ...]) -> TextClause:
    return text(template.replace("{filters}", "\n          ".join(_SEARCH_FILTERS[name] for name in filters)))


def search_statement(parameters: dict, way: str) -> TextClause:
    """The search statement for these parameters (see search_parameters),
    finding its candidates the ``way`` given: "walk", "index" or "scope"
    (_CANDIDATES; search_way chooses)."""
    return _statement(_SEARCH.replace("{candidates}", _CANDIDATES[way]), _filters(parameters))


def _estimated_rows(conn: Connection, template: str, parameters: dict) -> float:
    plan = conn.execute(text("EXPLAIN (FORMAT JSON) " + _statement(template, _filters(parameters)).text),
                        parameters).scalar_one()
    return plan[0]["Plan"]["Plan Rows"]


def search_way(conn: Connection, parameters: dict) -> str:
    """How to find this search's candidates (_CANDIDATES): the cheapest by
    the planner's estimates of the rows each way reads."""
    filters = _filters(parameters)
    scope = _estimated_rows(conn, _ESTIMATES["scope"], parameters)
    matches = max(1.0, _estimated_rows(conn, _ESTIMATES["matches"], parameters))
    all_matches = _estimated_rows(conn, _ESTIMATES["all_matches"], parameters) if filters else matches
    # The walk goes through a time index: over the scope of --since and of
    # one feed (ix_articles_feed_time), but over every article for the other
    # filters (they are tested on each walked row).
    walked = scope if set(filters) <= {"since", "feed"} else _estimated_rows(conn, _ESTIMATES["all"], {})
    candidates = parameters["candidates"]
    costs = {
        "walk": min(walked, candidates * walked / matches) * TEST_COST,
        "index": all_matches * ROW_COST,
        "scope": scope * ROW_COST + min(scope, candidates * scope / matches) * TEST_COST,
    }
    return min(costs, key=costs.get)


def search_parameters(
    conn: Connection, query: str, *, limit: int = 10, since: datetime | None = None, feed: str | None = None,
    entity: str | None = None, label: str | None = None, one_per_story: bool = True, top_entities: int = 5,
    candidates: int = RANK_CANDIDATES,
) -> dict:
    """The bound parameters of the search statement, with the feed and entity
    names resolved to ids (also for EXPLAIN in bench/query.py).
    ``candidates``: how many of the newest matches are ranked (search_articles)."""
    parameters = {"query": query, "limit": limit, "since": since, "feed": feed, "entity": entity,
                  "label": label, "one_per_story": one_per_story, "top_entities": top_entities,
                  "candidates": candidates}
    if feed is not None:
        parameters["feed_ids"] = list(conn.execute(FEEDS_NAMED, {"feed": feed}).scalars())
        parameters["feed_id"] = parameters["feed_ids"][0] if parameters["feed_ids"] else None
    if entity is not None:
        parameters["entity_ids"] = [row.id for row in conn.execute(ENTITIES_NAMED, {"name": entity, "label": label})]
    return parameters


def search_articles(conn: Connection, query: str, **options) -> list[SearchHit]:
    """Articles matching a web-search style query ("quoted phrase", or, -not),
    best first (ts_rank_cd: title weighs more than text), one per story by
    default, with a highlighted snippet and their top entities.  Options:
    those of search_parameters.

    What is ranked, and so what the user sees: the newest ``candidates``
    (RANK_CANDIDATES, 200) articles that match and pass the filters, ranked
    by ts_rank_cd.  A query matching fewer articles than that -- most
    multi-word queries, rare words, most filtered searches -- ranks every
    match: the best matches of the whole archive.  A query matching
    thousands ("government" matches a fifth of the articles) shows the best
    matches among its 200 most recent ones -- at 1,600 articles a day, about
    the last 14 hours: the best of the recent news, not the best match of all
    time.  Adding a word, --feed or --entity narrows the matches and so
    reaches further back in time.  Why not rank every match: ranking reads
    each ranked article's stored tsvector (a few kB, stored out of line),
    ~8 µs each, so ranking the 22,000 matches of a common word would take
    about 0.2 s at 100k articles (and grows with the archive); the GIN index
    says *whether* an article matches, not how well.  Finding the newest
    matches is cheap in one of three ways
    (_CANDIDATES, chosen by search_way from the planner's estimates).
    """
    parameters = search_parameters(conn, query, **options)
    if parameters.get("feed_ids") == [] or parameters.get("entity_ids") == []:
        return []  # no such feed or entity: nothing can match
    rows = conn.execute(search_statement(parameters, search_way(conn, parameters)), parameters)
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
    return _tuples(
        conn,
        "SELECT coalesce(f.name, f.title, f.url), count(a.id), f.consecutive_failures, f.last_error"
        " FROM feeds f LEFT JOIN articles a ON a.feed_id = f.id"
        " GROUP BY f.id ORDER BY count(a.id) DESC, 1",
    )


def recent_failures(conn: Connection, limit: int = 10) -> list[tuple[str, str, str, int]]:
    """(url, stage, error, attempts) of entries that could not be ingested."""
    return _tuples(
        conn,
        "SELECT url, stage, error, attempts FROM fetch_failures"
        " ORDER BY last_failed_at DESC, url LIMIT :limit",
        {"limit": limit},
    )


def site_rules(conn: Connection, host: str, limit: int = 200) -> list[dict]:
    """Learned lines of one site, most supported first."""
    from pipeline.clean import SITE_RULES_VERSION

    return _dicts(
        conn,
        "SELECT text, support, first_seen_at, last_seen_at FROM site_boilerplate"
        " WHERE rules_version = :version AND host = :host AND support > 1"
        " ORDER BY support DESC, text LIMIT :limit",
        {"version": SITE_RULES_VERSION, "host": host, "limit": limit},
    )


def feed_health(conn: Connection) -> list[dict]:
    """One row per feed: its state, when it last worked, what went wrong."""
    return _dicts(
        conn,
        "SELECT f.id, f.url, coalesce(f.name, f.title) AS name, f.disabled, f.disabled_reason,"
        " f.last_status, f.last_success_at, f.last_fetched_at, f.next_fetch_at,"
        " f.consecutive_failures, f.last_error_kind, f.last_error, f.last_warning,"
        " (SELECT count(*) FROM articles a WHERE a.feed_id = f.id) AS articles"
        " FROM feeds f ORDER BY f.disabled, f.consecutive_failures DESC, f.id",
    )


# Stories in the listing's order (the index ix_stories_listing), each
# aggregated over its own articles only: the scan stops after :limit stories
# instead of grouping every article.  A story cannot have more outlets than
# articles, so article_count >= :min_outlets only skips stories that fail anyway.
_LIST_STORIES = text(
    """
    SELECT s.id, canon.title, canon.canonical_url AS url, s.article_count, s.first_seen_at,
           m.first_published, m.outlets, m.agencies
    FROM stories s
    JOIN articles canon ON canon.id = s.canonical_article_id
    CROSS JOIN LATERAL (
        SELECT min(a.published_at) AS first_published,
               array_agg(DISTINCT coalesce(a.site_name, '?')) AS outlets,
               coalesce(array_agg(DISTINCT a.agency) FILTER (WHERE a.agency IS NOT NULL),
                        ARRAY[]::text[]) AS agencies,
               count(DISTINCT coalesce(a.site_name, a.canonical_url)) AS distinct_outlets
        FROM articles a WHERE a.story_id = s.id
    ) m
    WHERE (CAST(:since AS timestamptz) IS NULL OR s.first_seen_at >= :since)
      AND s.article_count >= :min_outlets
      AND m.distinct_outlets >= :min_outlets
    ORDER BY s.article_count DESC, s.first_seen_at DESC, s.id
    LIMIT :limit
    """
)


def list_stories_parameters(*, since: datetime | None = None, min_outlets: int = 1, limit: int = 20) -> dict:
    return {"since": since, "min_outlets": min_outlets, "limit": limit}


def list_stories(conn: Connection, **options) -> list[dict]:
    """The largest stories: canonical title, outlets, agencies, first seen.
    Options: those of list_stories_parameters."""
    return _dicts(conn, _LIST_STORIES, list_stories_parameters(**options))


def story_members(conn: Connection, story_id: int) -> list[dict]:
    """Every article of a story and how it joined: new, exact, near (score)."""
    return _dicts(
        conn,
        "SELECT a.id, a.title, a.site_name, a.canonical_url AS url, a.published_at,"
        " a.dateline, a.agency, a.is_canonical, a.match_kind, a.match_score,"
        " a.matched_article_id"
        " FROM articles a WHERE a.story_id = :story"
        " ORDER BY a.is_canonical DESC, a.published_at NULLS LAST, a.id",
        {"story": story_id},
    )


def top_entities_by_story(
    conn: Connection, *, limit: int = 20, label: str | None = None, since: datetime | None = None,
    until: datetime | None = None,
) -> list[dict]:
    """Entities by the number of stories mentioning them (copies count once),
    among articles whose time (published, else fetched) is in [since, until]."""
    return _dicts(
        conn,
        "SELECT e.name, e.label, count(DISTINCT a.story_id) AS stories, count(*) AS articles,"
        " sum(ae.mentions) AS mentions"
        " FROM article_entities ae JOIN entities e ON e.id = ae.entity_id"
        " JOIN articles a ON a.id = ae.article_id"
        " WHERE (CAST(:label AS text) IS NULL OR e.label = :label)"
        f" AND (CAST(:since AS timestamptz) IS NULL OR {ARTICLE_TIME} >= :since)"
        f" AND (CAST(:until AS timestamptz) IS NULL OR {ARTICLE_TIME} <= :until)"
        " GROUP BY e.id ORDER BY stories DESC, mentions DESC, e.name LIMIT :limit",
        {"label": label, "since": since, "until": until, "limit": limit},
    )


@dataclass(frozen=True)
class Window:
    """A span of article time.  ``current``: it ends now; otherwise nothing
    was published in the last hours and it ends at the newest article."""

    start: datetime
    end: datetime
    current: bool


def busiest_window(conn: Connection, hours: int = 24) -> Window | None:
    """The last ``hours`` up to now, or, when no article is that recent (an
    archive, the demo corpus), the last ``hours`` of data up to the newest
    article.  None without articles."""
    now, newest = conn.execute(text(
        f"SELECT now(), (SELECT max({ARTICLE_TIME}) FROM articles a WHERE {ARTICLE_TIME} <= now())"
    )).one()
    span = timedelta(hours=hours)
    now = now.astimezone(UTC)
    if newest is None:  # no articles, or only ones dated in the future
        newest = conn.execute(text(f"SELECT max({ARTICLE_TIME}) FROM articles a")).scalar()
        if newest is None:
            return None
    newest = newest.astimezone(UTC)
    if newest > now - span:
        return Window(now - span, now, True)
    return Window(newest - span, newest, False)


def busiest_stories(conn: Connection, window: Window, *, limit: int = 5) -> list[dict]:
    """Stories with the most articles in ``window``: the story's canonical
    title, its articles in the window and in all, their outlets."""
    return _dicts(
        conn,
        "SELECT s.id, canon.title, canon.canonical_url AS url, count(*) AS window_articles,"
        " s.article_count, array_agg(DISTINCT coalesce(a.site_name, '?')) AS outlets"
        " FROM articles a JOIN stories s ON s.id = a.story_id"
        " JOIN articles canon ON canon.id = s.canonical_article_id"
        f" WHERE {ARTICLE_TIME} >= :start AND {ARTICLE_TIME} <= :end"
        " GROUP BY s.id, canon.title, canon.canonical_url"
        " ORDER BY count(*) DESC, s.article_count DESC, s.id LIMIT :limit",
        {"start": window.start, "end": window.end, "limit": limit},
    )


def entity_report(conn: Connection, name: str, *, stories: int = 10, cooccurring: int = 10) -> list[dict]:
    """Each entity called ``name`` (or with that alias): its aliases, the
    stories mentioning it, and the entities it shares the most stories with
    (entity_detail of each)."""
    found = conn.execute(ENTITIES_NAMED, {"name": name, "label": None}).all()
    return [entity_detail(conn, entity_id, stories=stories, cooccurring=cooccurring) for entity_id, _, _ in found]


def articles_per_day(conn: Connection, days: int = 14) -> list[tuple]:
    """(day, articles, stories) of the last ``days`` days of publication."""
    return _tuples(
        conn,
        "SELECT date_trunc('day', coalesce(published_at, fetched_at))::date AS day, count(*),"
        " count(DISTINCT story_id) FROM articles"
        " GROUP BY 1 ORDER BY 1 DESC LIMIT :days",
        {"days": days},
    )


def articles_per_language(conn: Connection) -> list[tuple]:
    """(language, articles, share of them with entities)."""
    return _tuples(
        conn,
        "SELECT coalesce(language, '?'), count(*),"
        " round(avg(CASE WHEN entities_status IN ('done', 'copied', 'truncated') THEN 1 ELSE 0 END), 2)"
        " FROM articles GROUP BY 1 ORDER BY 2 DESC",
    )


def recent_runs(conn: Connection, limit: int = 20, *, after: tuple[datetime, int] | None = None) -> list[dict]:
    """The latest ingest runs, newest first, with their counts.  ``after``:
    the (started_at, id) of the last run of the previous page."""
    after_time, after_id = after or (None, None)
    return _dicts(
        conn,
        "SELECT id, flow_run_id, parent_id,"
        # A run whose session is gone died: abandoned, before any later run says so.
        f" CASE WHEN status = 'running' AND NOT {run_alive('id')} THEN 'abandoned' ELSE status END AS status,"
        " started_at, finished_at,"
        " extract(epoch FROM finished_at - started_at) AS seconds,"
        " feeds, feeds_failed, entries_new, pages_fetched, pages_failed, articles_new, stories_new,"
        " copies, articles_enriched, errors,"
        " coalesce(details->>'database_error', details->>'failure') AS database_error,"
        " coalesce(details->'failures_by_kind', '{}'::jsonb) AS failures_by_kind,"
        # Pages that kept their site's learned lines (they would have taken too much of the article).
        " coalesce((details->>'site_rules_withheld')::int, 0) AS site_rules_withheld"
        " FROM ingest_runs"
        " WHERE CAST(:after_time AS timestamptz) IS NULL OR (started_at, id) < (:after_time, :after_id)"
        " ORDER BY started_at DESC, id DESC LIMIT :limit",
        {"limit": limit, "after_time": after_time, "after_id": after_id},
    )


# ---------------------------------------------------------------------------
# Pages of a listing (the web app and its API): keyset pagination.  Each
# listing is ordered by a key that ends in the row's id, so it is total; a
# page after another starts strictly past the last row it showed (``after``:
# that row's key), so rows are neither repeated nor skipped while new ones
# arrive at the top.  Each function returns up to ``limit`` rows.
# ---------------------------------------------------------------------------

# The latest stories, newest first (by when the story was first seen), each
# with its outlets, the time span of its articles and its top entities.  The
# stories are read in that order (ix_stories_latest; OFFSET 0 keeps the
# planner from aggregating first), each joined to its canonical article and
# aggregated over its own articles (ix_articles_story_id), until :limit pass
# the filters: the per-story work is done for the stories of the page (and
# those a filter skips), not for every story.
_LATEST_STORIES = text(
    f"""
    SELECT s.id, canon.title, canon.canonical_url AS url, canon.language, s.article_count, s.first_seen_at,
           m.first_published, m.last_published, m.outlets, m.outlet_count,
           coalesce((
               SELECT jsonb_agg(jsonb_build_object('id', e.id, 'name', e.name, 'label', e.label)
                                ORDER BY ae.salience DESC NULLS LAST, ae.mentions DESC, e.name)
               FROM (SELECT * FROM article_entities WHERE article_id = s.canonical_article_id
                     ORDER BY salience DESC NULLS LAST, mentions DESC LIMIT :top_entities) ae
               JOIN entities e ON e.id = ae.entity_id
           ), '[]'::jsonb) AS entities
    FROM (
        SELECT id, first_seen_at, article_count, canonical_article_id FROM stories
        WHERE (CAST(:after_time AS timestamptz) IS NULL OR (first_seen_at, id) < (:after_time, :after_id))
          AND (CAST(:since AS timestamptz) IS NULL OR first_seen_at >= :since)
          AND (CAST(:until AS timestamptz) IS NULL OR first_seen_at <= :until)
          -- A story cannot have more outlets than articles.
          AND article_count >= :min_outlets
        ORDER BY first_seen_at DESC, id DESC
        OFFSET 0
    ) s
    JOIN articles canon ON canon.id = s.canonical_article_id
    CROSS JOIN LATERAL (
        SELECT min({ARTICLE_TIME}) AS first_published, max({ARTICLE_TIME}) AS last_published,
               array_agg(DISTINCT coalesce(a.site_name, '?')) AS outlets,
               count(DISTINCT coalesce(a.site_name, a.canonical_url)) AS outlet_count
        FROM articles a WHERE a.story_id = s.id
    ) m
    WHERE m.outlet_count >= :min_outlets
      AND (CAST(:language AS text) IS NULL OR canon.language = :language)
      AND (CAST(:feed_id AS bigint) IS NULL
           OR EXISTS (SELECT 1 FROM articles f WHERE f.story_id = s.id AND f.feed_id = :feed_id))
    ORDER BY s.first_seen_at DESC, s.id DESC
    LIMIT :limit
    """
)


def latest_stories(
    conn: Connection, *, after: tuple[datetime, int] | None = None, since: datetime | None = None,
    until: datetime | None = None, min_outlets: int = 1, feed_id: int | None = None,
    language: str | None = None, top_entities: int = 5, limit: int = 20,
) -> list[dict]:
    """Stories newest first (first seen), with title, outlets, first and last
    article time and top entities.  ``after``: the (first_seen_at, id) of
    the last story of the previous page."""
    after_time, after_id = after or (None, None)
    return _dicts(conn, _LATEST_STORIES, {
        "after_time": after_time, "after_id": after_id, "since": since, "until": until,
        "min_outlets": min_outlets, "feed_id": feed_id, "language": language,
        "top_entities": top_entities, "limit": limit,
    })


def latest_articles(
    conn: Connection, *, after: tuple[datetime, int] | None = None, since: datetime | None = None,
    until: datetime | None = None, feed_id: int | None = None, language: str | None = None, limit: int = 20,
) -> list[dict]:
    """Articles newest first by their time (published, else fetched; the
    index ix_articles_time), without their text.  ``after``: the (time, id)
    of the last article of the previous page."""
    after_time, after_id = after or (None, None)
    return _dicts(
        conn,
        f"SELECT a.id, {ARTICLE_TIME} AS time, a.title, a.canonical_url AS url, a.feed_id, a.site_name,"
        " a.published_at, a.fetched_at, a.language, a.author, a.dateline, a.agency, a.story_id, a.is_canonical"
        " FROM articles a"
        f" WHERE (CAST(:after_time AS timestamptz) IS NULL OR ({ARTICLE_TIME}, a.id) < (:after_time, :after_id))"
        f"   AND (CAST(:since AS timestamptz) IS NULL OR {ARTICLE_TIME} >= :since)"
        f"   AND (CAST(:until AS timestamptz) IS NULL OR {ARTICLE_TIME} <= :until)"
        "    AND (CAST(:feed_id AS bigint) IS NULL OR a.feed_id = :feed_id)"
        "    AND (CAST(:language AS text) IS NULL OR a.language = :language)"
        f" ORDER BY {ARTICLE_TIME} DESC, a.id DESC LIMIT :limit",
        {"after_time": after_time, "after_id": after_id, "since": since, "until": until,
         "feed_id": feed_id, "language": language, "limit": limit},
    )


def article(conn: Connection, article_id: int) -> dict | None:
    """One article with its clean text; None when there is none."""
    rows = _dicts(
        conn,
        f"SELECT a.id, {ARTICLE_TIME} AS time, a.title, a.canonical_url AS url, a.feed_id, a.site_name,"
        " a.published_at, a.fetched_at, a.language, a.author, a.dateline, a.agency, a.story_id, a.is_canonical,"
        " a.match_kind, a.match_score, a.matched_article_id, a.text"
        " FROM articles a WHERE a.id = :id",
        {"id": article_id},
    )
    return rows[0] if rows else None


def story(conn: Connection, story_id: int) -> dict | None:
    """One story: its size, when it was first seen, and its canonical
    article (with the clean text); None when there is none."""
    rows = _dicts(
        conn,
        "SELECT s.id, s.article_count, s.first_seen_at, s.canonical_article_id"
        " FROM stories s WHERE s.id = :id",
        {"id": story_id},
    )
    if not rows:
        return None
    found = rows[0]
    found["canonical"] = article(conn, found["canonical_article_id"]) if found["canonical_article_id"] else None
    return found


def entity_list(
    conn: Connection, *, label: str | None = None, after: tuple[str, int] | None = None, limit: int = 50,
) -> list[dict]:
    """Entities by name (any case; the index ix_entities_lower_name), of
    ``label`` if given, each with the number of articles mentioning it.
    ``after``: the (lower(name), id) of the last entity of the previous page."""
    after_name, after_id = after or (None, None)
    return _dicts(
        conn,
        "SELECT e.id, e.name, e.label, lower(e.name) AS sort_name,"
        " (SELECT count(*) FROM article_entities ae WHERE ae.entity_id = e.id) AS articles"
        " FROM entities e"
        " WHERE (CAST(:after_name AS text) IS NULL OR (lower(e.name), e.id) > (:after_name, :after_id))"
        "   AND (CAST(:label AS text) IS NULL OR e.label = :label)"
        " ORDER BY lower(e.name), e.id LIMIT :limit",
        {"after_name": after_name, "after_id": after_id, "label": label, "limit": limit},
    )


def entity_labels(conn: Connection) -> list[str]:
    """The entity labels in use (PERSON, ORG, GPE, …)."""
    return [row[0] for row in conn.execute(text("SELECT DISTINCT label FROM entities ORDER BY label"))]


def entity_detail(conn: Connection, entity_id: int, *, stories: int = 10, cooccurring: int = 10) -> dict | None:
    """One entity: its aliases, the stories mentioning it (newest first) and
    the entities it shares the most stories with; None when there is none."""
    found = conn.execute(text("SELECT id, name, label FROM entities WHERE id = :id"), {"id": entity_id}).first()
    if found is None:
        return None
    aliases = [row[0] for row in conn.execute(
        text("SELECT alias FROM entity_aliases WHERE entity_id = :id ORDER BY alias"), {"id": entity_id})]
    # The stories: picked from the entity's own articles first (its index),
    # then only those joined to their canonical article for the title.
    story_rows = _dicts(
        conn,
        "WITH picked AS (SELECT a.story_id, min(a.published_at) AS published_at, sum(ae.mentions) AS mentions"
        "   FROM article_entities ae JOIN articles a ON a.id = ae.article_id"
        "   WHERE ae.entity_id = :id AND a.story_id IS NOT NULL GROUP BY a.story_id"
        "   ORDER BY min(a.published_at) DESC NULLS LAST, a.story_id DESC LIMIT :limit)"
        " SELECT p.story_id, canon.title, p.published_at, p.mentions"
        " FROM picked p JOIN stories s ON s.id = p.story_id JOIN articles canon ON canon.id = s.canonical_article_id"
        " ORDER BY p.published_at DESC NULLS LAST, p.story_id DESC",
        {"id": entity_id, "limit": stories},
    )
    # Entities found in the same articles, counted once per story: a story's
    # articles are copies of one text, so this is sharing a story, found from
    # the entity's own articles (article_entities' key) instead of from every
    # article of every story it is in.
    others = _dicts(
        conn,
        "WITH mine AS MATERIALIZED (SELECT ae.article_id, a.story_id FROM article_entities ae"
        "   JOIN articles a ON a.id = ae.article_id WHERE ae.entity_id = :id)"
        " SELECT e.id, e.name, e.label, count(DISTINCT m.story_id) AS stories"
        " FROM mine m JOIN article_entities ae ON ae.article_id = m.article_id"
        " JOIN entities e ON e.id = ae.entity_id"
        " WHERE ae.entity_id <> :id"
        " GROUP BY e.id ORDER BY stories DESC, e.name LIMIT :limit",
        {"id": entity_id, "limit": cooccurring},
    )
    return {"id": found.id, "name": found.name, "label": found.label, "aliases": aliases,
            "stories": story_rows, "cooccurring": others}


def entity_timeline(conn: Connection, entity_id: int, *, days: int = 60) -> list[dict]:
    """Mentions of one entity per day (article time), over the ``days`` days
    up to its newest mention; days without a mention are left out."""
    return _dicts(
        conn,
        f"WITH mentioned AS (SELECT date_trunc('day', {ARTICLE_TIME} AT TIME ZONE 'UTC')::date AS day,"
        "                           ae.mentions, a.story_id"
        "   FROM article_entities ae JOIN articles a ON a.id = ae.article_id WHERE ae.entity_id = :id)"
        " SELECT day, count(*) AS articles, count(DISTINCT story_id) AS stories, sum(mentions) AS mentions"
        " FROM mentioned WHERE day > (SELECT max(day) FROM mentioned) - :days"
        " GROUP BY day ORDER BY day",
        {"id": entity_id, "days": days},
    )


def feed_choices(conn: Connection) -> list[dict]:
    """Every feed's id and name, for a filter."""
    return _dicts(conn, "SELECT id, coalesce(name, title, url) AS name FROM feeds ORDER BY 2, id")


def last_write(conn: Connection) -> datetime | None:
    """When an ingest run last started or finished: the time the stored data
    last changed through a run (the web API's Last-Modified)."""
    return conn.execute(text(
        "SELECT max(greatest(started_at, coalesce(finished_at, started_at))) FROM ingest_runs"
    )).scalar()
