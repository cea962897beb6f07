"""A paragraph-level majority vote between extractors, with trafilatura's
paragraphs as the base.

Bevendorff et al. (SIGIR 2023, "An Empirical Comparison of Web Content
Extraction Algorithms") found that a majority vote of good extractors beats
each of them alone.  Extractors cut a page into paragraphs differently (one
splits on <br>, another keeps link text), so a paragraph is not matched by
its exact text: an extractor *keeps* a paragraph when its own output holds
most of the paragraph's word trigrams (``KEEP_COVERAGE``, or the
configuration's ``coverage``).

The vote guards trafilatura's result: it changes it only where other
extractors agree, and only in the ways that are usually right.

- It only ever keeps or drops whole paragraphs, in the base's order, and never
  joins or splits one: the body keeps trafilatura's paragraph structure.
- It drops base paragraphs only at the edges of the body (before the first or
  after the last paragraph that stays), where chrome sits: a teaser above, a
  "Top stories" block below.  Between paragraphs that stay, a paragraph other
  extractors miss is more often an embedded post or a quote that belongs.
- It adds a paragraph the base lacks only inside the body (between two base
  paragraphs), never before or after it.
- A body that opens and closes with prose (``settled``) is kept without a
  vote: its edges are where the vote would drop, and an edge of article prose
  is the one a second opinion keeps.  On the 88 benchmark pages the
  production vote changed none of the 24 such bodies; skipping them saves the second
  extractor's run and the vote (docs/benchmarks.md, extraction cost).
- An extractor whose output shares little with trafilatura's on a page
  (``ABSTAIN_BELOW``) found some other block of the page (a comment thread, a
  sidebar), or nothing: it abstains there, and with too few voters left the
  base stands as trafilatura gave it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from pipeline.text import prose_shaped

# Share of a paragraph's word trigrams that an extractor's output must hold
# for that extractor to count as keeping the paragraph.
KEEP_COVERAGE = 0.5
# An extractor whose output holds less than this share of the base's
# trigrams found a different part of the page: it does not vote there.
ABSTAIN_BELOW = 0.3

_WORDS = re.compile(r"\w+")


def _grams(text: str) -> set[tuple[str, ...]]:
    """The word trigrams of a text (case folded); a text of fewer words is one gram."""
    words = _WORDS.findall(text.casefold())
    if len(words) < 3:
        return {tuple(words)} if words else set()
    return set(zip(words, words[1:], words[2:]))


def _coverage(grams: set[tuple[str, ...]], other: set[tuple[str, ...]]) -> float:
    return len(grams & other) / len(grams) if grams else 0.0


@dataclass(frozen=True)
class VoteConfig:
    """Which extractors vote beside trafilatura (names of
    pipeline.opinions.SECOND_OPINIONS), how many votes keep a paragraph (the
    base counts as one), and whether paragraphs the base lacks may be added.
    bench/extraction.py measures the candidates (``CANDIDATES``)."""

    voters: tuple[str, ...]
    min_votes: int
    additions: bool = True
    coverage: float = KEEP_COVERAGE

    @property
    def name(self) -> str:
        added = "" if self.additions else ", no additions"
        coverage = "" if self.coverage == KEEP_COVERAGE else f", keep at {self.coverage:.0%}"
        return f"trafilatura+{'+'.join(self.voters)}, {self.min_votes} of {1 + len(self.voters)}{added}{coverage}"


# The configuration production runs: the one bench/extraction.py's
# cross-validation chooses on all 88 pages (docs/benchmarks.md).
DEFAULT_VOTE = VoteConfig(voters=("resiliparse",), min_votes=2, coverage=0.3)

# What bench/extraction.py chooses among: every set of the three second
# opinions, every threshold from two votes up, with and without additions;
# and for resiliparse alone, a looser and a stricter test of "keeps".
CANDIDATES = tuple(
    VoteConfig(voters, min_votes, additions)
    for voters in (("resiliparse",), ("readability",), ("justext",), ("resiliparse", "readability"),
                   ("resiliparse", "justext"), ("readability", "justext"), ("resiliparse", "readability", "justext"))
    for min_votes in range(2, len(voters) + 2)
    for additions in (True, False)
    if additions or len(voters) >= min_votes  # with one other voter nothing can be added
) + (VoteConfig(("resiliparse",), 2, coverage=0.3), VoteConfig(("resiliparse",), 2, coverage=0.7))


def settled(base: Sequence[str]) -> bool:
    """Whether trafilatura's body needs no vote: its first and its last
    paragraph are article prose (pipeline.text.prose_shaped)."""
    lines = [line for line in base if line.strip()]
    return bool(lines) and prose_shaped(lines[0]) and prose_shaped(lines[-1])


@dataclass(frozen=True)
class Ballot:
    """The outcome on one page: the body's paragraphs, how many extractors
    voted, and the base paragraphs dropped and the paragraphs added."""

    paragraphs: tuple[str, ...]
    voters: int  # extractors that took part (the base included)
    removed: tuple[str, ...] = ()
    added: tuple[str, ...] = ()


def vote(
    base: Sequence[str], others: Sequence[Sequence[str]], min_votes: int, *, additions: bool = True,
    coverage: float = KEEP_COVERAGE,
) -> Ballot:
    """Keep each base paragraph that ``min_votes`` extractors (the base counts
    as one) keep; add a paragraph the base lacks when ``min_votes`` of the
    other extractors keep it, after the base paragraph that precedes it in
    the extractor that found it (``additions``).

    With fewer than ``min_votes`` extractors taking part, the base is kept as
    it is: no change to trafilatura's output without a second opinion."""
    base = [line for line in base if line.strip()]
    base_grams = [_grams(line) for line in base]
    all_base = set().union(*base_grams) if base_grams else set()
    voting: list[tuple[list[str], list[set], set]] = []
    for paragraphs in others:
        paragraphs = [line for line in paragraphs if line.strip()]
        grams = [_grams(line) for line in paragraphs]
        union = set().union(*grams) if grams else set()
        if paragraphs and _coverage(all_base, union) >= ABSTAIN_BELOW:
            voting.append((paragraphs, grams, union))
    voters = 1 + len(voting)
    if voters < min_votes or not base:
        return Ballot(tuple(base), voters)

    kept = [1 + sum(_coverage(grams, union) >= coverage for _, _, union in voting) >= min_votes
            for grams in base_grams]
    # Drops only at the edges (see the module's docstring).
    first = next((i for i, keep in enumerate(kept) if keep), len(kept))
    last = max((i for i, keep in enumerate(kept) if keep), default=-1)
    kept = [keep or first < i < last for i, keep in enumerate(kept)]
    # Additions, keyed by the index of the base paragraph they follow (-1: before the first).
    inserts: dict[int, list[str]] = {}
    added_grams: set = set()
    # An addition needs min_votes of the *other* extractors.
    if additions and len(voting) >= min_votes:
        where = {gram: i for i, grams in enumerate(base_grams) for gram in grams}
        for paragraphs, grams, _ in voting:
            anchor = -1
            for line, line_grams in zip(paragraphs, grams):
                if _coverage(line_grams, all_base) >= coverage:
                    anchor = max(where[gram] for gram in line_grams if gram in where)
                    continue
                if _coverage(line_grams, added_grams) >= coverage:
                    continue
                support = sum(_coverage(line_grams, union) >= coverage for _, _, union in voting)
                if support >= min_votes and first <= anchor < last:  # inside the body only
                    inserts.setdefault(anchor, []).append(line)
                    added_grams |= line_grams
    paragraphs: list[str] = list(inserts.get(-1, []))
    for i, line in enumerate(base):
        if kept[i]:
            paragraphs.append(line)
        paragraphs += inserts.get(i, [])
    return Ballot(
        tuple(paragraphs), voters,
        removed=tuple(line for line, keep in zip(base, kept) if not keep),
        added=tuple(line for lines in inserts.values() for line in lines),
    )
