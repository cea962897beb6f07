"""A small syndication corpus generated at test time: made-up wire stories
(seeded, self-contained: no data files needed) carried by several outlets,
each copy varied the way bench/dedup.py varies them, rendered as realistic
pages and RSS feeds by bench/dedup.py's own markup functions."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench.dedup import OUTLETS, Corpus, Original, build_corpus
from pipeline.fetch import FetchResult
from pipeline.process import ProcessError, prepare_articles
from pipeline.records import ArticleRecord, Entry

PEOPLE = (
    "Anna Keller", "David Morgan", "Priya Raman", "Tom Becker", "Lena Fischer", "Marco Rossi",
    "Sarah Lin", "Jonas Weber", "Kate Holmes", "Omar Haddad", "Elena Petrova", "James Okafor",
    "Yuki Tanaka", "Carlos Mendes", "Fatima Zahra", "Henrik Larsen", "Grace Mwangi", "Luis Ortega",
)
PLACES = (
    "Berlin", "London", "Washington", "Paris", "Tokyo", "Brussels", "Sydney", "Nairobi", "Madrid",
    "Toronto", "Seoul", "Lisbon", "Warsaw", "Cairo", "Mumbai", "Oslo", "Vienna", "Lagos",
)
ORGS = (
    "the European Commission", "the World Bank", "the United Nations", "Siemens", "Toyota",
    "the International Monetary Fund", "Microsoft", "the Red Cross", "Deutsche Bahn", "Airbus",
    "the World Health Organization", "NATO", "Volkswagen", "the Bank of England",
)
SUBJECTS = (
    "officials", "negotiators", "analysts", "residents", "lawmakers", "investors", "engineers",
    "farmers", "doctors", "teachers", "unions", "regulators", "shipping firms", "city planners",
    "scientists", "diplomats", "retailers", "airlines", "exporters", "local councils",
)
VERBS = (
    "warned about", "pushed back against", "welcomed", "questioned", "called for", "rejected",
    "prepared for", "reported on", "debated", "signed off on", "delayed", "criticised",
    "defended", "published figures on", "raised concerns over", "agreed on",
)
OBJECTS = (
    "a new tax on imported steel", "rising rents in the capital", "the harbour expansion",
    "plans for a high-speed rail link", "a shortage of nurses", "record wheat prices",
    "the draft climate law", "cuts to public transport", "a ban on single-use plastics",
    "the merger of two regional banks", "higher interest rates", "a cyber attack on hospitals",
    "the delayed pension reform", "water restrictions during the drought", "a strike at the ports",
    "the cost of the new stadium", "emergency funds for flooded towns", "tariffs on electric cars",
    "a recall of faulty airbags", "the rollout of rural broadband", "subsidies for solar panels",
    "the closure of coal mines", "vaccine supplies for the winter", "a dispute over fishing rights",
)
CLAUSES = (
    "according to a statement released on {day}", "after talks that lasted late into the night",
    "despite strong opposition from the industry", "in a move that surprised many observers",
    "while protesters gathered outside the building", "ahead of a key vote next month",
    "citing figures from the past {n} years", "as costs climbed by {n} percent",
    "in an interview with local radio", "following weeks of uncertainty",
    "with {n} million euros set aside for the first phase", "before travelling on to {place}",
)
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
QUOTES = (
    "“We cannot wait any longer,” {person} said.",
    "“This is a decision for the next decade, not the next election,” said {person}.",
    "{person}, who has followed the issue for years, said the outcome was “far from certain”.",
    "“Nobody here expected it to move this fast,” {person} told reporters in {place}.",
)


def _sentence(rng: random.Random) -> str:
    clause = rng.choice(CLAUSES).format(day=rng.choice(DAYS), n=rng.randint(2, 90), place=rng.choice(PLACES))
    pattern = rng.randrange(5)
    if pattern == 0:
        return rng.choice(QUOTES).format(person=rng.choice(PEOPLE), place=rng.choice(PLACES))
    if pattern == 1:
        return (f"{rng.choice(PEOPLE)} of {rng.choice(ORGS)} {rng.choice(VERBS)} "
                f"{rng.choice(OBJECTS)} in {rng.choice(PLACES)}, {clause}.")
    if pattern == 2:
        subject = rng.choice(SUBJECTS)
        return f"{subject[:1].upper()}{subject[1:]} in {rng.choice(PLACES)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}, {clause}."
    if pattern == 3:
        return (f"On {rng.choice(DAYS)}, {rng.choice(ORGS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
                f"and {rng.choice(VERBS)} {rng.choice(OBJECTS)}.")
    return (f"The {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}, {clause}, "
            f"while {rng.choice(SUBJECTS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)}.")


def synthetic_originals(count: int, seed: int) -> list[Original]:
    """``count`` made-up wire stories of 5-7 paragraphs (3 sentences each),
    two hours apart: different enough that no two are near copies."""
    rng = random.Random(seed)
    start = datetime(2024, 5, 6, 5, 0, tzinfo=UTC)
    originals = []
    for number in range(count):
        lead = (f"{rng.choice(PEOPLE)} of {rng.choice(ORGS)} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
                f"in {rng.choice(PLACES)} on {rng.choice(DAYS)}, {number + 2} officials said.")
        paragraphs = [lead + " " + " ".join(_sentence(rng) for _ in range(2))]
        paragraphs += [" ".join(_sentence(rng) for _ in range(3)) for _ in range(rng.randint(4, 6))]
        headline = " ".join(lead.split()[:9]).rstrip(",.")
        originals.append(Original(f"story-{number:03d}", headline, paragraphs, start + timedelta(hours=2 * number)))
    return originals


def build_syndication_corpus(root: Path, base_url: str, *, originals: int, outlets: int, seed: int) -> Corpus:
    """Pages and one RSS feed per outlet under ``root``, all served from
    ``base_url``: every story on the agency outlet, 2-5 copies elsewhere."""
    return build_corpus(root, [base_url] * outlets, synthetic_originals(originals, seed), 0, outlets, seed)


def prepared_syndication(root: Path, *, originals: int, outlets: int, seed: int, group: int = 0,
                         ) -> tuple[Corpus, list[ArticleRecord]]:
    """The corpus's pages as the flow prepares them (decoded, extracted,
    cleaned, fingerprinted), read from ``root`` without HTTP: for the store
    alone.  Each outlet is a host of its own, ``http://<outlet>-<group>.example``,
    as outlets are on the web, so writers that each take some hosts (as
    shards do) share no site's counts; ``group`` keeps several corpora's hosts apart."""
    bases = [f"http://{outlet.slug}-{group}.example" for outlet in OUTLETS[:outlets]]
    corpus = build_corpus(root, bases, synthetic_originals(originals, seed), 0, outlets, seed)
    jobs = []
    for page in corpus.pages:
        path = root / page.url.split("/", 3)[3]
        jobs.append((Entry(page.url, page.feed_link, None, published_at=page.published),
                     FetchResult(page.url, page.url, 200, path.read_bytes(), "text/html; charset=utf-8")))
    prepared = prepare_articles(jobs)
    failed = [result for result in prepared if isinstance(result, ProcessError)]
    if failed:
        raise ValueError(f"{len(failed)} of the corpus's pages gave no article: {failed[0]}")
    return corpus, prepared
