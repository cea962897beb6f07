"""Writers storing copies of one wire story at the same moment end with the
stories one writer gives: two ingest processes; three writers over one
syndicated corpus, split by host as shards split it; writers that merge and
join the same stories.  Writers lock only what their decisions read
(pipeline/store/articles.py), so writers of unrelated articles do not wait."""

from __future__ import annotations

import random
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from pipeline.store import articles as article_store
from tests.conftest import SEED_PAGE, child_ingest_env, truncate_all
from tests.test_store import record

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


def _outlet(folder: Path, name: str, page_html: str, copies: int) -> None:
    """An outlet with one feed listing ``copies`` pages carrying the story."""
    (folder / name).mkdir()
    items = []
    for number in range(copies):
        (folder / name / f"story-{number}.html").write_text(page_html.replace(
            "gleam-china-must-influence-north-korea.html", f"{name}-story-{number}.html"), encoding="utf-8")
        items.append(f"<item><title>Story {number}</title><link>/{name}/story-{number}.html</link>"
                     f"<pubDate>Thu, 18 Mar 2021 1{number}:00:00 GMT</pubDate></item>")
    (folder / name / "rss.xml").write_text(
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}</title><link>/</link>"
        f"<description>x</description>{''.join(items)}</channel></rss>", encoding="utf-8")
    (folder / f"{name}.yaml").write_text(f"feeds:\n  - url: /{name}/rss.xml\n    name: {name}\n")


def test_two_processes_loading_copies_at_once_make_one_story(clean_db, prefect_server, tmp_path):
    from flows.demo import serve_directory

    html = SEED_PAGE.read_text(encoding="utf-8")
    # Outlet B's copy is near, not exact: last paragraph cut, an ad line added.
    near = html.replace(
        "<p>Former US President Donald Trump had started talks with ruler Kim Jong-un about North Korea’s "
        "nuclear program and also met him in person. Little progress has been made on this point.</p>", ""
    ).replace("<p>North Korea had previously", "<p>Advertisement</p><p>North Korea had previously")
    assert near != html and "Advertisement" in near
    _outlet(tmp_path, "outlet-a", html, copies=3)
    _outlet(tmp_path, "outlet-b", near, copies=3)
    with serve_directory(tmp_path) as base_url:
        for name in ("outlet-a", "outlet-b"):
            listing = tmp_path / f"{name}.yaml"
            listing.write_text(listing.read_text().replace("url: /", f"url: {base_url}/"))
        env = child_ingest_env(base_url, tmp_path / "data")
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(tmp_path / f"{name}.yaml"), "--json"],
                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for name in ("outlet-a", "outlet-b")
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
    for run, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
    with clean_db.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.canonical_url, a.story_id, a.match_kind, s.article_count"
            " FROM articles a JOIN stories s ON s.id = a.story_id ORDER BY a.canonical_url"
        )).all()
        story_count = conn.execute(text("SELECT count(*) FROM stories")).scalar()
    assert len(rows) == 6
    assert story_count == 1
    assert {row.article_count for row in rows} == {6}
    kinds = sorted(row.match_kind for row in rows)
    # One article started the story; its exact copies and the near ones joined.
    assert kinds.count("new") == 1 and "near" in kinds and "exact" in kinds


# ---------------------------------------------------------------- writers in threads

ORIGINALS, OUTLETS, SEED = 24, 6, 21
BATCH = 5  # small batches: many transactions, so the writers' decisions interleave
WRITERS = 3
# A writer that waits longer than this for another fails the test with
# "lock timeout" instead of hanging: every wait here has its limit.
LOCK_TIMEOUT = "30s"


@pytest.fixture(scope="module")
def syndicated(tmp_path_factory):
    """The syndicated corpus's articles, prepared as the flow prepares them."""
    from tests.syndication import prepared_syndication

    _, records = prepared_syndication(
        tmp_path_factory.mktemp("syndicated"), originals=ORIGINALS, outlets=OUTLETS, seed=SEED)
    return records


def _store_at_once(engine, shares: list[list], batch: int = BATCH) -> list[str]:
    """Each share stored by a writer of its own (a thread with its own
    connection), in batches of ``batch``, one transaction each, as the flow
    stores them (store_articles_isolated); before each batch the writers meet
    at a barrier, so their transactions overlap.  Returns the URLs refused."""
    rounds = max(-(-len(share) // batch) for share in shares)
    barrier = threading.Barrier(len(shares), timeout=120)
    errors: list[BaseException] = []
    refused_urls: list[str] = []

    def write(share: list) -> None:
        try:
            for number in range(rounds):
                part = share[number * batch:(number + 1) * batch]
                barrier.wait()
                if part:
                    with engine.begin() as conn:
                        conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                        _, refused = article_store.store_articles_isolated(conn, part)
                        refused_urls.extend(item.canonical_url for item, _ in refused)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)
            barrier.abort()

    writers = [threading.Thread(target=write, args=(share,)) for share in shares]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=300)
    assert not any(writer.is_alive() for writer in writers), "a writer did not finish"
    if errors:
        raise errors[0]
    return refused_urls


def _stories(engine) -> list[tuple[tuple[str, ...], str]]:
    """Every story as (its members' URLs, its canonical article's URL), after
    checking what must hold whoever stored it: counts equal members, one
    canonical article each and it is the story's, no empty story, no lock left."""
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT s.article_count, c.canonical_url AS canonical,"
            " array_agg(a.canonical_url ORDER BY a.canonical_url) AS members,"
            " array_agg(a.canonical_url) FILTER (WHERE a.is_canonical) AS flagged"
            " FROM stories s JOIN articles a ON a.story_id = s.id"
            " LEFT JOIN articles c ON c.id = s.canonical_article_id"
            " GROUP BY s.id, s.article_count, c.canonical_url"
        )).all()
        empty = conn.execute(text(
            "SELECT count(*) FROM stories s WHERE NOT EXISTS (SELECT 1 FROM articles a WHERE a.story_id = s.id)"
        )).scalar_one()
        homeless = conn.execute(text("SELECT count(*) FROM articles WHERE story_id IS NULL")).scalar_one()
        locks_left = conn.execute(text("SELECT count(*) FROM story_locks")).scalar_one()
    for row in rows:
        assert row.article_count == len(row.members), row
        assert row.flagged == [row.canonical], row
    assert (empty, homeless, locks_left) == (0, 0, 0)
    return sorted((tuple(row.members), row.canonical) for row in rows)


@pytest.fixture(scope="module")
def one_writer(engine, syndicated):
    """The stories one writer gives the corpus, batch after batch."""
    truncate_all(engine)
    assert _store_at_once(engine, [list(syndicated)]) == []
    stories = _stories(engine)
    truncate_all(engine)
    return stories


def _split(records: list, split: str) -> list[list]:
    rng = random.Random(split)
    if split.startswith("hosts"):
        # As shards split feeds: each host's articles go to one writer, so
        # every wire story's copies are stored by several writers at once.
        hosts = sorted({record.site for record in records})
        rng.shuffle(hosts)
        writer_of = {host: number % WRITERS for number, host in enumerate(hosts)}
        shares = [[record for record in records if writer_of[record.site] == number] for number in range(WRITERS)]
    else:
        # Any article to any writer, and one in four to a second writer too:
        # the same URL stored by two writers at the same moment.
        shares = [[] for _ in range(WRITERS)]
        for record in records:
            first = rng.randrange(WRITERS)
            shares[first].append(record)
            if rng.random() < 0.25:
                shares[(first + rng.randrange(1, WRITERS)) % WRITERS].append(record)
    for share in shares:
        rng.shuffle(share)
    return shares


@pytest.mark.parametrize("split", ["hosts-1", "hosts-2", "hosts-3", "articles-repeated"])
def test_three_writers_storing_one_syndicated_corpus_at_once_give_the_stories_one_writer_gives(
    engine, syndicated, one_writer, split
):
    shares = _split(syndicated, split)
    assert all(shares) and sum(map(len, shares)) >= len(syndicated)
    # The corpus carries stories across outlets, so across writers.
    assert any(len(members) > 1 for members, _ in one_writer)
    truncate_all(engine)
    assert _store_at_once(engine, shares) == []
    assert _stories(engine) == one_writer
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar_one() == len(syndicated)


def _texts() -> dict[str, str]:
    report = [f"Line {n} tells part {n} of the long report on the port authority budget." for n in range(140)]
    wire = " ".join(f"Sentence number {n} of the wire story about the harbour strike." for n in range(60))
    return {
        "first-half": " ".join(report[:80]), "second-half": " ".join(report[60:]), "whole": " ".join(report),
        "wire": wire, "wire-cut": wire.rsplit(" Sentence number 59", 1)[0] + " Advertisement",
    }


@pytest.mark.parametrize("round_", range(6))
def test_writers_with_overlapping_copies_and_merges_do_not_deadlock(engine, round_):
    """Three writers, each a batch with copies of the same stories in another
    order, one of them the article that proves two stored stories one; in
    odd rounds each batch also holds a row PostgreSQL refuses, so the writers
    store their articles one at a time (store_articles_isolated).  Any
    deadlock would end a writer with an error, any wait past the lock timeout too."""
    from dataclasses import replace
    from datetime import UTC, datetime, timedelta

    texts = _texts()
    at = datetime(2021, 3, 18, 9, tzinfo=UTC)
    truncate_all(engine)
    with engine.begin() as conn:
        article_store.store_articles(conn, [record("https://a.example/first-half", texts["first-half"], at)])
    with engine.begin() as conn:
        article_store.store_articles(conn, [record("https://b.example/second-half", texts["second-half"], at + timedelta(hours=1))])
    names = ["whole", "first-half", "second-half", "wire", "wire-cut"]
    rng = random.Random(round_)
    shares = []
    for writer in range(WRITERS):
        rng.shuffle(names)
        shares.append([record(f"https://w{writer}.example/{name}", texts[name]) for name in names])
        if round_ % 2:
            refused = record(f"https://w{writer}.example/refused", f"A title with a NUL, round {round_}. " * 20)
            shares[-1].insert(rng.randrange(len(names)), replace(refused, title="A \x00 in a title"))
    refused_urls = _store_at_once(engine, shares, batch=len(shares[0]))
    assert sorted(refused_urls) == ([f"https://w{writer}.example/refused" for writer in range(WRITERS)]
                                    if round_ % 2 else [])
    stories = _stories(engine)
    assert len(stories) == 2
    report, wire = sorted(stories, key=lambda story: len(story[0]), reverse=True)
    assert len(report[0]) == 2 + 3 * 3 and len(wire[0]) == 3 * 2
    # The earliest publication leads; the writers' articles are undated.
    assert report[1] == "https://a.example/first-half"


def assert_store_waits(engine, article) -> None:
    """Storing ``article`` now waits for a lock another open transaction
    holds (its 1 s lock timeout ends the wait)."""
    with pytest.raises(OperationalError) as waited, engine.begin() as conn:
        conn.execute(text("SET LOCAL lock_timeout = '1s'"))
        article_store.store_articles(conn, [article])
    assert waited.value.orig.sqlstate == "55P03"  # lock_not_available


def test_a_writer_of_unrelated_articles_does_not_wait_for_an_open_batch(clean_db):
    """Writer A has stored an article and not committed yet.  A writer of an
    unrelated article goes on at once; a writer of A's near copy waits for
    A (here: its lock timeout ends the wait) and, once A commits, joins A's story."""
    texts = _texts()
    original = record("https://a.example/wire", texts["wire"])
    copy = record("https://b.example/wire-cut", texts["wire-cut"])
    unrelated = record("https://c.example/report", texts["whole"])
    with clean_db.connect() as conn_a:
        with conn_a.begin():
            article_store.store_articles(conn_a, [original])
            with clean_db.begin() as conn_b:
                conn_b.execute(text("SET LOCAL lock_timeout = '20s'"))
                assert len(article_store.store_articles(conn_b, [unrelated]).inserted) == 1
            assert_store_waits(clean_db, copy)
    with clean_db.begin() as conn_c:
        assert article_store.store_articles(conn_c, [copy]).near_copies == 1
    stories = _stories(clean_db)
    assert sorted(members for members, _ in stories) == [
        ("https://a.example/wire", "https://b.example/wire-cut"), ("https://c.example/report",)]


def test_a_story_merged_away_while_a_writer_waits_for_it_is_locked_anew(clean_db):
    """Writer W has read that its near copy's match lies in story 2 and waits
    for story 2's lock; the writer holding it merges story 2 into story 1
    (an article proved them one) and commits.  W must not join the deleted
    story: it reads again, locks story 1 and joins it."""
    import time

    from pipeline.store.articles import merge_stories, rechoose_canonical, refresh_story_counts

    texts = _texts()
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [record("https://a.example/report", texts["whole"])])
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [record("https://b.example/wire", texts["wire"])])
    copy = record("https://c.example/wire-cut", texts["wire-cut"])
    waiting: list[int] = []
    errors: list[BaseException] = []

    def write() -> None:
        try:
            with clean_db.begin() as conn:
                conn.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
                waiting.append(conn.execute(text("SELECT pg_backend_pid()")).scalar_one())
                article_store.store_articles(conn, [copy])
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            errors.append(exc)

    with clean_db.connect() as merger, merger.begin():
        # As a writer whose article bridges both stories holds them: in id order.
        assert merger.execute(text("SELECT id FROM stories ORDER BY id FOR UPDATE")).scalars().all() == [1, 2]
        writer = threading.Thread(target=write)
        writer.start()
        for _ in range(600):  # until W waits for a lock (at most 30 s)
            if waiting and merger.execute(text(
                "SELECT wait_event_type = 'Lock' FROM pg_stat_activity WHERE pid = :pid"), {"pid": waiting[0]}
            ).scalar():
                break
            time.sleep(0.05)
        else:
            pytest.fail(f"the writer never waited for the stories' lock ({errors})")
        merge_stories(merger, [1, 2])
        refresh_story_counts(merger, [1])
        rechoose_canonical(merger, [1])
    writer.join(timeout=60)
    assert not writer.is_alive() and errors == []
    stories = _stories(clean_db)
    assert stories == [(("https://a.example/report", "https://b.example/wire", "https://c.example/wire-cut"),
                        "https://a.example/report")]


def test_writers_joining_one_story_through_different_bands_wait_for_each_other(clean_db):
    """Two halves of a stored report each join its story, and share no band
    key with each other: only the lock on the story they join makes the
    second wait for the first, so that the story's count and canonical
    article are taken over all three members, not over each writer's view."""
    report = [f"Line {n} tells part {n} of the long report on the port authority budget." for n in range(140)]
    with clean_db.begin() as conn:
        article_store.store_articles(conn, [record("https://a.example/report", " ".join(report))])
    first = record("https://b.example/first", " ".join(report[:70]))
    second = record("https://c.example/second", " ".join(report[70:]))
    assert not set(first.fingerprint.bands) & set(second.fingerprint.bands)
    with clean_db.connect() as conn_a:
        with conn_a.begin():
            assert article_store.store_articles(conn_a, [first]).near_copies == 1
            assert_store_waits(clean_db, second)
    with clean_db.begin() as conn_b:
        assert article_store.store_articles(conn_b, [second]).near_copies == 1
    assert _stories(clean_db) == [(("https://a.example/report", "https://b.example/first",
                                    "https://c.example/second"), "https://a.example/report")]
