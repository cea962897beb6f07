"""Story decisions on fixed candidates, without a database."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime

from pipeline.dedup import content_hash
from pipeline.neardup import fingerprint
from pipeline.records import ArticleRecord
from pipeline.stories import StoryAssigner

WIRE = ("Rescue teams searched the flooded valley through the night as the river kept rising. "
        "Officials said hundreds of homes were under water and two bridges had been closed. ")
OTHER = ("The central bank left its key rate unchanged and said inflation was easing faster "
         "than expected, while warning that wages were still rising quickly. ")


def record(url: str, body: str) -> ArticleRecord:
    return ArticleRecord(
        canonical_url=url, url=url, feed_id=None, title=None, text=body, author=None,
        published_at=datetime(2021, 3, 18, tzinfo=UTC), language="en", site_name=None, dateline=None,
        agency=None, content_hash=content_hash(body), html_gzip=gzip.compress(b""), fingerprint=fingerprint(body),
    )


def stored(article_id: int, story_id: int, body: str):
    """A stored article as the store hands it over: a near-copy candidate."""
    print_ = fingerprint(body)
    return (len(print_.bands), article_id, story_id, (print_.minhash, print_.shingles, print_.version))


def test_an_article_with_no_candidate_starts_a_story():
    assigner = StoryAssigner({}, {})
    placed = assigner.place(0, 101, record("https://a.example/1", WIRE * 3))
    assert (placed.story, placed.kind, placed.matched_article_id) == (-1, "new", None)
    assert assigner.new_stories() == [-1]


def test_the_same_text_stored_before_joins_its_story():
    body = WIRE * 3
    assigner = StoryAssigner({content_hash(body): (7, 3)}, {})
    placed = assigner.place(0, 101, record("https://b.example/1", body))
    assert (placed.story, placed.kind, placed.matched_article_id, placed.score) == (3, "exact", 7, 1.0)
    assert assigner.new_stories() == []


def test_a_copy_later_in_the_batch_joins_the_story_an_earlier_one_started():
    body = WIRE * 3
    assigner = StoryAssigner({}, {})
    first = assigner.place(0, 101, record("https://a.example/1", body))
    second = assigner.place(1, 102, record("https://b.example/1", body + "Advertisement"))
    assert first.kind == "new" and second.kind == "near"
    assert (second.story, second.matched_article_id) == (first.story, 101)
    assert assigner.new_stories() == [-1]


def test_a_near_copy_of_a_stored_article_joins_its_story():
    assigner = StoryAssigner({}, {0: [stored(7, 3, WIRE * 3)]})
    placed = assigner.place(0, 101, record("https://b.example/1", WIRE * 3 + "Copyright dpa."))
    assert (placed.story, placed.kind, placed.matched_article_id) == (3, "near", 7)
    assert placed.score is not None and 0.4 <= placed.score <= 1.0


def test_an_article_that_copies_two_stored_stories_proves_them_one_the_oldest_kept():
    assigner = StoryAssigner({}, {0: [stored(9, 5, WIRE * 3), stored(7, 3, WIRE * 3)]})
    placed = assigner.place(0, 101, record("https://c.example/1", WIRE * 3))
    assert (placed.story, placed.kind) == (3, "near")
    assert assigner.stored_merges == [[3, 5]]
    assert assigner.resolve(5) == 3


def test_a_different_text_sharing_no_story_stays_apart():
    assigner = StoryAssigner({}, {0: [stored(7, 3, OTHER * 3)]})
    placed = assigner.place(0, 101, record("https://b.example/1", WIRE * 3))
    assert placed.kind == "new" and placed.story < 0
