#!/usr/bin/env python3
"""Query latency at scale: `newsflow search`, `newsflow stories` and the
stats' last-24-h queries over a database of generated articles.

Usage::

    python bench/query.py [--articles 100000] [--feeds 50] [--days 60] [--runs 30]
                          [--database-url URL] [--json FILE] [--keep-fill] [--data DIR] [--web]

1. **Fill.**  Drops and creates the database (default
   ``postgresql://postgres@127.0.0.1:5432/nf_bench_query``), brings its schema
   up with the project's migrations (``pipeline.store.migrate.upgrade``), then
   COPYs in ``--feeds`` feeds and ``--articles`` articles spread over the last
   ``--days`` days.  English articles are 5–12 paragraphs of 2–4 real
   sentences drawn from the extraction benchmark's bodies (bench/dedup.py and
   bench/throughput.py's pool: ``extraction-benchmark/`` in the benchmark data
   directory, ``--data DIR``, ``$NEWSFLOW_BENCH_DATA`` or ``bench/data/``;
   without it a fill says so and exits 0); about 6 % are German and 4 % French, from a
   small hand-written pool.  About a quarter of the articles are exact copies
   of a recent article on another feed (the pick prefers stories that already
   have copies, so a few wire stories reach dozens of outlets); each story's
   earliest article is its canonical one.  Entities are the capitalised names
   found in each article's own sentences (copies carry their canonical's),
   with last-name aliases for people.  Secondary indexes are dropped during
   the COPY and rebuilt with the migrations' own definitions, then
   ``VACUUM ANALYZE`` (what autovacuum would have done on a live database).
   The fill time is measured.  ``--keep-fill`` reuses a filled database.
2. **Measure.**  Each query kind runs through the functions the CLI calls
   (``pipeline.query.search_articles``, ``list_stories``, the stats window
   queries) on one connection: 3 warm-up runs, then ``--runs`` timed runs;
   p50/p95 per kind and over all search and all story-list runs.
   Each search kind also shows its number of matching articles (all, before
   filters) and the way its candidates were found (``search_way``: walk,
   index or scope; see pipeline/query.py).
3. **EXPLAIN (ANALYZE, BUFFERS)** of searches (a common word, a rare word,
   --entity, --feed) and the story list, each in the way the CLI would run it.

``--web`` measures `newsflow web` instead: every page and API call, each
requested over HTTP from this machine (3 warm-up and ``--runs`` timed
requests), against the app served in-process on the read-only engine.

Targets: p95 < 50 ms for search and for the story list at 100k articles
(issue #8); p95 < 100 ms for each page and API call of `newsflow web` (#22).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "bench"))

import dedup  # noqa: E402  (data directory, headline and paragraph helpers)
from throughput import sentence_pool  # noqa: E402

from bench import benchdata  # noqa: E402

DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/nf_bench_query"
TARGET_MS = 50.0
WEB_TARGET_MS = 100.0  # issue #22: each page and API call of `newsflow web`, from an HTTP client

GERMAN = [
    "Die Bundesregierung hat am Dienstag in Berlin neue Hilfen für kleine Unternehmen beschlossen.",
    "Nach Angaben des Statistischen Bundesamtes stiegen die Verbraucherpreise im Vergleich zum Vorjahr deutlich.",
    "Der Stadtrat von München will bis zum Sommer über den Ausbau der Straßenbahn entscheiden.",
    "Die Polizei bittet Zeugen, die in der Nacht etwas beobachtet haben, sich zu melden.",
    "Wegen Bauarbeiten an der Rheinbrücke kommt es in Düsseldorf seit Wochen zu langen Staus.",
    "Die Gewerkschaft Verdi ruft die Beschäftigten im öffentlichen Nahverkehr zu einem Warnstreik auf.",
    "Das Unternehmen kündigte an, in Niedersachsen rund 400 Stellen abzubauen.",
    "Experten erwarten, dass die Europäische Zentralbank die Zinsen vorerst nicht verändert.",
    "Bundeskanzler Olaf Scholz traf sich am Abend mit den Regierungschefs der Länder.",
    "Die Feuerwehr war mit mehr als hundert Einsatzkräften vor Ort, verletzt wurde niemand.",
    "Im Hamburger Hafen ist der Umschlag von Containern im dritten Quartal erneut gesunken.",
    "Die Opposition kritisierte den Entwurf als unzureichend und forderte Nachbesserungen.",
    "Forscher der Universität Heidelberg haben eine neue Methode zur Früherkennung entwickelt.",
    "Der Deutsche Wetterdienst warnt für das Wochenende vor Sturmböen und Starkregen.",
    "Die Verhandlungen sollen in der kommenden Woche in Brüssel fortgesetzt werden.",
    "Viele Pendler mussten am Morgen auf Busse ausweichen, weil Züge ausfielen.",
]
FRENCH = [
    "Le gouvernement a présenté mercredi à Paris un projet de loi sur la réforme des retraites.",
    "Selon l'Insee, le chômage a légèrement reculé au cours du dernier trimestre.",
    "Le président Emmanuel Macron doit se rendre à Bruxelles pour un sommet européen.",
    "Les syndicats appellent à une nouvelle journée de mobilisation la semaine prochaine.",
    "La mairie de Lyon prévoit d'étendre les pistes cyclables dans plusieurs quartiers.",
    "Les pompiers ont maîtrisé l'incendie dans la nuit, sans faire de victimes.",
    "La Banque de France a revu à la baisse sa prévision de croissance pour cette année.",
    "Des orages violents ont provoqué des inondations dans le sud du pays.",
    "Le tribunal rendra sa décision dans un mois, a précisé l'avocat de la défense.",
    "Les négociations entre les partenaires sociaux reprendront lundi au ministère du Travail.",
    "Une étude publiée par des chercheurs de Marseille montre une hausse des températures marines.",
    "Le trafic ferroviaire reste perturbé sur plusieurs lignes régionales en Bretagne.",
    "L'entreprise a annoncé la suppression de trois cents postes dans son usine de Lille.",
    "Les prix de l'énergie continuent de peser sur le budget des ménages.",
    "Le ministre de l'Intérieur a annoncé des renforts de police pour l'été.",
    "Les électeurs sont appelés aux urnes dimanche pour le second tour.",
]
LANGUAGE_SHARES = (("en", 0.90, None), ("de", 0.06, GERMAN), ("fr", 0.04, FRENCH))
AGENCIES = ("dpa", "reuters", "ap", "afp")
LABELS_MULTI = ("PERSON", "PERSON", "ORG")
LABELS_SINGLE = ("GPE", "ORG", "NORP", "GPE")
_NAME = re.compile(r"\b[A-Z][a-zA-Z’'\-]+(?: (?:of |de |von )?[A-Z][a-zA-Z’'\-]+){0,3}")
_NOT_NAMES = {"The", "A", "An", "But", "And", "In", "It", "He", "She", "They", "We", "I", "This", "That",
              "There", "On", "At", "For", "As", "If", "When", "Now", "So", "Its", "His", "Her", "Their",
              "Our", "You", "What", "Some", "Many", "One", "After", "While", "With", "By", "To", "Of",
              "Mr", "Ms", "Mrs", "Dr", "Die", "Der", "Das", "Le", "La", "Les", "Des", "Une", "Un", "Im",
              "Nach", "Selon", "Wegen", "Viele", "Experten", "Forscher", "L'entreprise"}

# ---------------------------------------------------------------------------
# Fill
# ---------------------------------------------------------------------------


def names_in(sentence: str) -> list[str]:
    """Capitalised runs of a sentence, minus sentence-initial function words."""
    found = []
    for match in _NAME.finditer(sentence):
        name = match.group(0)
        words = name.split()
        while words and words[0] in _NOT_NAMES:
            words = words[1:]
        if words and (len(words) > 1 or match.start() > 0) and len(" ".join(words)) > 2:
            found.append(" ".join(words))
    return found


def fresh_database(url: str) -> None:
    import psycopg

    server, name = url.rsplit("/", 1)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def generate(n_articles: int, n_feeds: int, days: int, seed: int, now: datetime, data: str | Path | None = None):
    """Feeds, stories, articles, entities, aliases and mentions as COPY rows;
    English sentences from the extraction benchmark of the data directory ``data``."""
    rng = random.Random(seed)
    pools = {"en": sentence_pool(benchdata.extraction_benchmark(data))}
    pools.update({lang: pool for lang, _, pool in LANGUAGE_SHARES if pool})
    sentence_names = {lang: [names_in(s) for s in pool] for lang, pool in pools.items()}
    feeds = [(i + 1, f"https://outlet{i + 1}.example/rss.xml", f"Outlet {i + 1}", f"Outlet {i + 1} News")
             for i in range(n_feeds)]
    feed_lang = {}
    for feed_id, *_ in feeds:  # a feed publishes in one language
        pick = rng.random()
        feed_lang[feed_id] = "en" if pick < 0.90 else "de" if pick < 0.96 else "fr"
    feeds_by_lang = {lang: [f for f, lg in feed_lang.items() if lg == lang] or [1] for lang in pools}

    times = sorted(now - timedelta(seconds=rng.uniform(0, days * 86400)) for _ in range(n_articles))
    articles, stories, mentions = [], {}, []
    entity_ids: dict[tuple[str, str], int] = {}
    recent: list[int] = []  # article ids of the last ~2 days, one entry per article: copies attract copies
    by_id: dict[int, tuple] = {}
    for article_id, published in enumerate(times, start=1):
        while recent and by_id[recent[0]][0] < published - timedelta(days=2):
            recent.pop(0)
        copy_of = by_id[rng.choice(recent)] if recent and rng.random() < 0.25 else None
        if copy_of:
            _, story_id, lang, title, body, entity_rows, canonical_id, agency = copy_of
            feed_id = rng.choice(feeds_by_lang[lang])
            kind, canonical, status, matched = "exact", False, "copied", canonical_id
            stories[story_id][1] += 1
        else:
            lang = feed_lang[rng.randint(1, n_feeds)]
            feed_id = rng.choice(feeds_by_lang[lang])
            pool, pool_names = pools[lang], sentence_names[lang]
            picks = [rng.randrange(len(pool)) for _ in range(rng.randint(5, 12) * rng.randint(2, 4))]
            paragraphs = [" ".join(pool[i] for i in picks[j:j + 3]) for j in range(0, len(picks), 3)]
            title = dedup.make_headline(paragraphs)
            body = "\n\n".join(paragraphs)
            counts = Counter(name for i in picks for name in pool_names[i])
            entity_rows = []
            for name, count in counts.most_common(8):
                label = (LABELS_MULTI if " " in name else LABELS_SINGLE)[
                    int(hashlib.md5(name.encode()).hexdigest(), 16) % (3 if " " in name else 4)]
                key = (name, label)
                entity_ids.setdefault(key, len(entity_ids) + 1)
                entity_rows.append((entity_ids[key], count, name in title))
            story_id, canonical_id = article_id, article_id
            agency = rng.choice(AGENCIES) if rng.random() < 0.3 else None
            stories[story_id] = [article_id, 1, published + timedelta(minutes=5)]
            kind, canonical, status, matched = "new", True, "done", None
        by_id[article_id] = (published, story_id, lang, title, body, entity_rows, canonical_id, agency)
        recent.append(article_id)
        if copy_of:  # a copy adds weight to its story's canonical, not to itself
            recent.append(canonical_id)
        total = sum(len(s.split()) for s in body.split("\n\n"))
        salience_base = max(1, total // 100)
        for entity_id, count, in_title in entity_rows:
            mentions.append((article_id, entity_id, count, in_title, min(1.0, round(count / salience_base, 3))))
        url = f"https://outlet{feed_id}.example/{published:%Y/%m/%d}/story-{article_id}"
        articles.append((
            article_id, url, url, feed_id, f"{title} | Outlet {feed_id}" if not canonical else title, body,
            published, lang, f"Outlet {feed_id}", agency, hashlib.md5(body.encode()).hexdigest(),
            story_id, canonical, kind, matched, status, published + timedelta(minutes=5),
        ))
    story_rows = [(sid, canon, first_seen, count) for sid, (canon, count, first_seen) in stories.items()]
    entity_rows = [(eid, name, label) for (name, label), eid in entity_ids.items()]
    alias_rows = sorted({(name.split()[-1], eid) for (name, label), eid in entity_ids.items()
                         if label == "PERSON" and " " in name})
    return feeds, story_rows, articles, entity_rows, alias_rows, mentions


ARTICLE_COLUMNS = ("id, canonical_url, url, feed_id, title, text, published_at, language, site_name, agency,"
                   " content_hash, story_id, is_canonical, match_kind, matched_article_id, entities_status,"
                   " fetched_at")


def fill(url: str, n_articles: int, n_feeds: int, days: int, seed: int, data: str | Path | None = None) -> dict:
    import psycopg

    from pipeline.config import Settings
    from pipeline.store.engine import get_engine
    from pipeline.store.migrate import upgrade

    timings = {}
    started = time.perf_counter()
    fresh_database(url)
    revision = upgrade(get_engine(Settings(database_url=url)))
    timings["migrate"] = time.perf_counter() - started

    mark = time.perf_counter()
    now = datetime.now(UTC)
    feeds, stories, articles, entities, aliases, mentions = generate(n_articles, n_feeds, days, seed, now, data)
    timings["generate"] = time.perf_counter() - mark

    with psycopg.connect(url) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes i WHERE schemaname = 'public'"
            " AND tablename IN ('articles', 'article_entities', 'stories', 'entities', 'entity_aliases')"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        ).fetchall()
        mark = time.perf_counter()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        # Ids are given; the foreign keys hold by construction (checked below).
        conn.execute("SET session_replication_role = replica")
        with conn.cursor() as cur:
            for table, columns, rows in (
                ("feeds", "id, url, name, title", feeds),
                ("stories", "id, canonical_article_id, first_seen_at, article_count", stories),
                ("articles", ARTICLE_COLUMNS, articles),
                ("entities", "id, name, label", entities),
                ("entity_aliases", "alias, entity_id", aliases),
                ("article_entities", "article_id, entity_id, mentions, in_title, salience", mentions),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        conn.execute("SET session_replication_role = DEFAULT")
        for table in ("feeds", "stories", "articles", "entities"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
        timings["copy"] = time.perf_counter() - mark
        mark = time.perf_counter()
        for _, definition in indexes:
            conn.execute(definition)
        conn.commit()
        timings["indexes"] = time.perf_counter() - mark
        orphans = conn.execute(
            "SELECT count(*) FROM articles a LEFT JOIN stories s ON s.id = a.story_id WHERE s.id IS NULL").fetchone()[0]
        assert orphans == 0, f"{orphans} articles without their story"
    mark = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
        size = conn.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    timings["vacuum_analyze"] = time.perf_counter() - mark
    timings = {key: round(value, 1) for key, value in timings.items()}
    timings["total"] = round(time.perf_counter() - started, 1)
    return {
        "revision": revision, "seconds": timings, "database_size": size,
        "rows": {"feeds": len(feeds), "stories": len(stories), "articles": len(articles),
                 "entities": len(entities), "entity_aliases": len(aliases), "article_entities": len(mentions)},
        "multi_member_stories": sum(1 for s in stories if s[3] > 1),
        "largest_story": max(s[3] for s in stories),
        "languages": dict(Counter(a[7] for a in articles)),
    }


# ---------------------------------------------------------------------------
# Measure
# ---------------------------------------------------------------------------


def pick_terms(conn) -> dict:
    """Search terms chosen from the data: a common word, a rare one, a
    frequent entity and a busy feed (so the filters select something)."""
    from sqlalchemy import text

    words = conn.execute(text(
        "SELECT word, ndoc FROM ts_stat('SELECT search_vector FROM articles WHERE id % 20 = 0')"
        " WHERE length(word) >= 6 AND word ~ '^[a-z]+$' ORDER BY ndoc DESC"
    )).all()
    common = words[0][0]
    rare = next((word for word, ndoc in words if ndoc == 1), words[-1][0])
    entity = conn.execute(text(
        "SELECT e.name FROM article_entities ae JOIN entities e ON e.id = ae.entity_id"
        " JOIN articles a ON a.id = ae.article_id WHERE e.label = 'PERSON' AND a.language = 'en'"
        " AND e.name LIKE '%% %%' GROUP BY e.id ORDER BY count(*) DESC OFFSET 5 LIMIT 1")).scalar_one()
    feed = conn.execute(text(
        "SELECT f.name FROM feeds f JOIN articles a ON a.feed_id = f.id WHERE a.language = 'en'"
        " GROUP BY f.id ORDER BY count(*) DESC LIMIT 1")).scalar_one()
    return {"common": common, "rare": rare, "entity": entity, "feed": feed}


def query_kinds(terms: dict, now: datetime) -> list[tuple[str, str, dict]]:
    """(kind, function, arguments): every one a CLI invocation, spelled out."""
    week = now - timedelta(days=7)
    return [
        ("search: common word", "search", {"query": "government"}),
        (f"search: most common word ({terms['common']})", "search", {"query": terms["common"]}),
        (f"search: rare word ({terms['rare']})", "search", {"query": terms["rare"]}),
        ("search: phrase", "search", {"query": '"interest rates"'}),
        ("search: multi-word", "search", {"query": "police investigation city council"}),
        ("search: or / -excluded", "search", {"query": "election or vote -poll"}),
        ("search: --since 7d", "search", {"query": "government", "since": week}),
        (f"search: --entity {terms['entity']}", "search", {"query": "said", "entity": terms["entity"]}),
        ("search: --label PERSON", "search", {"query": "court", "label": "PERSON"}),
        (f"search: --feed {terms['feed']}", "search", {"query": "market", "feed": terms["feed"]}),
        ("search: --all-copies", "search", {"query": "government", "one_per_story": False}),
        ("search: German (Zinsen)", "search", {"query": "Zinsen"}),
        ("stories", "stories", {}),
        ("stories --since 7d", "stories", {"since": week}),
        ("stories --min-outlets 3", "stories", {"min_outlets": 3}),
        ("stats: last 24 h", "stats", {}),
    ]


def run_kind(conn, function: str, arguments: dict) -> int:
    from pipeline import query

    if function == "search":
        return len(query.search_articles(conn, **arguments))
    if function == "stories":
        return len(query.list_stories(conn, **arguments))
    window = query.busiest_window(conn)
    return (len(query.busiest_stories(conn, window, limit=5))
            + len(query.top_entities_by_story(conn, limit=10, since=window.start, until=window.end)))


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(url: str, runs: int, warmup: int) -> dict:
    from pipeline.config import Settings
    from pipeline.store.engine import get_engine

    engine = get_engine(Settings(database_url=url))
    results, groups = [], {"search": [], "stories": [], "stats": []}
    with engine.connect() as conn:
        # The CLI runs each statement once per process; psycopg would prepare a
        # statement run 5 times on one connection and PostgreSQL could then
        # switch to a generic plan, which the CLI never gets.  Measure the CLI's case.
        conn.connection.driver_connection.prepare_threshold = None
        terms = pick_terms(conn)
        for kind, function, arguments in query_kinds(terms, datetime.now(UTC)):
            for _ in range(warmup):
                rows = run_kind(conn, function, arguments)
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                rows = run_kind(conn, function, arguments)
                samples.append((time.perf_counter() - started) * 1000)
            conn.rollback()
            groups[function] += samples
            results.append({"kind": kind, "rows": rows, "p50_ms": round(statistics.median(samples), 1),
                            "p95_ms": round(percentile(samples, 0.95), 1)})
            print(f"  {kind:<44} p50 {results[-1]['p50_ms']:7.1f} ms  p95 {results[-1]['p95_ms']:7.1f} ms"
                  f"  rows {rows}", flush=True)
        from sqlalchemy import text

        from pipeline import query

        matches, ways = {}, {}
        for kind, function, arguments in query_kinds(terms, datetime.now(UTC)):
            if function == "search":
                options = dict(arguments)
                parameters = query.search_parameters(conn, options.pop("query"), **options)
                matches[kind] = conn.execute(
                    text(f"SELECT count(*) FROM articles WHERE search_vector @@ ({query._QUERY})"), parameters,
                ).scalar()
                ways[kind] = query.search_way(conn, parameters)
    for result in results:
        result["matching_articles"] = matches.get(result["kind"])
        result["way"] = ways.get(result["kind"])
    overall = {name: {"p50_ms": round(statistics.median(values), 1),
                      "p95_ms": round(percentile(values, 0.95), 1), "runs": len(values)}
               for name, values in groups.items() if values}
    return {"terms": terms, "kinds": results, "overall": overall}


def web_requests(conn, terms: dict) -> list[tuple[str, str]]:
    """(kind, path) of every page and API call of `newsflow web`, with ids
    and cursors taken from the data: the largest story, the frequent entity
    of pick_terms, the busy feed, the second page of each listing."""
    from sqlalchemy import text

    from flows.web.app import _encode_cursor
    from pipeline import query

    story_id = conn.execute(text("SELECT id FROM stories ORDER BY article_count DESC, id LIMIT 1")).scalar_one()
    entity_id = conn.execute(text("SELECT id FROM entities WHERE name = :name LIMIT 1"),
                             {"name": terms["entity"]}).scalar_one()
    feed_id = conn.execute(text("SELECT id FROM feeds WHERE name = :name"), {"name": terms["feed"]}).scalar_one()
    article_id = conn.execute(text("SELECT max(id) FROM articles")).scalar_one()
    stories = query.latest_stories(conn, limit=20)
    articles = query.latest_articles(conn, limit=20)
    entities = query.entity_list(conn, limit=20)
    stories_after = _encode_cursor(stories[-1]["first_seen_at"], stories[-1]["id"])
    articles_after = _encode_cursor(articles[-1]["time"], articles[-1]["id"])
    entities_after = _encode_cursor(entities[-1]["sort_name"], entities[-1]["id"])
    return [
        ("page: / (latest stories)", "/"),
        ("page: / page 2", f"/?after={stories_after}"),
        ("page: / --min-outlets 3", "/?min_outlets=3"),
        ("page: / one feed", f"/?feed={feed_id}"),
        ("page: / language de", "/?language=de"),
        ("page: /stories/{largest}", f"/stories/{story_id}"),
        ("page: /search common word", "/search?q=government"),
        ("page: /search rare word", f"/search?q={terms['rare']}"),
        ("page: /entities", "/entities"),
        ("page: /entities?label=PERSON", "/entities?label=PERSON"),
        ("page: /entities/{frequent}", f"/entities/{entity_id}"),
        ("page: /feeds", "/feeds"),
        ("page: /runs", "/runs"),
        ("page: /api/docs", "/api/docs"),
        ("api: /api/articles", "/api/articles"),
        ("api: /api/articles page 2", f"/api/articles?after={articles_after}"),
        ("api: /api/articles/{id}", f"/api/articles/{article_id}"),
        ("api: /api/stories", "/api/stories"),
        ("api: /api/stories page 2", f"/api/stories?after={stories_after}"),
        ("api: /api/stories/{largest}", f"/api/stories/{story_id}"),
        ("api: /api/stories/{largest}/members", f"/api/stories/{story_id}/members"),
        ("api: /api/search common word", "/api/search?q=government"),
        ("api: /api/search --entity", f"/api/search?q=said&entity={terms['entity']}"),
        ("api: /api/entities", "/api/entities"),
        ("api: /api/entities page 2", f"/api/entities?after={entities_after}"),
        ("api: /api/entities/{frequent}", f"/api/entities/{entity_id}"),
        ("api: /api/entities/{frequent}/timeline", f"/api/entities/{entity_id}/timeline"),
        ("api: /api/feeds", "/api/feeds"),
        ("api: /api/runs", "/api/runs"),
        ("api: /api/openapi.json", "/api/openapi.json"),
    ]


def measure_web(url: str, runs: int, warmup: int) -> dict:
    """`newsflow web`'s app on this database (read-only engine, served by
    uvicorn in a thread), each page and API call timed from an HTTP client
    on this machine: the whole request, as a browser or a poller waits for it."""
    import httpx

    from flows.web.app import create_app
    from flows.web.server import serving
    from pipeline.config import Settings
    from pipeline.store.engine import get_engine, get_read_engine

    with get_engine(Settings(database_url=url)).connect() as conn:
        terms = pick_terms(conn)
        requests = web_requests(conn, terms)
    results, groups = [], {"page": [], "api": []}
    with serving(create_app(get_read_engine(Settings(database_url=url)))) as base_url, \
            httpx.Client(base_url=base_url, timeout=60) as client:
        for kind, path in requests:
            for _ in range(warmup):
                client.get(path).raise_for_status()
            samples = []
            for _ in range(runs):
                started = time.perf_counter()
                response = client.get(path)
                samples.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
            groups[kind.split(":")[0]] += samples
            results.append({"kind": kind, "path": path, "bytes": len(response.content),
                            "p50_ms": round(statistics.median(samples), 1),
                            "p95_ms": round(percentile(samples, 0.95), 1)})
            print(f"  {kind:<44} p50 {results[-1]['p50_ms']:7.1f} ms  p95 {results[-1]['p95_ms']:7.1f} ms",
                  flush=True)
    overall = {name: {"p50_ms": round(statistics.median(values), 1),
                      "p95_ms": round(percentile(values, 0.95), 1), "runs": len(values)}
               for name, values in groups.items()}
    return {"terms": terms, "web": results, "web_overall": overall}


def explain(url: str, terms: dict) -> dict:
    """EXPLAIN (ANALYZE, BUFFERS) of the CLI's own statements, bound the same way."""
    from sqlalchemy import text

    from pipeline import query
    from pipeline.config import Settings
    from pipeline.store.engine import get_engine

    engine = get_engine(Settings(database_url=url))
    plans = {}
    searches = {
        "search government": ("government", {}),
        f"search {terms['rare']}": (terms["rare"], {}),
        f"search said --entity {terms['entity']}": ("said", {"entity": terms["entity"]}),
        f"search market --feed {terms['feed']}": ("market", {"feed": terms["feed"]}),
    }
    with engine.connect() as conn:
        conn.connection.driver_connection.prepare_threshold = None
        statements = {}
        for name, (words, options) in searches.items():
            parameters = query.search_parameters(conn, words, **options)
            way = query.search_way(conn, parameters)
            statements[f"{name} (way: {way})"] = (query.search_statement(parameters, way), parameters)
        statements["stories"] = (query._LIST_STORIES, query.list_stories_parameters())
        for name, (statement, parameters) in statements.items():
            rows = conn.execute(text("EXPLAIN (ANALYZE, BUFFERS) " + statement.text), parameters)
            plans[name] = [row[0] for row in rows]
    return plans


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--articles", type=int, default=100_000)
    parser.add_argument("--feeds", type=int, default=50)
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep-fill", action="store_true", help="Measure the database as it is, no new fill.")
    parser.add_argument("--web", action="store_true",
                        help="Time `newsflow web`'s pages and API calls over HTTP instead of the CLI's queries.")
    parser.add_argument("--json", metavar="FILE")
    benchdata.add_option(parser)
    args = parser.parse_args()

    results: dict = {"articles": args.articles, "runs": args.runs}
    # Only a fill draws sentences; --keep-fill measures what is stored.
    if not args.keep_fill and (skipped := benchdata.extraction_benchmark_missing(args.data)):
        print(skipped)
        return 0
    if not args.keep_fill:
        print(f"fill: {args.articles} articles on {args.feeds} feeds over {args.days} days …", flush=True)
        results["fill"] = fill(args.database_url, args.articles, args.feeds, args.days, args.seed, args.data)
        print(json.dumps(results["fill"], indent=2), flush=True)
    if args.web:
        print(f"measure newsflow web: {args.warmup} warm-up + {args.runs} requests per page or API call", flush=True)
        results.update(measure_web(args.database_url, args.runs, args.warmup))
        print("\n| page or API call | p50 ms | p95 ms | bytes |\n|---|---:|---:|---:|")
        for result in results["web"]:
            print(f"| {result['kind']} | {result['p50_ms']} | {result['p95_ms']} | {result['bytes']:,} |")
        for name, values in results["web_overall"].items():
            print(f"| **all {name}s** ({values['runs']} requests) | {values['p50_ms']} | {values['p95_ms']} | |")
        misses = [result["kind"] for result in results["web"] if result["p95_ms"] >= WEB_TARGET_MS]
        print(f"\ntarget p95 < {WEB_TARGET_MS:.0f} ms for each page and API call: "
              + ("met" if not misses else "missed by " + ", ".join(misses)))
        if args.json:
            Path(args.json).write_text(json.dumps(results, indent=2, default=str))
        return 0
    print(f"measure: {args.warmup} warm-up + {args.runs} runs per query kind", flush=True)
    results.update(measure(args.database_url, args.runs, args.warmup))
    results["explain"] = explain(args.database_url, results["terms"])
    for name, plan in results["explain"].items():
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) {name}:")
        print("\n".join(plan))
    print("\n| query kind | p50 ms | p95 ms | rows shown | matching articles | candidates found by |"
          "\n|---|---:|---:|---:|---:|---|")
    for result in results["kinds"]:
        print(f"| {result['kind']} | {result['p50_ms']} | {result['p95_ms']} | {result['rows']} |"
              f" {result['matching_articles'] if result['matching_articles'] is not None else ''} |"
              f" {result['way'] or ''} |")
    for name, values in results["overall"].items():
        print(f"| **all {name}** ({values['runs']} runs) | {values['p50_ms']} | {values['p95_ms']} | | | |")
    misses = [name for name in ("search", "stories") if results["overall"][name]["p95_ms"] >= TARGET_MS]
    print(f"\ntarget p95 < {TARGET_MS:.0f} ms for search and the story list: "
          + ("met" if not misses else "missed by " + ", ".join(misses)))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
