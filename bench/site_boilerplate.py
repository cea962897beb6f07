#!/usr/bin/env python3
"""The feeds case: many pages from one site, where learned per-site boilerplate matters.

Usage::

    python bench/site_boilerplate.py [--sites 6] [--articles 40] [--min-pages N]
                                     [--database-url URL] [--json FILE] [--keep] [--data DIR]

bench/extraction.py scores pages from 88 different sites; a feed reader sees
dozens of pages from each site, and each site's own chrome inside the article
container — a subscription pitch, "Follow us on Telegram", an author box, "This
article first appeared on …", a standing editor's note, a disclaimer — that no
phrase list knows and trafilatura keeps as text.  This bench measures it.

1. **Corpus.**  ``--sites`` outlets (bench/dedup.py's templates: their markup,
   navigation, share bar, newsletter box, related links) × ``--articles``
   articles, seeded.  Each body is a draw of real sentences from the
   extraction benchmark's ground truth (as bench/throughput.py draws them:
   ``extraction-benchmark/`` in the benchmark data directory, ``--data DIR``,
   ``$NEWSFLOW_BENCH_DATA`` or ``bench/data/``; without it the script says so
   and exits 0);
   each site adds its own recurring lines inside the article container, at the
   start, in the middle or at the end (``SITE_CHROME``).  Some vary per page
   as they do on real sites: an author box per author, a print-edition line
   with the page's date.  One site repeats a short background sentence on a
   third of its pages; it is article text and is in the ground truth.
2. **Ground truth.**  Each page's article paragraphs, without the headline —
   as the benchmark's ``articleBody``, and as both extractors return text.
3. **Scored in one run, on the same pages, with bench/extraction.py's metric:**
   (a) trafilatura's best plain configuration (``trafilatura-precision`` of
   bench/extraction.py); (b) newsflow's extraction and cleaning, no learned
   rules (``pipeline.process.extract_page``); (c) newsflow as in production:
   pages in feed order, one ingest run every ``--run-minutes`` (a batch per
   run, as ``newsflow serve`` does), each run reading the learned lines with
   ``learned_site_lines``, cleaning with ``prepare_articles`` and storing with
   ``store_articles`` (which counts each new article's lines) in a real
   PostgreSQL database; (d) the pages of (c) whose site already had at least
   the threshold's number of pages stored before their run: the steady state.
4. **An outlet whose articles share whole paragraphs** (``REUSE_OUTLET``,
   ``--reuse-articles``): its pages in feed order as in (c), reported as
   articles lost and the share of article text kept.

The database is ``--database-name`` (default ``nf_bench_sites``) on the server
of ``--database-url`` or ``DATABASE_URL``; it is dropped and created at the
start (never the database the URL names, so a production URL is safe) and
dropped at the end unless ``--keep`` (then ``newsflow site-rules HOST`` lists
what was learned).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from bench import benchdata, dedup, extraction  # noqa: E402
from bench.throughput import sentence_pool  # noqa: E402

DEFAULT_DATABASE = "nf_bench_sites"
START = datetime(2024, 5, 6, 5, 0, tzinfo=UTC)

# ---------------------------------------------------------------------------
# Site chrome: recurring lines inside the article container
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Chrome:
    kind: str  # what it is, for the per-kind table
    where: str  # "start", "middle" or "end" of the body
    text: str  # may hold {author}, {date}: filled per page
    share: float = 1.0  # fraction of the site's pages that carry it
    box: bool = False  # rendered in its own <div> rather than as a body paragraph
    in_truth: bool = False  # article text that merely recurs (not chrome)


# Authors' boxes: one text per author, so each is learned only once that
# author has enough pages on the site.
BIO = "{author} is {site}'s {beat} correspondent. {author_first} has reported on {beat} since {year}."
BEATS = ("economics", "politics", "climate", "technology", "health", "courts")

SITE_CHROME: dict[str, tuple[Chrome, ...]] = {
    "globalwire": (
        Chrome("partnership note", "start",
               "This story is published as part of Global Wire Service's partnership with the Pacific Press Alliance."),
        Chrome("messaging follow", "middle",
               "Join our WhatsApp channel to get the day's top stories from Global Wire Service.", 0.8),
        Chrome("author box", "end", BIO, 0.9, box=True),
        Chrome("licence", "end",
               "Global Wire Service content may not be republished without a licence. "
               "For licensing enquiries, contact syndication@globalwire.example."),
    ),
    "ledger": (
        Chrome("subscription pitch", "start",
               "You are reading a free article from The Morning Ledger. Subscribers get every story, "
               "the archive and the weekly print edition from £1 a week.", 0.9),
        Chrome("support pitch", "middle",
               "Support independent journalism: The Morning Ledger is owned by its readers, not by a billionaire. "
               "Become a member today."),
        Chrome("dated origin line", "end",
               "This article first appeared in The Morning Ledger's print edition of {date}.", 0.7),
        Chrome("correction policy", "end",
               "Correction policy: The Morning Ledger corrects significant errors as soon as possible. "
               "Write to readers.editor@morningledger.example."),
    ),
    "harbortimes": (
        Chrome("messaging follow", "start", "Follow Harbor City Times on Telegram for breaking local news."),
        Chrome("donation pitch", "middle",
               "Harbor City Times is a nonprofit newsroom. Your donation keeps local reporting free "
               "for everyone in the bay area.", 0.85),
        Chrome("origin line", "end",
               "This article first appeared on Bay Area Local Wire and is republished here under a "
               "Creative Commons licence.", 0.6),
        Chrome("author box", "end", BIO, box=True),
    ),
    "gazette": (
        Chrome("editor's note", "start",
               "Editor's note: This story is part of the Northfield Gazette's year-long series on housing, "
               "supported by the Alder Community Foundation. The foundation has no say over our coverage.", 0.7),
        Chrome("tip line", "middle",
               "Got a story the Gazette should look into? Email newsdesk@northfieldgazette.example "
               "or message us on Signal at 555-0134."),
        Chrome("standing background", "middle",
               "The Northfield council has been without a permanent leader since the former mayor resigned "
               "in January amid an inquiry into planning decisions.", 0.35, in_truth=True),
        Chrome("disclaimer", "end",
               "The views expressed by people quoted in this article are their own and do not necessarily "
               "reflect those of the Northfield Gazette."),
    ),
    "metroreview": (
        Chrome("messaging follow", "start",
               "Metro Daily Review is on WhatsApp and Telegram. Follow us for the stories that matter to you.", 0.8),
        Chrome("sponsor break", "middle", "The story continues below this message from our partners."),
        Chrome("investment disclaimer", "end",
               "This content is for general information only and does not constitute financial or investment "
               "advice. Always consult a qualified adviser."),
        Chrome("author box", "end", BIO, 0.9, box=True),
    ),
    "chronicle": (
        Chrome("standards note", "start",
               "Valley Chronicle journalists verify every claim in this story. Read how we work on our "
               "standards page."),
        Chrome("support pitch", "middle",
               "Support independent journalism. The Valley Chronicle has no paywall because we believe "
               "everyone deserves reliable local news. If you can, give what you can today.", 0.9),
        Chrome("standing correction", "end",
               "Clarification: An earlier version of a story in this series misstated the date of the county "
               "hearing. It has been corrected.", 0.6),
        Chrome("imprint", "end", "Valley Chronicle, 118 Mill Road, Riverton. Registered charity no. 1187642."),
    ),
    "observer": (
        Chrome("live note", "start", "This article is updated as the story develops. Refresh for the latest.", 0.6),
        Chrome("newsletter pitch", "middle",
               "Want the Eastbank Observer in your inbox every weekday morning? It is free, and you can leave "
               "whenever you like.", 0.8),
        Chrome("author box", "end", BIO, box=True),
    ),
    "sentinel": (
        Chrome("subscription pitch", "start",
               "Lakeside Sentinel subscribers make this reporting possible. Thank you for reading.", 0.9),
        Chrome("messaging follow", "end", "Stay informed: follow the Lakeside Sentinel on Telegram and WhatsApp."),
        Chrome("disclaimer", "end",
               "Lakeside Sentinel is an independent newspaper and is not affiliated with any political party."),
    ),
}


@dataclass
class SitePage:
    site: str  # the host, as pipeline.dedup.site_of gives it
    outlet: str
    url: str
    headline: str
    published: datetime
    html: bytes
    truth: str  # the article paragraphs, one a line
    chrome: list[tuple[str, str]] = field(default_factory=list)  # (kind, text) of the chrome it carries


def site_host(outlet: dedup.Outlet) -> str:
    return f"{outlet.slug}.example"


def fill(chrome: Chrome, outlet: dedup.Outlet, author: str, beat: str, year: int, published: datetime) -> str:
    return chrome.text.format(
        author=author, author_first=author.split()[0], site=outlet.name, beat=beat, year=year,
        date=f"{published:%A} {published.day} {published:%B %Y}",
    )


def build_pages(n_sites: int, n_articles: int, seed: int, pool: list[str] | None = None,
                data: str | Path | None = None) -> list[SitePage]:
    """``n_sites`` × ``n_articles`` pages, in no particular order; sentences
    from ``pool``, else from the extraction benchmark of the data directory ``data``."""
    rng = random.Random(seed)
    pool = pool if pool is not None else sentence_pool(benchdata.extraction_benchmark(data))
    pages: list[SitePage] = []
    for outlet in dedup.OUTLETS[:n_sites]:
        host = site_host(outlet)
        chrome = SITE_CHROME[outlet.slug]
        authors = rng.sample(dedup.PEOPLE, 3)
        beats = dict(zip(authors, rng.sample(BEATS, 3)))
        years = {author: rng.randint(2004, 2019) for author in authors}
        # One article every 1–5 hours: a site's feed over a few days.
        published = START + timedelta(minutes=rng.randint(0, 120))
        headlines: list[tuple[str, str]] = []
        for number in range(n_articles):
            published += timedelta(minutes=rng.randint(60, 300))
            paragraphs = [" ".join(rng.sample(pool, rng.randint(2, 4))) for _ in range(rng.randint(5, 10))]
            headline = dedup.make_headline(paragraphs)
            url = f"https://www.{host}/{published:%Y/%m/%d}/{dedup.slugify(headline)}-{number}"
            author = rng.choice(authors)
            carried = [c for c in chrome if rng.random() < c.share]
            texts = {id(c): fill(c, outlet, author, beats[author], years[author], published) for c in carried}
            start = [texts[id(c)] for c in carried if c.where == "start"]
            end = [texts[id(c)] for c in carried if c.where == "end"]
            body = list(paragraphs)
            for c in (c for c in carried if c.where == "middle"):
                body.insert(rng.randint(2, len(body) - 1), texts[id(c)])
            body = start + body + end
            related = rng.sample(headlines, min(3, len(headlines)))
            page = dedup.render_page(outlet, url, headline, body, published, related, f"https://www.{host}")
            for c in carried:
                if c.box:  # an author box: its own block inside the article, as CMSs render it
                    escaped = html.escape(texts[id(c)])
                    name = html.escape(author)
                    page = page.replace(
                        f"<p>{escaped}</p>",
                        f'<div class="{outlet.prefix}-contributor"><p><strong>{name}</strong>'
                        f"{escaped[len(name):]}</p></div>",
                    )
            truth_lines = [line for line in body if line in paragraphs or
                           any(c.in_truth and texts[id(c)] == line for c in carried)]
            pages.append(SitePage(
                site=host, outlet=outlet.name, url=url, headline=headline, published=published,
                html=page.encode("utf-8"), truth="\n".join(truth_lines),
                chrome=[(c.kind, texts[id(c)]) for c in carried if not c.in_truth],
            ))
            headlines.append((url, headline))
    return pages


# ---------------------------------------------------------------------------
# An outlet whose articles share whole paragraphs (issue 20)
# ---------------------------------------------------------------------------

# Distinct articles that share whole paragraphs with other articles of the
# outlet (a series' background, an explainer box, a developing story's
# context): every page has six paragraphs of 25+ words, most of them drawn
# from the outlet's stock of shared paragraphs, some pages all of them.  Each
# shared paragraph is on about one page in six: often enough for a page
# count, far from the share of pages that chrome has.
REUSE_OUTLET = dedup.Outlet("bayherald", "Bay Herald", "bh", 2, True, ("News", "Harbour", "Business", "Sport"))
REUSE_CHROME = (
    Chrome("subscription pitch", "start", "Bay Herald subscribers make this reporting possible. Thank you for reading.",
           0.9),
    Chrome("disclaimer", "end", "The Bay Herald is an independent newspaper and is not affiliated with any political "
           "party, company or trade union in the bay area or beyond it."),
)
REUSE_PARAGRAPHS = 6  # per page, each of 25 words or more
REUSE_STOCK = 24  # shared paragraphs the outlet draws on
REUSE_FRESH = (0, 1, 2, 2, 3)  # a page's paragraphs of its own (the rest from the stock)


def build_reuse_pages(n_articles: int, seed: int, pool: list[str] | None = None,
                      data: str | Path | None = None) -> list[SitePage]:
    """``n_articles`` pages of REUSE_OUTLET, one every 20 to 90 minutes."""
    rng = random.Random(seed)
    pool = pool if pool is not None else sentence_pool(benchdata.extraction_benchmark(data))
    host = site_host(REUSE_OUTLET)

    def paragraph() -> str:
        words: list[str] = []
        while len(words) < 25:
            words += rng.choice(pool).split()
        return " ".join(words)

    stock = [paragraph() for _ in range(REUSE_STOCK)]
    pages: list[SitePage] = []
    published = START
    for number in range(n_articles):
        published += timedelta(minutes=rng.randint(20, 90))
        fresh = rng.choice(REUSE_FRESH)
        paragraphs = [paragraph() for _ in range(fresh)] + rng.sample(stock, REUSE_PARAGRAPHS - fresh)
        carried_chrome = [c for c in REUSE_CHROME if rng.random() < c.share]
        body = ([c.text for c in carried_chrome if c.where == "start"] + paragraphs
                + [c.text for c in carried_chrome if c.where == "end"])
        headline = dedup.make_headline(paragraphs)
        url = f"https://www.{host}/{published:%Y/%m/%d}/{dedup.slugify(headline)}-{number}"
        page = dedup.render_page(REUSE_OUTLET, url, headline, body, published, [], f"https://www.{host}")
        pages.append(SitePage(
            site=host, outlet=REUSE_OUTLET.name, url=url, headline=headline, published=published,
            html=page.encode("utf-8"), truth="\n".join(paragraphs),
            chrome=[(c.kind, c.text) for c in carried_chrome],
        ))
    return pages


def text_kept(pages: list[SitePage], texts: list[str]) -> dict:
    """Articles lost (rejected or empty) and the share of the article text
    kept: the mean and the least of the pages' recall."""
    recalls = [extraction.score(page.truth, text)[1] or 0.0 for page, text in zip(pages, texts)]
    return {"pages": len(pages), "lost": sum(not text.strip() for text in texts),
            "kept_mean": sum(recalls) / len(recalls) if recalls else None, "kept_min": min(recalls, default=None)}


# ---------------------------------------------------------------------------
# The configurations
# ---------------------------------------------------------------------------


def run_plain(pages: list[SitePage], name: str) -> list[str]:
    """One of bench/extraction.py's extractors over the pages (an error scores as empty)."""
    extractor = extraction.get_extractor(name)
    texts = []
    for page in pages:
        try:
            texts.append(extractor(page.html, page.url))
        except Exception:  # as bench/extraction.py: an error is an empty prediction
            texts.append("")
    return texts


def run_feed_order(engine, pages: list[SitePage], min_pages: int, run_minutes: int) -> tuple[list[str], list[bool]]:
    """newsflow as production runs it: pages in publication order, one batch
    per ingest run, each batch cleaned with the lines learned from what the
    earlier runs stored (flows/ingest.py ``store_batch``).  Returns each
    page's stored text (empty when rejected) and whether its site had
    ``min_pages`` pages stored before its run."""
    from pipeline.fetch import FetchResult
    from pipeline.process import ProcessError, prepare_articles
    from pipeline.records import Entry
    from pipeline.store import articles as article_store, site_lines as site_line_store

    order = sorted(range(len(pages)), key=lambda i: (pages[i].published, pages[i].url))
    runs: dict[int, list[int]] = {}
    for index in order:
        minutes = (pages[index].published - START).total_seconds() / 60
        runs.setdefault(int(minutes // run_minutes), []).append(index)
    texts = [""] * len(pages)
    steady = [False] * len(pages)
    stored_per_site: dict[str, int] = {}
    for run in sorted(runs):
        batch = runs[run]
        with engine.connect() as conn:
            learned = site_line_store.learned_site_lines(conn, {pages[i].site for i in batch}, min_pages)
        jobs = [
            (Entry(url=pages[i].url, link=pages[i].url, feed_id=None, title=pages[i].headline,
                   published_at=pages[i].published, feed_title=pages[i].outlet),
             FetchResult(url=pages[i].url, final_url=pages[i].url, status=200, content=pages[i].html,
                         content_type="text/html; charset=utf-8"))
            for i in batch
        ]
        results = prepare_articles(jobs, learned)
        records = []
        for i, result in zip(batch, results, strict=True):
            steady[i] = stored_per_site.get(pages[i].site, 0) >= min_pages
            if not isinstance(result, ProcessError):
                texts[i] = result.text
                records.append(result)
        with engine.begin() as conn:
            article_store.store_articles(conn, records)
        for i in batch:
            stored_per_site[pages[i].site] = stored_per_site.get(pages[i].site, 0) + 1
    return texts, steady


def learned_lines(engine, min_pages: int) -> dict[str, list[str]]:
    """Each site's learned lines at the end: support at or above the threshold."""
    from sqlalchemy import select

    from pipeline.clean import SITE_RULES_VERSION
    from pipeline.store.site_lines import site_boilerplate

    with engine.connect() as conn:
        rows = conn.execute(
            select(site_boilerplate.c.host, site_boilerplate.c.text)
            .where(site_boilerplate.c.rules_version == SITE_RULES_VERSION,
                   site_boilerplate.c.support >= min_pages)
            .order_by(site_boilerplate.c.host, site_boilerplate.c.text)
        )
        out: dict[str, list[str]] = {}
        for host, text in rows:
            out.setdefault(host, []).append(text)
    return out


# ---------------------------------------------------------------------------
# Scoring and reporting
# ---------------------------------------------------------------------------


def summarise(pages: list[SitePage], texts: list[str], chosen: list[bool] | None = None) -> dict:
    pairs = [extraction.score(page.truth, text) for page, text, keep
             in zip(pages, texts, chosen or [True] * len(pages)) if keep]
    f1, precision, recall = extraction.aggregate(pairs)
    return {"f1": f1, "precision": precision, "recall": recall, "pages": len(pairs)}


def chrome_kept(pages: list[SitePage], texts: list[str], chosen: list[bool]) -> dict[tuple[str, str], list[int]]:
    """(site, kind) -> [pages carrying it, pages whose output still holds it]."""
    from pipeline.clean import fold_line

    counts: dict[tuple[str, str], list[int]] = {}
    for page, text, keep in zip(pages, texts, chosen):
        if not keep:
            continue
        folded = fold_line(text)
        for kind, line in page.chrome:
            entry = counts.setdefault((page.site, kind), [0, 0])
            entry[0] += 1
            entry[1] += fold_line(line) in folded
    return counts


def run_bench(engine, pages: list[SitePage], min_pages: int, run_minutes: int = 30,
              reuse: list[SitePage] | None = None) -> dict:
    """Every configuration on the same pages; ``engine`` is an empty, migrated
    database.  ``reuse``: REUSE_OUTLET's pages, run in feed order on their own."""
    from pipeline.clean import fold_line

    started = time.perf_counter()
    trafilatura = run_plain(pages, "trafilatura-precision")
    plain = run_plain(pages, "newsflow")
    learned_texts, steady = run_feed_order(engine, pages, min_pages, run_minutes)
    learned = learned_lines(engine, min_pages)
    truth_lines = {(page.site, fold_line(line)) for page in pages for line in page.truth.splitlines()}
    kept_by_trafilatura = chrome_kept(pages, trafilatura, steady)
    kept_without_rules = chrome_kept(pages, plain, steady)
    kept_with_learned = chrome_kept(pages, learned_texts, steady)
    everyone = [True] * len(pages)
    configurations = [
        ("trafilatura, favor_precision=True, include_comments=False", trafilatura, everyone),
        ("newsflow, no learned rules", plain, everyone),
        ("newsflow, learned rules in feed order", learned_texts, everyone),
        (f"newsflow, learned rules, steady state (site past {min_pages} pages)", learned_texts, steady),
        ("  (b) on the same steady-state pages", plain, steady),
    ]
    reused = {}
    if reuse:
        reuse_texts, _ = run_feed_order(engine, reuse, min_pages, run_minutes)
        reused = {"outlet": REUSE_OUTLET.name, **summarise(reuse, reuse_texts), **text_kept(reuse, reuse_texts),
                  "chrome_kept": sum(fold_line(line) in fold_line(text) for page, text in zip(reuse, reuse_texts)
                                     for _, line in page.chrome),
                  "chrome": sum(len(page.chrome) for page in reuse)}
    return {
        "reuse": reused,
        "pages": len(pages),
        "sites": len({page.site for page in pages}),
        "min_pages": min_pages,
        "run_minutes": run_minutes,
        "seconds": round(time.perf_counter() - started, 1),
        "configurations": [{"name": name, **summarise(pages, texts, chosen)}
                           for name, texts, chosen in configurations],
        "learned": {
            host: {"lines": len(lines),
                   "article_text": sum((host, fold_line(line)) in truth_lines for line in lines),
                   "texts": lines}
            for host, lines in sorted(learned.items())
        },
        "chrome_kept": [
            {"site": site, "kind": kind, "pages": carried, "trafilatura": kept_by_trafilatura[(site, kind)][1],
             "no_rules": kept, "learned": kept_with_learned[(site, kind)][1]}
            for (site, kind), (carried, kept) in sorted(kept_without_rules.items())
        ],
    }


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def print_report(results: dict, out=sys.stdout) -> None:
    print(f"{results['pages']} pages on {results['sites']} sites; threshold {results['min_pages']} pages, "
          f"an ingest run every {results['run_minutes']} min; {results['seconds']} s", file=out)
    print(f"\n{'configuration':<68} {'P':>6} {'R':>6} {'F1':>6} {'pages':>6}", file=out)
    for row in results["configurations"]:
        print(f"{row['name']:<68} {fmt(row['precision']):>6} {fmt(row['recall']):>6} {fmt(row['f1']):>6} "
              f"{row['pages']:>6}", file=out)
    if reused := results.get("reuse"):
        print(f"\nan outlet whose articles share whole paragraphs ({reused['outlet']}: {REUSE_PARAGRAPHS} paragraphs "
              f"of 25+ words a page, {REUSE_PARAGRAPHS - max(REUSE_FRESH)} to {REUSE_PARAGRAPHS} of them from "
              f"{REUSE_STOCK} shared ones), learned rules in feed order:", file=out)
        print(f"  pages {reused['pages']}, articles lost {reused['lost']}, article text kept: mean "
              f"{fmt(reused['kept_mean'])}, least {fmt(reused['kept_min'])}; P {fmt(reused['precision'])} "
              f"R {fmt(reused['recall'])} F1 {fmt(reused['f1'])}; its chrome left in "
              f"{reused['chrome_kept']} of {reused['chrome']}", file=out)
    print(f"\n{'site':<24} {'learned lines':>13} {'of them article text':>21}", file=out)
    for host, info in results["learned"].items():
        print(f"{host:<24} {info['lines']:>13} {info['article_text']:>21}", file=out)
    print("\nchrome still in the text on steady-state pages (pages kept / pages carrying it):", file=out)
    print(f"{'site':<24} {'kind':<24} {'trafilatura':>12} {'no rules':>10} {'learned':>10}", file=out)
    for row in results["chrome_kept"]:
        pages = row["pages"]
        print(f"{row['site']:<24} {row['kind']:<24} {row['trafilatura']:>5}/{pages:<6} "
              f"{row['no_rules']:>4}/{pages:<5} {row['learned']:>4}/{pages:<5}", file=out)


def server_of(url: str) -> str:
    """postgresql://user@host:port of a database URL (its database name dropped)."""
    head, _, rest = url.partition("://")
    authority = rest.split("/", 1)[0].split("?", 1)[0]
    return f"{head}://{authority}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=6, help=f"outlets (at most {len(dedup.OUTLETS)})")
    parser.add_argument("--articles", type=int, default=40, help="articles per site")
    parser.add_argument("--min-pages", type=int, help="learning threshold (default: settings.site_rule_min_pages)")
    parser.add_argument("--run-minutes", type=int, default=30, help="minutes between ingest runs (default 30)")
    parser.add_argument("--reuse-articles", type=int, default=40,
                        help="articles of the outlet whose articles share paragraphs (0: leave it out)")
    parser.add_argument("--seed", type=int, default=4)
    parser.add_argument("--database-url", help="a PostgreSQL server URL (default $DATABASE_URL)")
    parser.add_argument("--database-name", default=DEFAULT_DATABASE,
                        help=f"the database to drop, create and use on that server (default {DEFAULT_DATABASE})")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    benchdata.add_option(parser)
    args = parser.parse_args(argv)
    if skipped := benchdata.extraction_benchmark_missing(args.data):
        print(skipped)
        return 0
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        print("error: give --database-url or set DATABASE_URL (a PostgreSQL server)", file=sys.stderr)
        return 2
    if not 1 <= args.sites <= len(dedup.OUTLETS):
        parser.error(f"--sites must be between 1 and {len(dedup.OUTLETS)}")

    from sqlalchemy import create_engine

    from pipeline.config import get_settings
    from pipeline.store.engine import sqlalchemy_url
    from pipeline.store.migrate import upgrade

    min_pages = args.min_pages or get_settings().site_rule_min_pages
    pages = build_pages(args.sites, args.articles, args.seed, data=args.data)
    with dedup.fresh_database(server_of(url), args.database_name, args.keep) as bench_url:
        engine = create_engine(sqlalchemy_url(bench_url))
        try:
            upgrade(engine)
            reuse = build_reuse_pages(args.reuse_articles, args.seed, data=args.data) if args.reuse_articles else None
            results = run_bench(engine, pages, min_pages, args.run_minutes, reuse)
        finally:
            engine.dispose()
    results["seed"] = args.seed
    print_report(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
