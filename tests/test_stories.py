"""Story decisions on fixed candidates, without a database."""

from __future__ import annotations

import gzip
from dataclasses import replace
from datetime import UTC, datetime

from pipeline.dedup import content_hash
from pipeline.neardup import fingerprint
from pipeline.records import ArticleRecord
from pipeline.stories import StoryAssigner, decision_keys

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


def test_decision_keys_are_each_url_text_and_band_key_once_in_ascending_order():
    first, copy = record("https://a.example/1", WIRE * 3), record("https://b.example/1", WIRE * 3)
    keys = decision_keys([first, copy, first])
    assert keys == sorted(set(keys))
    assert all(-2**63 <= key < 2**63 for key in keys)
    # Two URLs, one text, the text's distinct band keys.
    assert len(keys) == 2 + 1 + len(set(first.fingerprint.bands))
    assert set(first.fingerprint.bands) <= set(keys)


def test_articles_whose_decisions_could_see_each_other_share_a_decision_key():
    wire = record("https://a.example/1", WIRE * 3)
    near = record("https://b.example/1", WIRE * 3 + "Advertisement")
    same_url = record("https://a.example/1", OTHER * 3)
    same_text_no_words = record("https://c.example/1", "")
    also_no_words = record("https://d.example/1", "")
    other = record("https://e.example/1", OTHER * 3)
    # A near copy is a candidate only through a band key in common (the
    # store's CANDIDATE_SQL): that key is a decision key of both.
    shared_bands = set(wire.fingerprint.bands) & set(near.fingerprint.bands)
    assert shared_bands and shared_bands <= set(decision_keys([wire])) & set(decision_keys([near]))
    assert set(decision_keys([wire])) & set(decision_keys([same_url]))
    assert not same_text_no_words.fingerprint.bands
    assert set(decision_keys([same_text_no_words])) & set(decision_keys([also_no_words]))
    assert not set(decision_keys([wire])) & set(decision_keys([other]))


def test_a_url_and_a_text_never_share_a_key_by_being_equal_strings():
    article = replace(record("https://a.example/1", WIRE), content_hash="https://a.example/1")
    keys = decision_keys([article])
    assert len(keys) == 2 + len(set(article.fingerprint.bands))
