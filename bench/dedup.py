#!/usr/bin/env python3
"""Benchmark story deduplication: a syndication corpus through the real ingest flow.

Usage::

    python bench/dedup.py [--data DIR] [--originals N] [--outlets N] [--seed S]
                          [--hosts per-outlet|shared] [--sizes 10000,100000] [--lookups 200]
                          [--skip-scale] [--json FILE] [--keep-db]

What it does, in order:

1. **Corpus.**  From the real article bodies of the extraction benchmark
   (``extraction-benchmark/ground-truth.json`` in the benchmark data
   directory: ``--data DIR``, ``$NEWSFLOW_BENCH_DATA`` or ``bench/data/``, see
   bench/benchdata.py; without it the script says so and exits 0) it takes
   every body of at least 120 words (or the
   first ``--originals``) and builds made-up outlets, each with its own site
   chrome (nav, share bar, related links, newsletter box, footer, own class
   names), its own headline suffix ("… | Outlet Name") and its own RSS feed
   whose links carry ``utm_*`` tracking parameters.  Every original appears
   on the agency outlet; a seeded random 2–5 of the other outlets republish
   it, each copy with one or more variations: last paragraph cut, an
   "Advertisement" line between paragraphs, straight instead of curly quotes,
   an agency credit ("(dpa)" at the end or "Reporting by …; Editing by …"),
   another dateline ("BERLIN (Reuters) - "), one or two reworded sentences.
   The ground truth is which page belongs to which original.
2. **Ingest.**  The corpus is served on loopback and ingested by
   ``python -m flows.cli ingest --feeds … --json`` in a subprocess against a
   fresh PostgreSQL database, as a user would.  ``--hosts per-outlet``
   (default): the agency on ``flows.demo.serve_directory`` (127.0.0.1), every
   other outlet on its own address 127.0.0.2, .3, …, so each outlet is its own
   site, as on the web.  ``--hosts shared``: every outlet on the one
   serve_directory server, i.e. one site — then a paragraph seen on 5 pages
   (the original and 4 copies) becomes that site's learned furniture
   (pipeline.clean, site_rule_min_pages) and is cut from later copies, which
   then miss their story: a real hazard for one site carrying a text 5 times,
   not a syndication case.
3. **Quality.**  Pairwise precision and recall of story membership (pairs of
   pages in one true group vs. pairs in one stored story; a page that was not
   stored is a story of its own), with the false merges and missed pairs
   listed.  Targets: P >= 0.99, R >= 0.97.  Then the ingest runs again with
   ``--force``: every table's row count and every article's story must stay.
4. **NER saved.**  Copies take their canonical article's entities instead of
   running spaCy: share of stored articles that are copies, and copies x the
   measured NER seconds per canonical article.
5. **Look-up cost.**  In a second fresh database, synthetic articles (words
   drawn from the benchmark bodies' word frequencies) with fingerprints and
   LSH bands are bulk-loaded with COPY up to each size (default 10k, then
   100k: about a minute and a half on 2 cores), and the flow's candidate
   query (``pipeline/store/articles.py::CANDIDATE_SQL``, for one article's bands)
   is timed for fresh fingerprints
   (no stored copy) and for near copies of stored texts; EXPLAIN shows the
   index it uses.
6. A Markdown table of everything; ``--json FILE`` writes the results.

Databases are created on ``$NEWSFLOW_BENCH_PG`` (default
``postgresql://postgres@127.0.0.1:5432``) as ``newsflow_bench_dedup_<pid>``
and ``newsflow_bench_dedup_scale_<pid>`` and dropped at the end (``--keep-db``
keeps them).
"""

from __future__ import annotations

import argparse
import contextlib
import html
import itertools
import json
import multiprocessing
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Iterator

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import benchdata  # noqa: E402

ENV_PG = "NEWSFLOW_BENCH_PG"
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432"
MIN_WORDS = 120
TARGET_P, TARGET_R = 0.99, 0.97

# ---------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Outlet:
    slug: str
    name: str
    prefix: str  # CSS class prefix: every outlet's markup looks different
    layout: int  # 0, 1, 2: three page structures
    canonical: bool  # whether pages carry <link rel="canonical">
    nav: tuple[str, ...]


OUTLETS = [
    Outlet("globalwire", "Global Wire Service", "gws", 0, True, ("World", "Business", "Markets", "Tech", "Wire Feed")),
    Outlet("ledger", "The Morning Ledger", "ml", 1, True, ("Home", "Nation", "World", "Money", "Opinion", "Sport")),
    Outlet("harbortimes", "Harbor City Times", "hct", 2, False, ("Local", "World", "Business", "Weather", "Obituaries")),
    Outlet("gazette", "Northfield Gazette", "nfg", 0, True, ("News", "Politics", "Economy", "Culture", "Podcasts")),
    Outlet("metroreview", "Metro Daily Review", "mdr", 1, False, ("Latest", "World", "Tech", "Science", "Video")),
    Outlet("chronicle", "Valley Chronicle", "vc", 2, True, ("Front page", "World", "Business", "Health", "Letters")),
    Outlet("observer", "Eastbank Observer", "ebo", 0, True, ("Today", "World", "Markets", "Travel", "Puzzles")),
    Outlet("sentinel", "Lakeside Sentinel", "ls", 1, True, ("News", "World", "Business", "Arts", "Community")),
]

VARIATIONS = ("cut_last", "advert", "straight_quotes", "credit", "dateline", "reword")

CITIES = ("BERLIN", "LONDON", "WASHINGTON", "PARIS", "TOKYO", "NEW YORK", "BRUSSELS", "SYDNEY")
AGENCIES = ("Reuters", "AP", "AFP", "dpa")
PEOPLE = ("Anna Keller", "David Morgan", "Priya Raman", "Tom Becker", "Lena Fischer", "Marco Rossi",
          "Sarah Lin", "Jonas Weber", "Kate Holmes", "Omar Haddad")
# Word swaps for "reworded" sentences (an editor's light touch).
SYNONYMS = {
    "said": "stated", "says": "states", "told": "informed", "announced": "revealed", "after": "following",
    "before": "ahead of", "because": "as", "but": "however", "many": "numerous", "big": "large",
    "large": "big", "small": "little", "also": "additionally", "about": "around", "more": "further",
    "help": "assist", "show": "indicate", "shows": "indicates", "showed": "indicated", "started": "began",
    "start": "begin", "end": "conclusion", "buy": "purchase", "bought": "purchased", "people": "individuals",
    "new": "fresh", "important": "significant", "major": "key", "very": "highly", "use": "employ",
    "used": "employed", "get": "obtain", "make": "create", "made": "created", "plan": "proposal",
    "plans": "proposals", "expected": "anticipated", "company": "firm", "however": "but",
}
_CURLY = str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"})
_OLD_DATELINE = re.compile(
    r"^\s*(?:[A-Z][\w.'’]*(?:[ ,/]+[A-Z][\w.'’]*){0,4}\s*)?"
    r"\((?:Reuters|AP|AFP|dpa|CNN|Bloomberg|UPI|Xinhua)[^)]{0,20}\)\s*[—–-]{1,2}\s*"
)
_SENTENCE_SPLIT = re.compile(r"(?:(?<=[.!?])|(?<=[.!?][\"”’]))\s+(?=[\"“A-Z0-9])")


@dataclass
class Original:
    key: str
    headline: str
    paragraphs: list[str]
    published: datetime


@dataclass
class Page:
    original: str  # ground truth: the original's key
    outlet: str
    url: str  # clean absolute URL (what canonicalisation should give)
    feed_link: str  # the link as the feed gives it (tracking parameters)
    variations: list[str] = field(default_factory=list)
    published: datetime | None = None


def split_paragraphs(body: str) -> list[str]:
    paragraphs = [" ".join(p.split()) for p in re.split(r"\n\s*\n|\n", body) if p.strip()]
    if len(paragraphs) < 3:  # one block of text: make paragraphs of three sentences
        sentences = [s for p in paragraphs for s in _SENTENCE_SPLIT.split(p) if s.strip()]
        paragraphs = [" ".join(sentences[i:i + 3]) for i in range(0, len(sentences), 3)]
    return paragraphs


def make_headline(paragraphs: list[str]) -> str:
    first = _OLD_DATELINE.sub("", paragraphs[0])
    first = re.sub(r"^[A-Z][A-Z .,/]{2,40}\s*[—–-]{1,2}\s*", "", first)  # "LONDON — "
    words = re.sub(r"[\"“”]", "", first).split()[:10]
    headline = " ".join(words).rstrip(",;:.-—–")
    return headline[:1].upper() + headline[1:]


def slugify(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "story"


def load_originals(data_dir: Path, limit: int | None) -> tuple[list[Original], int]:
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    originals, short = [], 0
    start = datetime(2024, 5, 6, 5, 0, tzinfo=UTC)
    for key in sorted(truth):
        body = truth[key].get("articleBody") or ""
        if len(body.split()) < MIN_WORDS:
            short += 1
            continue
        paragraphs = split_paragraphs(body)
        originals.append(Original(key, make_headline(paragraphs), paragraphs,
                                  start + timedelta(hours=2 * len(originals))))
        if limit and len(originals) >= limit:
            break
    return originals, short


def _reword(paragraphs: list[str], rng: random.Random) -> list[str]:
    """One or two sentences lightly edited: up to three words swapped for synonyms
    (or "Meanwhile, " put in front when no word has one)."""
    paragraphs = list(paragraphs)
    spots = [(i, j) for i, p in enumerate(paragraphs) for j, s in enumerate(_SENTENCE_SPLIT.split(p))
             if len(s.split()) >= 8]
    for i, j in rng.sample(spots, min(len(spots), rng.choice((1, 2)))):
        sentences = _SENTENCE_SPLIT.split(paragraphs[i])
        words = sentences[j].split(" ")
        swappable = [n for n, w in enumerate(words) if w.lower() in SYNONYMS]
        if swappable:
            for n in rng.sample(swappable, min(3, len(swappable))):
                new = SYNONYMS[words[n].lower()]
                words[n] = new[:1].upper() + new[1:] if words[n][:1].isupper() else new
            sentences[j] = " ".join(words)
        else:
            sentences[j] = "Meanwhile, " + sentences[j][:1].lower() + sentences[j][1:]
        paragraphs[i] = " ".join(sentences)
    return paragraphs


def apply_variations(paragraphs: list[str], variations: list[str], rng: random.Random) -> list[str]:
    out = list(paragraphs)
    for variation in variations:
        if variation == "cut_last":
            out = out[:-1]
        elif variation == "advert":
            out.insert(rng.randint(1, len(out) - 1), "Advertisement")
        elif variation == "straight_quotes":
            out = [p.translate(_CURLY) for p in out]
        elif variation == "credit":
            if rng.random() < 0.5:
                out[-1] = out[-1] + " (dpa)"
            else:
                a, b = rng.sample(PEOPLE, 2)
                out.append(f"Reporting by {a}; Editing by {b}")
        elif variation == "dateline":
            first = _OLD_DATELINE.sub("", out[0])
            out[0] = f"{rng.choice(CITIES)} ({rng.choice(AGENCIES)}) - {first[:1].upper()}{first[1:]}"
        elif variation == "reword":
            out = _reword(out, rng)
    return out


def choose_variations(original: Original, rng: random.Random) -> list[str]:
    """One or more variations: 1 (40 %), 2 (30 %), 3 (20 %) or all of them (10 %)."""
    usable = [v for v in VARIATIONS
              if not (v == "straight_quotes" and not any(c in "“”‘’" for p in original.paragraphs for c in p))
              and not (v == "cut_last" and len(original.paragraphs) < 3)]
    k = rng.choices((1, 2, 3, len(usable)), weights=(40, 30, 20, 10))[0]
    chosen = set(rng.sample(usable, min(k, len(usable))))
    return [v for v in VARIATIONS if v in chosen]  # applied in a fixed order


# --------------------------------------------------------------- page markup


def render_page(outlet: Outlet, url: str, headline: str, paragraphs: list[str], published: datetime,
                related: list[tuple[str, str]], base: str) -> str:
    p, e = outlet.prefix, html.escape
    title = f"{headline} | {outlet.name}"
    iso = published.isoformat()
    nav = "".join(f'<li class="{p}-nav-item"><a href="{base}/{outlet.slug}/{slugify(n)}/">{e(n)}</a></li>'
                  for n in outlet.nav)
    share = (f'<div class="{p}-share"><span>Share this article</span>'
             f'<a class="{p}-share-fb" href="https://www.facebook.com/sharer?u={e(url)}">Facebook</a>'
             f'<a class="{p}-share-x" href="https://x.com/intent/tweet?url={e(url)}">X</a>'
             f'<a class="{p}-share-mail" href="mailto:?subject={e(headline)}">Email</a></div>')
    related_html = "".join(f'<li><a href="{e(link)}">{e(text)}</a></li>' for link, text in related)
    body = "".join(f'<p class="{p}-ad-label">Advertisement</p>' if para == "Advertisement"
                   else f"<p>{e(para)}</p>" for para in paragraphs)
    byline = f'<div class="{p}-byline">By {e(outlet.name)} staff · <time datetime="{iso}">{published:%d %B %Y, %H:%M}</time></div>'
    newsletter = (f'<div class="{p}-newsletter"><h3>The {e(outlet.name)} briefing</h3>'
                  f'<p>Sign up for our daily newsletter and never miss a story.</p>'
                  f'<form><input type="email" placeholder="Your email"><button>Subscribe</button></form></div>')
    footer = (f'<footer class="{p}-footer"><ul><li><a href="{base}/{outlet.slug}/about/">About us</a></li>'
              f'<li><a href="{base}/{outlet.slug}/contact/">Contact</a></li>'
              f'<li><a href="{base}/{outlet.slug}/privacy/">Privacy policy</a></li></ul>'
              f'<p>© 2024 {e(outlet.name)}. All rights reserved.</p></footer>')
    canonical = f'<link rel="canonical" href="{e(url)}">' if outlet.canonical else ""
    head = (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}</title>'
            f'{canonical}<meta property="og:site_name" content="{e(outlet.name)}">'
            f'<meta property="og:title" content="{e(headline)}">'
            f'<meta property="article:published_time" content="{iso}">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"></head>')
    if outlet.layout == 0:
        page = (f'<body class="{p}-site"><header class="{p}-masthead"><a class="{p}-logo" href="{base}/{outlet.slug}/">'
                f'{e(outlet.name)}</a><nav class="{p}-nav"><ul>{nav}</ul></nav></header>'
                f'<main class="{p}-main"><article class="{p}-article"><h1 class="{p}-headline">{e(headline)}</h1>'
                f'{byline}{share}<div class="{p}-body">{body}</div></article>'
                f'<aside class="{p}-related"><h2>Related stories</h2><ul>{related_html}</ul></aside>'
                f'{newsletter}</main>{footer}</body></html>')
    elif outlet.layout == 1:
        page = (f'<body><div class="{p}-wrapper"><div class="{p}-topbar"><span>{published:%A, %d %B %Y}</span>'
                f'<a href="{base}/{outlet.slug}/subscribe/">Subscribe</a></div>'
                f'<div class="{p}-menu"><ul>{nav}</ul></div>'
                f'<div class="{p}-content"><section class="{p}-story"><header><h1>{e(headline)}</h1>{byline}</header>'
                f'<article>{body}<div class="{p}-readmore"><p>Read more:</p><ul>{related_html[:2000]}</ul></div></article>'
                f'{share}</section><div class="{p}-sidebar"><h3>Most read</h3><ol>{related_html}</ol></div></div>'
                f'{footer}</div></body></html>')
    else:
        page = (f'<body><div id="{p}-cookie" class="{p}-cookie-banner">We use cookies to improve your experience. '
                f'<button>Accept</button></div><header class="{p}-header"><div class="{p}-brand">{e(outlet.name)}</div>'
                f'<nav><ul class="{p}-sections">{nav}</ul></nav></header>'
                f'<div class="{p}-page"><div class="{p}-col-main">{share}<article class="{p}-entry">'
                f'<h1 class="{p}-entry-title">{e(headline)}</h1>{byline}{body}</article>'
                f'<div class="{p}-tags">Topics: World, News</div></div>'
                f'<div class="{p}-col-side"><section class="{p}-more"><h4>More from {e(outlet.name)}</h4>'
                f'<ul>{related_html}</ul></section>{newsletter}</div></div>{footer}</body></html>')
    return head + page


def render_feed(outlet: Outlet, base: str, items: list[tuple[str, str, datetime, str]]) -> str:
    e = html.escape
    entries = "".join(
        f"<item><title>{e(title)}</title><link>{e(link)}</link><guid isPermaLink=\"false\">{e(guid)}</guid>"
        f"<pubDate>{format_datetime(published)}</pubDate><description>{e(title)}.</description></item>"
        for title, link, published, guid in items
    )
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>{e(outlet.name)}</title><link>{base}/{outlet.slug}/</link>"
            f"<description>Latest news from {e(outlet.name)}</description>{entries}</channel></rss>")


@dataclass
class Corpus:
    pages: list[Page]
    feeds: list[tuple[str, str]]  # (absolute feed URL, outlet name)
    originals: int
    skipped_short: int
    outlets: int


def build_corpus(root: Path, bases: list[str], originals: list[Original], skipped_short: int,
                 n_outlets: int, seed: int) -> Corpus:
    """``bases[i]`` is the base URL outlet i is served at (all equal when the
    outlets share one host)."""
    rng = random.Random(seed)
    outlets = OUTLETS[:n_outlets]
    base_of = {outlet.slug: bases[i] for i, outlet in enumerate(outlets)}
    agency, others = outlets[0], outlets[1:]
    pages: list[Page] = []
    texts: dict[str, tuple[str, list[str]]] = {}  # page url -> (headline, paragraphs)
    for number, original in enumerate(originals):
        carriers = [agency] + rng.sample(others, rng.randint(min(2, len(others)), min(5, len(others))))
        for outlet in carriers:
            if outlet is agency:
                variations, paragraphs, published = [], original.paragraphs, original.published
            else:
                variations = choose_variations(original, rng)
                paragraphs = apply_variations(original.paragraphs, variations, rng)
                published = original.published + timedelta(minutes=rng.randint(15, 360))
            path = f"/{outlet.slug}/{published:%Y/%m/%d}/{slugify(original.headline)}-{number:03d}.html"
            url = base_of[outlet.slug] + path
            feed_link = f"{url}?utm_source=rss&utm_medium=feed&utm_campaign={outlet.slug}"
            pages.append(Page(original.key, outlet.slug, url, feed_link, variations, published))
            texts[url] = (original.headline, paragraphs)
    by_outlet: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        by_outlet[page.outlet].append(page)
    feeds = []
    for outlet in outlets:
        own, base = by_outlet[outlet.slug], base_of[outlet.slug]
        for index, page in enumerate(own):
            headline, paragraphs = texts[page.url]
            related = [(other.url, texts[other.url][0]) for other in
                       (own[(index + step) % len(own)] for step in (1, 2, 3, 4)) if other is not page]
            target = root / page.url[len(base) + 1:]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(render_page(outlet, page.url, headline, paragraphs, page.published, related, base),
                              encoding="utf-8")
        items = [(texts[p.url][0], p.feed_link, p.published, p.url) for p in
                 sorted(own, key=lambda p: p.published, reverse=True)]
        (root / outlet.slug).mkdir(parents=True, exist_ok=True)
        (root / outlet.slug / "rss.xml").write_text(render_feed(outlet, base, items), encoding="utf-8")
        feeds.append((f"{base}/{outlet.slug}/rss.xml", outlet.name))
    return Corpus(pages, feeds, len(originals), skipped_short, len(outlets))


# ---------------------------------------------------------------------------
# Serving
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def serve_outlets(root: Path, n_outlets: int, hosts: str) -> Iterator[list[str]]:
    """Base URL per outlet.  ``shared``: every outlet on the one server of
    flows.demo.serve_directory (127.0.0.1), so every page is on one "site".
    ``per-outlet``: outlet 0 on serve_directory (127.0.0.1), outlet i on its
    own loopback address 127.0.0.(i+1), so each outlet is its own site as on
    the web (site_of() is per host; per-site learned furniture lines stay
    per outlet)."""
    from flows.demo import serve_directory

    with contextlib.ExitStack() as stack:
        first = stack.enter_context(serve_directory(root))
        if hosts == "shared":
            yield [first] * n_outlets
            return
        yield [first] + [stack.enter_context(serve_directory(root, host=f"127.0.0.{number + 1}"))
                         for number in range(1, n_outlets)]


# ---------------------------------------------------------------------------
# Databases and the ingest subprocess
# ---------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database(server: str, name: str, keep: bool) -> Iterator[str]:
    """A new database ``name`` on ``server`` (a URL without the database,
    e.g. postgresql://postgres@127.0.0.1:5432, or postgresql://postgres@?host=/socket/dir)."""
    import psycopg

    def url(database: str) -> str:
        base, separator, query = server.partition("?")
        return f"{base.rstrip('/')}/{database}{separator}{query}"

    with psycopg.connect(url("postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield url(name)
    finally:
        if not keep:
            with psycopg.connect(url("postgres"), autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_ingest(feeds_yaml: Path, database_url: str, host_port: str, data_dir: Path, force: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")}
    env.update({
        "DATABASE_URL": database_url,
        "NEWSFLOW_ALLOW_PRIVATE_HOSTS": host_port,
        "NEWSFLOW_PER_HOST_DELAY": "0",
        "NEWSFLOW_DATA_DIR": str(data_dir),
    })
    command = [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(feeds_yaml), "--json"]
    if force:
        command.append("--force")
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"ingest failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    start = done.stdout.find("\n{")
    start = 0 if done.stdout.startswith("{") else start + 1
    summary, _ = json.JSONDecoder().raw_decode(done.stdout[start:])
    summary["wall_seconds"] = round(seconds, 1)
    return summary


def snapshot(engine) -> dict:
    from sqlalchemy import text

    from pipeline.query import table_counts

    with engine.connect() as conn:
        counts = table_counts(conn)
        rows = conn.execute(text(
            "SELECT canonical_url, story_id, match_kind, match_score, is_canonical, entities_status,"
            " matched_article_id, id, text FROM articles ORDER BY id")).all()
    return {"counts": counts, "rows": rows}


# ---------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------


def pairs_within(groups: dict) -> set[tuple[str, str]]:
    out = set()
    for members in groups.values():
        out.update(itertools.combinations(sorted(members), 2))
    return out


def score_membership(corpus: Corpus, rows) -> dict:
    from pipeline.dedup import canonicalize_url
    from pipeline.neardup import fingerprint, jaccard, containment, same_story

    by_url = {r.canonical_url: r for r in rows}
    truth: dict[str, set[str]] = defaultdict(set)
    predicted: dict[object, set[str]] = defaultdict(set)
    page_of: dict[str, Page] = {}
    missing = []
    for page in corpus.pages:
        url = canonicalize_url(page.url)
        page_of[url] = page
        truth[page.original].add(url)
        row = by_url.get(url)
        if row is None or row.story_id is None:
            missing.append(url)
            predicted[("missing", url)].add(url)
        else:
            predicted[row.story_id].add(url)
    true_pairs, pred_pairs = pairs_within(truth), pairs_within(predicted)
    tp = len(true_pairs & pred_pairs)
    precision = tp / len(pred_pairs) if pred_pairs else 1.0
    recall = tp / len(true_pairs) if true_pairs else 1.0
    unexpected = sorted(set(by_url) - set(page_of))

    def describe(a: str, b: str) -> dict:
        ra, rb = by_url.get(a), by_url.get(b)
        item = {"a": a, "b": b,
                "a_match": None if ra is None else [ra.match_kind, ra.match_score],
                "b_match": None if rb is None else [rb.match_kind, rb.match_score],
                "a_variations": page_of[a].variations, "b_variations": page_of[b].variations}
        if ra is not None and rb is not None:
            fa, fb = fingerprint(ra.text), fingerprint(rb.text)
            verdict, score, reason = same_story(fa, fb)
            item.update(jaccard=round(jaccard(fa, fb), 3), containment=round(containment(fa, fb), 3),
                        shingles=[fa.shingle_count, fb.shingle_count],
                        same_story=[verdict, round(score, 3), reason])
        return item

    false_merges = [describe(a, b) for a, b in sorted(pred_pairs - true_pairs)]
    missed = [describe(a, b) for a, b in sorted(true_pairs - pred_pairs)]

    # How each kind of variation fared: a copy "joined" when it is in the
    # story of its original's agency page.
    agency_url = {p.original: canonicalize_url(p.url) for p in corpus.pages if not p.variations}
    story_of = {r.canonical_url: r.story_id for r in rows}
    by_variation: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_count: dict[int, list[int]] = defaultdict(lambda: [0, 0])
    for page in corpus.pages:
        if not page.variations:
            continue
        url = canonicalize_url(page.url)
        joined = story_of.get(url) is not None and story_of.get(url) == story_of.get(agency_url[page.original])
        for v in page.variations:
            by_variation[v][0] += joined
            by_variation[v][1] += 1
        by_count[len(page.variations)][0] += joined
        by_count[len(page.variations)][1] += 1
    return {
        "pages": len(corpus.pages), "stored_articles": len(rows),
        "stored_corpus_pages": len(corpus.pages) - len(missing),
        "stories": len({r.story_id for r in rows}), "true_groups": len(truth),
        "true_pairs": len(true_pairs), "predicted_pairs": len(pred_pairs), "true_positive_pairs": tp,
        "precision": round(precision, 4), "recall": round(recall, 4),
        "missing_pages": missing, "unexpected_urls": unexpected,
        "false_merges": false_merges, "missed_pairs": missed,
        "match_kinds": dict(Counter(r.match_kind for r in rows)),
        "copies_joined_by_variation": {v: {"joined": j, "copies": n} for v, (j, n) in sorted(by_variation.items())},
        "copies_joined_by_number_of_variations": {str(k): {"joined": j, "copies": n} for k, (j, n) in sorted(by_count.items())},
    }


def story_assignment(rows) -> dict[str, int]:
    return {r.canonical_url: r.story_id for r in rows}


# ---------------------------------------------------------------------------
# NER time saved
# ---------------------------------------------------------------------------


def measure_ner(engine) -> dict:
    """NER seconds per canonical article, measured with the model loaded once;
    copies x that is the time saved.  Articles in a language the model does
    not cover cost (and save) nothing, so only copies whose canonical article
    did go through NER (status done/truncated) count as saving."""
    from sqlalchemy import text

    from pipeline.config import get_settings
    from pipeline.enrich.models import EnrichInput, extract_entities_with_models, load_nlp, model_for_language

    settings = get_settings()
    with engine.connect() as conn:
        canonical = conn.execute(text(
            "SELECT title, text, language FROM articles"
            " WHERE is_canonical AND entities_status IN ('done', 'truncated') ORDER BY id")).all()
        stored, copies, saving = conn.execute(text(
            "SELECT count(*), count(*) FILTER (WHERE NOT a.is_canonical),"
            " count(*) FILTER (WHERE NOT a.is_canonical AND canon.entities_status IN ('done', 'truncated'))"
            " FROM articles a JOIN stories s ON s.id = a.story_id"
            " JOIN articles canon ON canon.id = s.canonical_article_id")).one()
        statuses = dict(conn.execute(text(
            "SELECT entities_status, count(*) FROM articles GROUP BY 1")).all())
    started = time.perf_counter()
    model_name = model_for_language(settings.ner_models, "en")
    load_nlp(model_name)  # cached: the calls below reuse it
    load_seconds = time.perf_counter() - started
    items = [EnrichInput(title, body, language) for title, body, language in canonical]
    # Only the English model: articles in other languages cost (and save) nothing.
    models = {"en": model_name}
    extract_entities_with_models(models, items[:2], max_chars=settings.ner_max_chars)  # warm-up
    started = time.perf_counter()
    extract_entities_with_models(models, items, max_chars=settings.ner_max_chars)
    seconds = time.perf_counter() - started
    per_article = seconds / len(items) if items else 0.0
    total_without_dedup = (len(items) + saving) * per_article
    return {
        "model": model_name, "model_load_seconds": round(load_seconds, 2),
        "canonical_articles_ner": len(items), "ner_seconds_canonical": round(seconds, 2),
        "ner_seconds_per_article": round(per_article, 4),
        "stored_articles": stored, "copies": copies, "copies_in_model_language": saving,
        "copy_share": round(copies / stored, 4) if stored else 0.0,
        "ner_seconds_saved": round(saving * per_article, 2),
        "ner_share_saved": round(saving * per_article / total_without_dedup, 4) if total_without_dedup else 0.0,
        "entities_status": statuses,
    }


# ---------------------------------------------------------------------------
# Candidate look-up cost at scale
# ---------------------------------------------------------------------------

# The candidate query the flow runs for every new article.
from pipeline.store.articles import CANDIDATE_SQL  # noqa: E402
from pipeline.stories import MAX_CANDIDATES  # noqa: E402

_POOL: list = []


def word_pool(data_dir: Path) -> tuple[list[str], list[int]]:
    """The benchmark bodies' words with their cumulative counts: synthetic texts
    drawn from them have a real word distribution but (almost) no 5-word
    sequence in common, like distinct articles."""
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    counts = Counter(w for v in truth.values() for w in re.findall(r"\w+", v.get("articleBody") or ""))
    words = sorted(counts)
    return words, list(itertools.accumulate(counts[w] for w in words))


def synthetic_text(rng: random.Random, pool: tuple[list[str], list[int]]) -> str:
    words, cumulative = pool
    paragraphs = []
    for _ in range(rng.randint(4, 16)):
        sentences = []
        for _ in range(rng.randint(1, 4)):
            sentence = rng.choices(words, cum_weights=cumulative, k=rng.randint(8, 30))
            sentences.append(" ".join(sentence).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs)


def _init_pool(pool) -> None:
    _POOL[:] = [pool]


def _make_chunk(task: tuple[int, int, int]) -> list[tuple[int, str, bytes, bytes, list[int]]]:
    from pipeline.neardup import fingerprint

    start, stop, seed = task
    out = []
    for article_id in range(start, stop):
        text = synthetic_text(random.Random(seed * 1_000_003 + article_id), _POOL[0])
        fp = fingerprint(text)
        out.append((article_id, text, fp.minhash, fp.shingles, fp.bands))
    return out


def bulk_load(url: str, start: int, stop: int, pool, seed: int, jobs: int) -> float:
    """Articles start..stop-1 (one story each) with fingerprints and bands, by COPY.
    The bands' primary key is dropped during the load and rebuilt after it, and
    foreign-key triggers are off (session_replication_role = replica): the rows
    are consistent by construction."""
    import psycopg

    from pipeline.dedup import content_hash

    started = time.perf_counter()
    chunk = 2000
    tasks = [(lo, min(lo + chunk, stop), seed) for lo in range(start, stop, chunk)]
    with psycopg.connect(url) as conn, multiprocessing.get_context("fork").Pool(
            jobs, initializer=_init_pool, initargs=(pool,)) as workers:
        conn.execute("SET session_replication_role = replica")
        conn.execute("ALTER TABLE article_bands DROP CONSTRAINT IF EXISTS article_bands_pkey")
        with conn.cursor() as cur:
            for rows in workers.imap(_make_chunk, tasks):
                with cur.copy("COPY stories (id, article_count, first_seen_at) FROM STDIN") as copy:
                    for article_id, *_ in rows:
                        copy.write_row((article_id, 1, "2024-05-01T00:00:00Z"))
                with cur.copy("COPY articles (id, canonical_url, url, text, content_hash, story_id, is_canonical,"
                              " match_kind, entities_status) FROM STDIN") as copy:
                    for article_id, text, *_ in rows:
                        link = f"https://site{article_id % 500}.example/news/{article_id}"
                        copy.write_row((article_id, link, link, text, content_hash(text), article_id, True,
                                        "new", "done"))
                with cur.copy("COPY article_fingerprints (article_id, version, minhash, shingles) FROM STDIN") as copy:
                    for article_id, _, minhash, shingles, _ in rows:
                        copy.write_row((article_id, 1, minhash, shingles))
                with cur.copy("COPY article_bands (hash, article_id, band) FROM STDIN") as copy:
                    for article_id, _, _, _, bands in rows:
                        for band, key in enumerate(bands):
                            copy.write_row((key, article_id, band))
        conn.execute("UPDATE stories SET canonical_article_id = id WHERE id >= %s AND id < %s", (start, stop))
        # Keys of one article in one band collide only if their MinHash rows do:
        # a duplicate (hash, article_id) cannot occur, so the key builds cleanly.
        conn.execute("ALTER TABLE article_bands ADD CONSTRAINT article_bands_pkey PRIMARY KEY (hash, article_id)")
        conn.execute("SET session_replication_role = origin")
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE articles, stories, article_fingerprints, article_bands")
        for seq_table in ("articles", "stories"):
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{seq_table}', 'id'), (SELECT max(id) FROM {seq_table}))")
    return time.perf_counter() - started


def near_copy(text: str, rng: random.Random) -> str:
    paragraphs = text.split("\n\n")
    variations = rng.sample(["cut_last", "advert", "credit", "dateline", "reword"], 2)
    if len(paragraphs) < 3 and "cut_last" in variations:
        variations.remove("cut_last")
    return "\n\n".join(apply_variations(paragraphs, variations, rng))


def time_lookups(engine, texts: list[str]) -> dict:
    from sqlalchemy import text as sql

    from pipeline.neardup import fingerprint

    def one_article(fp):
        return {"positions": [0] * len(fp.bands), "bands": fp.bands, "limit": MAX_CANDIDATES}

    fingerprints = [fingerprint(t) for t in texts]
    timings, candidates = [], []
    with engine.connect() as conn:
        query = sql(CANDIDATE_SQL)
        for fp in fingerprints[:5]:  # warm the connection and plan cache
            conn.execute(query, one_article(fp)).all()
        for fp in fingerprints:
            started = time.perf_counter()
            rows = conn.execute(query, one_article(fp)).all()
            timings.append((time.perf_counter() - started) * 1000)
            candidates.append(len(rows))
        conn.rollback()
    timings.sort()
    return {
        "lookups": len(timings), "ms_median": round(statistics.median(timings), 3),
        "ms_mean": round(statistics.fmean(timings), 3),
        "ms_p95": round(timings[int(0.95 * (len(timings) - 1))], 3),
        "candidates_mean": round(statistics.fmean(candidates), 3),
        "with_candidates": sum(c > 0 for c in candidates),
    }


def explain_lookup(engine, sample_text: str) -> list[str]:
    from sqlalchemy import text as sql

    from pipeline.neardup import fingerprint

    fp = fingerprint(sample_text)
    with engine.connect() as conn:
        plan = [row[0] for row in conn.execute(
            sql("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + CANDIDATE_SQL),
            {"positions": [0] * len(fp.bands), "bands": fp.bands, "limit": MAX_CANDIDATES})]
        conn.rollback()
    return plan


def lookup_bench(server: str, name: str, data_dir: Path, sizes: list[int], n_lookups: int, seed: int,
                 keep: bool, jobs: int) -> dict:
    from sqlalchemy import create_engine, text

    from pipeline.store.engine import sqlalchemy_url
    from pipeline.store.migrate import upgrade

    pool = word_pool(data_dir)
    results = {"vocabulary": len(pool[0]), "sizes": []}
    with fresh_database(server, name, keep) as url:
        engine = create_engine(sqlalchemy_url(url))
        try:
            upgrade(engine)
            loaded = 0
            rng = random.Random(seed + 7)
            fresh = [synthetic_text(rng, pool) for _ in range(n_lookups)]
            for size in sorted(sizes):
                load_seconds = bulk_load(url, loaded + 1, size + 1, pool, seed, jobs)
                loaded = size
                with engine.connect() as conn:
                    counts = conn.execute(text(
                        "SELECT (SELECT count(*) FROM articles), (SELECT count(*) FROM article_bands),"
                        " pg_size_pretty(pg_relation_size('article_bands_pkey'))")).one()
                # Near copies of stored texts: the look-up finds (and fetches) their original.
                crng = random.Random(seed + size)
                stored_ids = crng.sample(range(1, size + 1), n_lookups)
                with engine.connect() as conn:
                    stored_texts = [t for (t,) in conn.execute(
                        text("SELECT text FROM articles WHERE id = ANY(:ids) ORDER BY id"), {"ids": stored_ids})]
                copies = [near_copy(t, crng) for t in stored_texts]
                fresh_timing = time_lookups(engine, fresh)
                copy_timing = time_lookups(engine, copies)
                plan = explain_lookup(engine, copies[0])
                index_lines = [line.strip() for line in plan if "Scan" in line and "article_bands" in line]
                at = next((n for n, line in enumerate(plan) if "Scan" in line and "article_bands" in line), None)
                buffers = next((line.strip() for line in plan[at + 1:] if "Buffers:" in line), None) if at is not None else None
                execution = next((line.split(":", 1)[1].strip() for line in plan if line.startswith("Execution Time")), None)
                results["sizes"].append({
                    "articles": counts[0], "band_rows": counts[1], "band_index_size": counts[2],
                    "load_seconds": round(load_seconds, 1),
                    "fresh": fresh_timing, "near_copies": copy_timing,
                    "plan_index_line": index_lines[0] if index_lines else None,
                    "plan_index_buffers": buffers, "plan_execution_time": execution, "plan": plan,
                })
                print(f"  {counts[0]} articles ({counts[1]} band rows, loaded in {load_seconds:.0f} s): "
                      f"look-up {fresh_timing['ms_median']:.2f} ms median (fresh), "
                      f"{copy_timing['ms_median']:.2f} ms (near copies)", flush=True)
        finally:
            engine.dispose()
    return results


# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------


def markdown_table(results: dict) -> str:
    rows = [("metric", "value")]
    q = results.get("quality")
    if q:
        rows += [
            ("pages in corpus (originals x outlets)", f"{q['pages']} ({results['corpus']['originals']} originals, "
                                                      f"{results['corpus']['outlets']} outlets)"),
            ("stored articles", q["stored_articles"]),
            ("stories", q["stories"]),
            ("true groups", q["true_groups"]),
            ("pairs: true / predicted / both", f"{q['true_pairs']} / {q['predicted_pairs']} / {q['true_positive_pairs']}"),
            ("pairwise precision (target >= 0.99)", f"{q['precision']:.4f} {'ok' if q['precision'] >= TARGET_P else 'MISS'}"),
            ("pairwise recall (target >= 0.97)", f"{q['recall']:.4f} {'ok' if q['recall'] >= TARGET_R else 'MISS'}"),
            ("false-merge pairs / missed pairs", f"{len(q['false_merges'])} / {len(q['missed_pairs'])}"),
            ("match kinds", ", ".join(f"{k}: {v}" for k, v in sorted(q["match_kinds"].items(), key=str))),
        ]
    r = results.get("rerun")
    if r:
        rows.append(("rerun changes nothing", "yes" if r["unchanged"] else "no"))
    ing = results.get("ingest")
    if ing:
        rows.append(("ingest wall time: first run / rerun", f"{ing['first']['wall_seconds']} s / {ing['rerun']['wall_seconds']} s"))
    n = results.get("ner")
    if n:
        rows += [
            ("copies (not canonical: entities copied)", f"{n['copies']} of {n['stored_articles']} ({n['copy_share']:.1%})"),
            ("NER seconds per article (measured)", f"{n['ner_seconds_per_article']:.4f} s ({n['model']}, "
                                                   f"{n['canonical_articles_ner']} canonical English texts)"),
            ("NER seconds saved (copies x per article)", f"{n['ner_seconds_saved']:.1f} s for {n['copies_in_model_language']} "
                                                         f"copies in the model's language ({n['ner_share_saved']:.1%} of "
                                                         f"the NER time without dedup)"),
        ]
    s = results.get("lookup")
    if s:
        for size in s["sizes"]:
            rows.append((f"candidate look-up, {size['articles']:,} articles ({size['band_rows']:,} band rows)",
                         f"{size['fresh']['ms_median']:.2f} ms median, {size['fresh']['ms_p95']:.2f} ms p95 (fresh); "
                         f"{size['near_copies']['ms_median']:.2f} ms median (near copies, "
                         f"{size['near_copies']['with_candidates']}/{size['near_copies']['lookups']} found)"))
        for size in s["sizes"]:
            if size["plan_index_line"]:
                rows.append((f"look-up plan at {size['articles']:,} (near copy)",
                             f"`{size['plan_index_line'].lstrip('-> ')}`, {size['plan_index_buffers']}, "
                             f"execution {size['plan_execution_time']}"))
    width = max(len(str(a)) for a, _ in rows)
    lines = [f"| {rows[0][0]:<{width}} | {rows[0][1]} |", f"|{'-' * (width + 2)}|---|"]
    lines += [f"| {str(a):<{width}} | {b} |" for a, b in rows[1:]]
    return "\n".join(lines)


def print_pairs(title: str, items: list[dict], limit: int = 40) -> None:
    if not items:
        return
    print(f"\n{title} ({len(items)}):")
    for item in items[:limit]:
        extra = ""
        if "jaccard" in item:
            extra = (f" J={item['jaccard']} C={item['containment']} shingles={item['shingles']}"
                     f" same_story={item['same_story']}")
        print(f"  {item['a']}  [{item['a_match']}, {item['a_variations']}]\n"
              f"  {item['b']}  [{item['b_match']}, {item['b_variations']}]{extra}")
    if len(items) > limit:
        print(f"  … and {len(items) - limit} more (see --json)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    benchdata.add_option(ap)
    ap.add_argument("--originals", type=int, default=None, help="originals to use (default: all of >= 120 words)")
    ap.add_argument("--outlets", type=int, default=6, help=f"outlets, the agency included (3..{len(OUTLETS)}, default 6)")
    ap.add_argument("--seed", type=int, default=20240506)
    ap.add_argument("--sizes", default="10000,100000",
                    help="stored articles for the look-up cost, loaded cumulatively (default 10000,100000: ~1.5 min)")
    ap.add_argument("--lookups", type=int, default=200, help="look-ups timed per size (default 200)")
    ap.add_argument("--jobs", type=int, default=2, help="processes computing synthetic fingerprints (default 2)")
    ap.add_argument("--skip-scale", action="store_true", help="skip the look-up cost part")
    ap.add_argument("--skip-ingest", action="store_true", help="skip the corpus, ingest and NER parts")
    ap.add_argument("--hosts", choices=("per-outlet", "shared"), default="per-outlet",
                    help="per-outlet (default): each outlet on its own loopback address, as on the web; "
                         "shared: every outlet on 127.0.0.1 (one site for per-site furniture learning)")
    ap.add_argument("--keep-db", action="store_true", help="keep the benchmark databases")
    ap.add_argument("--keep-corpus", metavar="DIR", type=Path, help="build the corpus in DIR and keep it")
    ap.add_argument("--json", metavar="FILE", type=Path, help="write the results as JSON")
    args = ap.parse_args(argv)
    if not 3 <= args.outlets <= len(OUTLETS):
        ap.error(f"--outlets must be 3..{len(OUTLETS)}")

    if skipped := benchdata.extraction_benchmark_missing(args.data):
        print(skipped)
        return 0
    data_dir = benchdata.extraction_benchmark(args.data)
    server = os.environ.get(ENV_PG, DEFAULT_PG).rstrip("/")
    pid = os.getpid()
    results: dict = {"data": str(data_dir), "seed": args.seed}
    ok = True

    if not args.skip_ingest:
        from sqlalchemy import create_engine

        from pipeline.store.engine import sqlalchemy_url

        originals, short = load_originals(data_dir, args.originals)
        with contextlib.ExitStack() as stack:
            if args.keep_corpus:
                root = args.keep_corpus.resolve()
                root.mkdir(parents=True, exist_ok=True)
            else:
                root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="newsflow-bench-dedup-")))
            site, work = root / "site", root / "work"
            site.mkdir(exist_ok=True)
            work.mkdir(exist_ok=True)
            bases = stack.enter_context(serve_outlets(site, args.outlets, args.hosts))
            corpus = build_corpus(site, bases, originals, short, args.outlets, args.seed)
            feeds_yaml = work / "feeds.yaml"
            feeds_yaml.write_text("feeds:\n" + "".join(
                f"  - url: {url}\n    name: {json.dumps(name)}\n" for url, name in corpus.feeds), encoding="utf-8")
            (work / "truth.json").write_text(json.dumps([asdict(p) for p in corpus.pages], default=str, indent=1))
            variation_counts = Counter(v for p in corpus.pages for v in p.variations)
            results["corpus"] = {
                "originals": corpus.originals, "skipped_short": corpus.skipped_short, "outlets": corpus.outlets,
                "pages": len(corpus.pages), "copies": sum(bool(p.variations) for p in corpus.pages),
                "variations": dict(variation_counts), "folder": str(root) if args.keep_corpus else None,
                "hosts": args.hosts,
            }
            print(f"corpus: {corpus.originals} originals (>= {MIN_WORDS} words; {short} shorter skipped), "
                  f"{corpus.outlets} outlets, {len(corpus.pages)} pages, served at "
                  f"{', '.join(sorted(set(bases)))}", flush=True)
            host_port = ",".join(sorted({b.removeprefix("http://") for b in bases}))
            with fresh_database(server, f"newsflow_bench_dedup_{pid}", args.keep_db) as db_url:
                engine = create_engine(sqlalchemy_url(db_url))
                try:
                    print("ingest: first run …", flush=True)
                    first = run_ingest(feeds_yaml, db_url, host_port, work / "data", force=False)
                    print(f"  {first['articles_new']} new articles, {first['stories_new']} stories, "
                          f"{first['copies']} copies, {first['pages_failed']} failed, {first['wall_seconds']} s",
                          flush=True)
                    before = snapshot(engine)
                    quality = score_membership(corpus, before["rows"])
                    results["quality"] = {k: v for k, v in quality.items()}
                    print("ingest: rerun with --force …", flush=True)
                    rerun = run_ingest(feeds_yaml, db_url, host_port, work / "data", force=True)
                    after = snapshot(engine)
                    unchanged = (before["counts"] == after["counts"]
                                 and story_assignment(before["rows"]) == story_assignment(after["rows"]))
                    results["rerun"] = {"unchanged": unchanged, "counts_before": before["counts"],
                                        "counts_after": after["counts"],
                                        "stories_changed": sorted(
                                            u for u, s in story_assignment(after["rows"]).items()
                                            if story_assignment(before["rows"]).get(u) != s)}
                    results["ingest"] = {"first": first, "rerun": rerun}
                    print("NER: timing the model on the canonical texts …", flush=True)
                    results["ner"] = measure_ner(engine)
                finally:
                    engine.dispose()
        q = results["quality"]
        ok &= q["precision"] >= TARGET_P and q["recall"] >= TARGET_R and results["rerun"]["unchanged"]

    if not args.skip_scale:
        sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
        print(f"look-up cost: bulk-loading {', '.join(f'{s:,}' for s in sizes)} synthetic articles …", flush=True)
        results["lookup"] = lookup_bench(server, f"newsflow_bench_dedup_scale_{pid}", data_dir, sizes,
                                         args.lookups, args.seed, args.keep_db, max(1, args.jobs))

    print()
    print(markdown_table(results))
    if "quality" in results:
        q = results["quality"]
        if q["missing_pages"]:
            print(f"\npages not stored ({len(q['missing_pages'])}): " + ", ".join(q["missing_pages"][:20]))
        print_pairs("false merges (pairs in one story that are different originals)", q["false_merges"])
        print_pairs("missed pairs (copies of one original in different stories)", q["missed_pairs"])
        print("\ncopies that joined their original's story, by variation:")
        for v, c in q["copies_joined_by_variation"].items():
            print(f"  {v:<16} {c['joined']}/{c['copies']}")
        for k, c in q["copies_joined_by_number_of_variations"].items():
            print(f"  {k} variation(s)   {c['joined']}/{c['copies']}")
        print(f"\nrerun changes nothing: {'yes' if results['rerun']['unchanged'] else 'no'}")
        if not results["rerun"]["unchanged"]:
            print(f"  counts before {results['rerun']['counts_before']}\n  counts after  {results['rerun']['counts_after']}")
    if "lookup" in results:
        last = results["lookup"]["sizes"][-1]
        print(f"\nEXPLAIN of one look-up at {last['articles']:,} articles:")
        for line in last["plan"]:
            print(f"  {line if len(line) < 160 else line[:150] + ' …'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
        print(f"\nresults written to {args.json}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
