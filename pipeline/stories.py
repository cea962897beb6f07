"""Which story an article joins: candidates in, decisions out, no SQL.

The store reads, for a batch, the stored articles each of its articles may
copy (same content hash; sharing MinHash bands) and hands them here.  The
batch is placed in publication order, so an article may also copy one placed
before it in the same batch, exactly as if they were stored one at a time:

- the same normalised text as an article stored or placed before: that story
  (exact);
- else verified near copies (same_story: Jaccard or containment over the
  shingles) among its best candidates: the best one's story, and when the
  matches lie in several stories, those stories are one (near);
- else a story of its own (new).

New stories are keyed -1, -2, … until the store creates them; merges are
recorded so that every key resolves to the story it ended in, the oldest
(stored before batch-made, then the lowest id)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from pipeline.neardup import Fingerprint, same_story
from pipeline.records import ArticleRecord

# Candidates sharing at least one band, most bands first; a few are enough.
MAX_CANDIDATES = 20

_KEY_PERSON = b"newsflow-decide"  # blake2b personalisation, <= 16 bytes


def _text_key(kind: bytes, value: str) -> int:
    digest = hashlib.blake2b(kind + b"\0" + value.encode("utf-8"), digest_size=8, person=_KEY_PERSON).digest()
    return int.from_bytes(digest, "little", signed=True)


def decision_keys(records: Iterable[ArticleRecord]) -> list[int]:
    """What the story decisions of these articles read, as signed 64-bit
    keys, each once, in ascending order: each canonical URL (is it stored?),
    each content hash (its exact copies) and each band key (its near-copy
    candidates: the stored articles sharing one of its band keys).

    Two articles whose decisions could see each other share a key: the same
    URL, the same text, or a band key in common, which is the only way one
    becomes the other's near-copy candidate.  Band keys are used as they are
    (already 64-bit hashes, their band and fingerprint version mixed in);
    URLs and texts are hashed with their kind, so a URL never shares a key
    with an equal text.  A collision between different values only makes
    two writers wait for each other, never decide differently."""
    keys: set[int] = set()
    for record in records:
        keys.add(_text_key(b"url", record.canonical_url))
        keys.add(_text_key(b"text", record.content_hash))
        if record.fingerprint is not None:
            keys.update(record.fingerprint.bands)
    return sorted(keys)

# A stored near-copy candidate: (bands shared, article id, story id, its
# fingerprint as stored: (minhash, shingles, version)), rebuilt only when compared.
StoredCandidate = tuple[int, int, int, tuple[bytes, bytes, int]]


@dataclass(frozen=True)
class Placement:
    """Where one article goes: ``story`` is a stored story's id (> 0) or the
    key of a story this batch starts (< 0; see StoryAssigner.resolve)."""

    story: int
    kind: str  # "new", "exact" or "near"
    matched_article_id: int | None
    score: float | None


class StoryAssigner:
    """Story decisions for one batch, in memory.

    ``stored_exact``: content hash -> (article id, story id) of the first
    stored article with that text.  ``stored_near``: position in the batch ->
    its stored near-copy candidates, best first."""

    def __init__(
        self, stored_exact: Mapping[str, tuple[int, int]], stored_near: Mapping[int, Sequence[StoredCandidate]]
    ) -> None:
        self.stored_exact = dict(stored_exact)
        self.stored_near = stored_near
        self.new_keys: list[int] = []
        self.merged_into: dict[int, int] = {}
        # Groups of stored stories proved to be one, the one kept first: for
        # the store to merge, in this order.
        self.stored_merges: list[list[int]] = []
        self.batch_exact: dict[str, tuple[int, int]] = {}
        self.batch_bands: dict[int, list[int]] = {}
        self.batch_articles: dict[int, tuple[int, Fingerprint]] = {}

    def place(self, position: int, article_id: int, record: ArticleRecord) -> Placement:
        """The story of the batch's article at ``position`` (id ``article_id``),
        among stored articles and those of the batch placed before it."""
        story, kind, matched, score = self._find(position, record)
        if story is None:
            self.new_keys.append(-(len(self.new_keys) + 1))
            story = self.new_keys[-1]
        self.batch_exact.setdefault(record.content_hash, (article_id, story))
        if record.fingerprint is not None:
            self.batch_articles[article_id] = (story, record.fingerprint)
            for key in set(record.fingerprint.bands):
                self.batch_bands.setdefault(key, []).append(article_id)
        return Placement(story, kind, matched, score)

    def new_stories(self) -> list[int]:
        """The keys of the batch's new stories that were not merged into another."""
        return [key for key in self.new_keys if key not in self.merged_into]

    def resolve(self, story: int) -> int:
        while story in self.merged_into:
            story = self.merged_into[story]
        return story

    def _find(self, position: int, record: ArticleRecord) -> tuple[int | None, str, int | None, float | None]:
        exact = min(
            (found for found in (self.stored_exact.get(record.content_hash),
                                 self.batch_exact.get(record.content_hash)) if found),
            default=None,
        )
        if exact is not None:
            return self.resolve(exact[1]), "exact", exact[0], 1.0
        fingerprint = record.fingerprint
        if fingerprint is None or not fingerprint.bands:
            return None, "new", None, None
        # The same ranking as one look-up over everything stored so far:
        # most shared band keys first, then the lowest id, cut to the limit.
        shared: dict[int, int] = {}
        for key in set(fingerprint.bands):
            for other in self.batch_bands.get(key, ()):
                shared[other] = shared.get(other, 0) + 1
        candidates = [
            (count, other, self.batch_articles[other][0], self.batch_articles[other][1])
            for other, count in shared.items()
        ] + list(self.stored_near.get(position, []))
        candidates.sort(key=lambda candidate: (-candidate[0], candidate[1]))
        matches: list[tuple[int, int, float]] = []
        for _, candidate_id, story, stored in candidates[:MAX_CANDIDATES]:
            version = stored.version if isinstance(stored, Fingerprint) else stored[2]
            if version != fingerprint.version:
                continue
            other = stored if isinstance(stored, Fingerprint) else Fingerprint.from_stored(*stored)
            same, score, _ = same_story(fingerprint, other)
            if same:
                matches.append((candidate_id, self.resolve(story), score))
        if not matches:
            return None, "new", None, None
        best_id, best_story, best_score = max(matches, key=lambda match: (match[2], -match[0]))
        story_keys = {story for _, story, _ in matches}
        if len(story_keys) > 1:
            best_story = self._merge(story_keys)
        return best_story, "near", best_id, round(best_score, 4)

    def _merge(self, story_keys: Iterable[int]) -> int:
        """The oldest story keeps its id (stored ones are older than the
        batch's); returns it."""
        keys = sorted({self.resolve(key) for key in story_keys}, key=lambda key: (key < 0, abs(key)))
        keep, others = keys[0], keys[1:]
        stored = [key for key in keys if key > 0]
        if len(stored) > 1:
            self.stored_merges.append(stored)
        for key in others:
            self.merged_into[key] = keep
        return keep
