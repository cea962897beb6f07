"""Unit tests for pipeline.vote: trafilatura's paragraphs, checked by other extractors."""

from __future__ import annotations

from pipeline.vote import CANDIDATES, DEFAULT_VOTE, settled, vote

TEASER = "Watch: the mayor's interview in full, and more videos from this week's council meeting"
FIRST = "The harbour board voted on Tuesday to approve a new ferry terminal on the north quay."
EMBED = "— The Harbour Board (@HarbourBoard) May 7, 2024"
MIDDLE = "Fishing crews had objected that the new berths would take the space they use to land their catch."
LAST = "The board expects work to start in the autumn and the terminal to open in the summer of 2026."
SIDEBAR = "Council leader says the seafront car park will stay free for residents through the summer."
GAP = "Residents of Quay Street won a promise that construction traffic will use the old railway cutting."


def test_paragraphs_no_other_extractor_keeps_are_dropped_at_the_edges_only():
    base = [TEASER, FIRST, EMBED, MIDDLE, LAST, SIDEBAR]
    other = [FIRST, MIDDLE, LAST]
    ballot = vote(base, [other], min_votes=2)
    # The teaser above and the sidebar below go; the embedded post between
    # two kept paragraphs stays, as the article's own.
    assert ballot.paragraphs == (FIRST, EMBED, MIDDLE, LAST)
    assert ballot.removed == (TEASER, SIDEBAR)


def test_a_paragraph_is_kept_when_the_other_extractor_cuts_it_differently():
    # Another extractor joins two paragraphs into one line and drops a link's
    # words: each base paragraph is still mostly in its output.
    other = [FIRST + " " + MIDDLE.replace("to land their catch", ""), LAST]
    assert vote([FIRST, MIDDLE, LAST], [other], min_votes=2).paragraphs == (FIRST, MIDDLE, LAST)


def test_the_vote_never_joins_or_splits_a_paragraph():
    other = [FIRST + " " + MIDDLE + " " + LAST]
    ballot = vote([FIRST, MIDDLE, LAST], [other], min_votes=2)
    assert ballot.paragraphs == (FIRST, MIDDLE, LAST)


def test_an_extractor_that_found_another_part_of_the_page_abstains():
    # Its output shares nothing with trafilatura's: it is not evidence against
    # trafilatura's paragraphs, and with too few voters the base stands.
    comments = ["Great article, thanks!", "I have lived on the quay for forty years and nobody asked us."]
    ballot = vote([TEASER, FIRST, LAST], [comments], min_votes=2)
    assert ballot.voters == 1
    assert ballot.paragraphs == (TEASER, FIRST, LAST)


def test_additions_need_enough_other_extractors_and_go_inside_the_body_only():
    base = [FIRST, MIDDLE, LAST]
    readability = [FIRST, GAP, MIDDLE, LAST, SIDEBAR]
    resiliparse = [FIRST, GAP, MIDDLE, LAST, SIDEBAR]
    ballot = vote(base, [readability, resiliparse], min_votes=2)
    # The gap both others fill is taken, in its place; the sidebar after the
    # body's end is not, though both keep it.
    assert ballot.paragraphs == (FIRST, GAP, MIDDLE, LAST)
    assert ballot.added == (GAP,)
    # One other extractor is not enough to add a paragraph.
    assert vote(base, [readability, [FIRST, MIDDLE, LAST]], min_votes=2).paragraphs == (FIRST, MIDDLE, LAST)
    assert vote(base, [readability, resiliparse], min_votes=2, additions=False).paragraphs == tuple(base)


def test_the_default_is_a_candidate_the_bench_chooses_among():
    assert DEFAULT_VOTE in CANDIDATES


def test_a_body_that_opens_and_closes_with_prose_is_settled_without_a_vote():
    prose = ("The harbour board voted on Tuesday to approve a new ferry terminal on the north quay, "
             "after two years of talks with the fishing crews who land their catch there.")
    assert settled([prose, MIDDLE, prose])
    # A short line at either edge is what the vote is for: a teaser, a headline of another story.
    assert not settled([TEASER, prose, prose])
    assert not settled([prose, prose, SIDEBAR[:40]])
    assert not settled([])
