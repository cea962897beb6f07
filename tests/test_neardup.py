"""Unit tests for pipeline.neardup: MinHash fingerprints, band keys, verification.

The texts are the real article bodies of the extraction benchmark's ground
truth (extraction-benchmark/ in the benchmark data directory, see
bench/benchdata.py; the tests that need them skip without it), and copies of
them edited the way syndicating outlets edit wire stories."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bench import benchdata
from pipeline import neardup
from pipeline.neardup import (
    BANDS, C_THRESHOLD, J_THRESHOLD, MIN_CONTAINMENT_SHINGLES, NUM_PERM, Fingerprint, containment,
    fingerprint, jaccard, same_story,
)

ROOT = Path(__file__).resolve().parents[1]
GROUND_TRUTH = benchdata.extraction_benchmark() / "ground-truth.json"


@cache
def bodies() -> tuple[str, ...]:
    """Every ground-truth article body, in key order (88 distinct articles);
    the calling test skips when the benchmark data is not there."""
    if skipped := benchdata.extraction_benchmark_missing():
        pytest.skip(skipped)
    truth = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
    return tuple(truth[key]["articleBody"] for key in sorted(truth))


@cache
def fingerprints() -> tuple[Fingerprint, ...]:
    return tuple(fingerprint(body) for body in bodies())


# ------------------------------------------------------------------ variants
#
# What outlets do to a wire story.  Each takes a body and returns the copy.

def _lines(text: str) -> list[str]:
    return [line for line in text.split("\n") if line.strip()]


def cut_last_paragraph(text: str) -> str:
    return "\n\n".join(_lines(text)[:-1])


def insert_advertisement(text: str) -> str:
    lines = _lines(text)
    middle = len(lines) // 2
    return "\n\n".join(lines[:middle] + ["Advertisement"] + lines[middle:])


def straighten_quotes(text: str) -> str:
    return text.translate(str.maketrans({"“": '"', "”": '"', "‘": "'", "’": "'"}))


def add_dpa_credit(text: str) -> str:
    return text + " (dpa)"


def add_reuters_credit(text: str) -> str:
    return text + "\n\nReporting by Jane Smith in London; Editing by John Doe"


def add_dateline(text: str) -> str:
    return "LONDON, Nov 20 (Reuters) - " + text


_SENTENCE_END = re.compile(r"(?<=[.!?])[ \t]+|\n+")
_SUBSTITUTES = ["officials", "stated", "reportedly", "however", "earlier", "several", "announced"]


def reword_tenth_of_sentences(text: str) -> str:
    """Every tenth sentence (at least one) rewritten: every third word
    replaced, which leaves none of that sentence's 5-word shingles intact."""
    sentences = _SENTENCE_END.split(text)
    for index in range(min(4, len(sentences) - 1), len(sentences), 10):
        words = sentences[index].split(" ")
        sentences[index] = " ".join(
            _SUBSTITUTES[position % len(_SUBSTITUTES)] if position % 3 == 1 else word
            for position, word in enumerate(words)
        )
    return "\n".join(sentences)


def all_edits(text: str) -> str:
    """A copy with every edit above at once."""
    for edit in (cut_last_paragraph, insert_advertisement, straighten_quotes, add_reuters_credit,
                 add_dateline, reword_tenth_of_sentences):
        text = edit(text)
    return text


VARIANTS = {
    edit.__name__: edit
    for edit in (cut_last_paragraph, insert_advertisement, straighten_quotes, add_dpa_credit,
                 add_reuters_credit, add_dateline, reword_tenth_of_sentences, all_edits)
}


def editable_bodies() -> list[int]:
    """Bodies a copy can be cut from: at least three paragraphs and 150 words
    (on a two-paragraph, 90-word body, the "last paragraph" is half the story)."""
    return [
        index for index, body in enumerate(bodies())
        if len(_lines(body)) >= 3 and len(body.split()) >= 150
    ]


def test_the_benchmark_has_the_bodies_these_tests_need():
    assert len(bodies()) == 88
    assert len(set(bodies())) == 88
    assert len(editable_bodies()) >= 80


@pytest.mark.parametrize("edit", VARIANTS.values(), ids=list(VARIANTS))
def test_an_edited_copy_is_the_same_story_and_shares_a_band(edit):
    missed = []
    for index in editable_bodies():
        original = fingerprints()[index]
        copy_text = edit(bodies()[index])
        assert copy_text != bodies()[index] or edit is straighten_quotes
        copy = fingerprint(copy_text)
        verdict, score, reason = same_story(original, copy)
        if not verdict or not set(original.bands) & set(copy.bands):
            missed.append((index, score, reason))
        assert same_story(copy, original) == (verdict, score, reason)
    assert missed == []


@pytest.mark.parametrize("edit", [cut_last_paragraph, insert_advertisement, add_reuters_credit,
                                  reword_tenth_of_sentences, all_edits])
def test_edits_change_the_shingles_but_not_beyond_the_thresholds(edit):
    # The copies are not trivially equal: each edit costs shingles (all but
    # the rare body whose last line is repeated above it, or so).
    scores = [jaccard(fingerprints()[index], fingerprint(edit(bodies()[index])))
              for index in editable_bodies()]
    assert sum(score < 1.0 for score in scores) >= 0.95 * len(scores)
    assert min(scores) >= J_THRESHOLD - 0.05


def test_straightened_quotes_give_the_identical_fingerprint():
    index = next(i for i, body in enumerate(bodies()) if "’" in body and "“" in body)
    assert straighten_quotes(bodies()[index]) != bodies()[index]
    assert fingerprint(straighten_quotes(bodies()[index])) == fingerprints()[index]


def test_different_articles_are_never_the_same_story_and_rarely_candidates():
    pairs = list(itertools.combinations(fingerprints(), 2))
    assert len(pairs) == 88 * 87 // 2
    matched = [(a, b) for a, b in pairs if same_story(a, b)[0]]
    assert matched == []
    candidates = sum(1 for a, b in pairs if set(a.bands) & set(b.bands))
    # P(candidate) at J = 0.07, the most similar distinct pair, is 0.0015.
    assert candidates / len(pairs) <= 0.002
    assert max(jaccard(a, b) for a, b in pairs) < 0.2
    assert max(containment(a, b) for a, b in pairs) < C_THRESHOLD / 2


def test_two_reports_of_the_same_event_by_different_outlets_are_not_copies():
    # The benchmark has two independent reports of one court case.
    reports = [i for i, body in enumerate(bodies()) if "New York man pleaded guilty" in body[:80]]
    assert len(reports) == 2
    first, second = (fingerprints()[i] for i in reports)
    assert same_story(first, second)[0] is False


# -------------------------------------------------------------- containment


def _long_body(minimum_words: int) -> str:
    return next(body for body in bodies() if len(body.split()) >= minimum_words and len(_lines(body)) >= 8)


def test_a_copy_cut_to_its_first_half_matches_on_containment():
    body = _long_body(600)
    lines = _lines(body)
    half = "\n\n".join(lines[: len(lines) // 2])
    original, copy = fingerprint(body), fingerprint(half)
    verdict, score, reason = same_story(original, copy)
    assert jaccard(original, copy) < J_THRESHOLD
    assert (verdict, reason) == (True, "containment")
    assert score == containment(original, copy) >= C_THRESHOLD


def test_a_two_sentence_teaser_inside_a_long_article_is_not_a_copy():
    body = _long_body(600)
    teaser = " ".join(_SENTENCE_END.split(body)[:2])
    article, short = fingerprint(body), fingerprint(teaser)
    assert short.shingle_count < MIN_CONTAINMENT_SHINGLES
    assert containment(article, short) == 1.0
    assert same_story(article, short)[0] is False


def test_a_wire_brief_inside_a_much_longer_article_is_not_a_copy():
    # Long enough to judge, but under a quarter of the longer text.
    brief = next(body for body in bodies() if 150 <= len(body.split()) <= 250)
    longer = _long_body(1500)
    combined = longer + "\n\n" + brief
    assert containment(fingerprint(brief), fingerprint(combined)) == 1.0
    assert same_story(fingerprint(brief), fingerprint(combined))[0] is False


# ---------------------------------------------------------- estimate vs exact


def estimated_jaccard(a: Fingerprint, b: Fingerprint) -> float:
    """MinHash estimate of the Jaccard similarity (share of equal values), which
    the LSH bands rest on; 0.0 when either text has no shingles.  Standard
    error ~ sqrt(J(1-J)/256)."""
    if not a.shingle_count or not b.shingle_count:
        return 0.0
    values = [np.frombuffer(fp.minhash, dtype="<u4") for fp in (a, b)]
    return float(np.count_nonzero(values[0] == values[1])) / NUM_PERM


def test_the_minhash_estimate_is_close_to_the_exact_jaccard():
    index = editable_bodies()[0]
    errors = []
    for edit in VARIANTS.values():
        for other in editable_bodies()[:20]:
            a, b = fingerprints()[other], fingerprint(edit(bodies()[index]))
            errors.append(abs(estimated_jaccard(a, b) - jaccard(a, b)))
    # The standard error is at most sqrt(0.25 / 256) = 0.031.
    assert max(errors) <= 0.13
    assert sum(errors) / len(errors) <= 0.03


def test_exact_values_on_small_texts():
    a = fingerprint("one two three four five six")  # 2 shingles
    b = fingerprint("one two three four five seven")  # 1 shared
    assert (a.shingle_count, b.shingle_count) == (2, 2)
    assert jaccard(a, b) == pytest.approx(1 / 3)
    assert containment(a, b) == pytest.approx(1 / 2)
    assert fingerprint("One, two; THREE four five six!") == a


# ----------------------------------------------------------- stored forms


def test_stored_sizes_and_round_trip():
    fp = fingerprints()[editable_bodies()[0]]
    assert len(fp.minhash) == NUM_PERM * 4
    assert len(fp.shingles) == fp.shingle_count * 4
    assert len(fp.bands) == BANDS
    assert all(-(2**63) <= key < 2**63 for key in fp.bands)
    assert len(set(fp.bands)) == BANDS
    assert Fingerprint.from_stored(fp.minhash, fp.shingles) == fp
    assert Fingerprint.from_stored(memoryview(fp.minhash), memoryview(fp.shingles)) == fp
    with pytest.raises(ValueError):
        Fingerprint.from_stored(fp.minhash, fp.shingles, version=neardup.FINGERPRINT_VERSION + 1)
    with pytest.raises(ValueError):
        Fingerprint.from_stored(fp.minhash[:-4], fp.shingles)


def test_band_keys_are_the_same_in_another_process():
    text = bodies()[editable_bodies()[0]]
    script = (
        "import json, sys; from pipeline.neardup import fingerprint; "
        "fp = fingerprint(sys.stdin.read()); print(json.dumps([fp.bands, fp.minhash.hex()]))"
    )
    for seed in ("0", "12345"):
        result = subprocess.run(
            [sys.executable, "-c", script], input=text, capture_output=True, text=True, check=True,
            cwd=ROOT, env={**os.environ, "PYTHONHASHSEED": seed},
        )
        bands, minhash = json.loads(result.stdout)
        assert bands == fingerprints()[editable_bodies()[0]].bands
        assert minhash == fingerprints()[editable_bodies()[0]].minhash.hex()


def test_band_keys_are_pinned_for_this_fingerprint_version():
    # Stored rows depend on these exact values (and so on datasketch's
    # permutations and xxh32).  If this fails after an upgrade, bump
    # FINGERPRINT_VERSION and recompute the stored fingerprints.
    fp = fingerprint("The quick brown fox jumps over the lazy dog near the river bank.")
    assert neardup.FINGERPRINT_VERSION == 1
    assert fp.shingle_count == 9
    assert fp.bands[:3] == PINNED_BANDS
    assert fp.minhash[:8].hex() == PINNED_MINHASH


PINNED_BANDS = [-8529057020121472049, -5820267561461936810, -8153563041600383773]
PINNED_MINHASH = "4c750c201046c105"


# ------------------------------------------------------------ hostile input


# Any code point, lone surrogates and controls included, and word-rich text.
_ANY_TEXT = st.one_of(
    st.text(st.characters(exclude_categories=())),
    st.lists(st.sampled_from(["the", "Minister", "said", "’", "—", "\n\n", "2024", "ﬁre", "ß"]),
             max_size=60).map(" ".join),
)


@settings(max_examples=300, deadline=None)
@given(text=_ANY_TEXT)
def test_fingerprint_never_raises_and_has_a_fixed_shape(text):
    fp = fingerprint(text)
    assert len(fp.minhash) == NUM_PERM * 4
    assert fp.shingle_count == len(fp.shingles) // 4
    # Every text with a word has BANDS keys; a text without any has none, so
    # that wordless bodies are never each other's candidates.
    assert len(fp.bands) == (BANDS if fp.shingle_count else 0)
    assert Fingerprint.from_stored(fp.minhash, fp.shingles) == fp
    if fp.shingle_count:
        assert same_story(fp, fp)[:2] == (True, 1.0)
        assert estimated_jaccard(fp, fp) == 1.0
    else:
        assert same_story(fp, fp)[0] is False


def test_empty_and_wordless_texts():
    for text in ("", "   \n\t", "— … ! ?"):
        fp = fingerprint(text)
        assert (fp.shingle_count, fp.bands, fp.shingles) == (0, [], b"")
        assert same_story(fp, fingerprints()[0]) == (False, 0.0, "jaccard")
        assert estimated_jaccard(fp, fp) == 0.0
