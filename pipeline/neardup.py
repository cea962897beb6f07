"""Near-duplicate fingerprints: MinHash signatures, LSH band keys, verification.

Pure functions over plain data (no database, no I/O).  The store keeps, per
article, the bytes of a `Fingerprint` and one row per band key in
`article_bands(band, hash, article_id)`; a new article's candidates are the
stored articles sharing at least one band key, and `same_story` decides.

What is fingerprinted: the *cleaned body text* only (never page text with
chrome, never titles), folded by `pipeline.dedup.normalize_text` (Unicode
form, case, quotes, dashes, spacing), split into words (`\\w+`, so commas
and full stops do not matter), and cut into overlapping 5-word shingles.

Everything that changes stored values lives in the block of constants below
and is tagged by FINGERPRINT_VERSION, which is mixed into every band key:
after a change, bump the version and recompute, and old band rows simply stop
matching new ones instead of matching wrongly.
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass

import numpy as np
import xxhash

from pipeline.dedup import normalize_text

# ---------------------------------------------------------------- parameters
#
# FINGERPRINT_VERSION  bump whenever anything below, the tokenisation or
#                      normalize_text changes what a text hashes to.
# SHINGLE_WORDS = 5    On the 88 benchmark bodies (3828 distinct pairs) the
#                      highest Jaccard between two different articles is 0.071
#                      with 5-word shingles (0.123 with 3, 0.091 with 4), while
#                      one edited word removes only 5 shingles.
# NUM_PERM = 256, BANDS x ROWS = 64 x 4
#                      The LSH S-curve P(candidate | J) = 1 - (1 - J^4)^64:
#                          J     0.05    0.1     0.2    0.3    0.5    0.7
#                          P   0.0004  0.0064  0.097  0.41   0.984  1.0000
#                      Its steepest point is (1/64)^(1/4) = 0.35.  This is what
#                      datasketch's own helper picks,
#                      datasketch.lsh._optimal_param(0.3, 256, 0.5, 0.5) ==
#                      (64, 4).  128 permutations cannot do both at once: 32x4
#                      gives P(0.5) = 0.87 only, 42x3 gives P(0.2) = 0.29.
#                      On the benchmark bodies, copies with one edit (cut
#                      paragraph, inserted line, credit line, dateline, 10% of
#                      sentences reworded) sit at J >= 0.63 (a miss < 1e-4),
#                      copies with all of them at once at J >= 0.57 for bodies
#                      of 250+ words but down to 0.39 for 150-word ones (a miss
#                      ~ 0.2); two different articles sit at J <= 0.07, where a
#                      false candidate has probability < 0.0015 (and costs one
#                      verification, not a wrong merge).
# SEED                 the permutations (datasketch "affine32" scheme, seeded
#                      numpy RandomState): fixed, so every process agrees.
FINGERPRINT_VERSION = 1
SHINGLE_WORDS = 5
NUM_PERM = 256
BANDS = 64
ROWS = 4
SEED = 1
assert BANDS * ROWS == NUM_PERM

# Verification (`same_story`), on the exact shingle sets.  Measured on the
# 88 benchmark bodies: two different articles reach at most J = 0.071 and
# containment 0.144 (two outlets' own reports of one court case); copies with
# every edit at once (last paragraph cut, "Advertisement" line, straight quotes,
# credit line, dateline, 10% of sentences reworded) reach J >= 0.39 and
# containment >= 0.62 on short bodies (150-250 words), J >= 0.57 on longer ones.
# J_THRESHOLD   0.4: below the S-curve's steep part, so verification rejects
#               nothing that LSH reliably proposes; 5x the highest distinct pair.
# C_THRESHOLD   0.6: share of the shorter text's shingles found in the longer.
#               A copy cut to its first half has ~1.0; 4x the highest distinct pair.
# MIN_CONTAINMENT_SHINGLES / MIN_CONTAINMENT_RATIO
#               Containment alone is a dangerous test: a two-sentence teaser
#               (~40 shingles), a pull quote or a wire brief inside a long
#               article or a round-up of briefs is fully "contained" without
#               being a copy, and a round-up matching two stories would merge
#               them.  So containment only counts when the shorter text has at
#               least 100 shingles (~100 words, four or five sentences: a real
#               article, not a teaser) and at least a quarter of the longer
#               one's shingles.  Below that, only Jaccard can match.  (LSH
#               seldom proposes such pairs anyway: for A inside B, J = |A|/|B|.)
J_THRESHOLD = 0.4
C_THRESHOLD = 0.6
MIN_CONTAINMENT_SHINGLES = 100
MIN_CONTAINMENT_RATIO = 0.25

# Stored byte forms: little-endian unsigned 32-bit integers, whatever the machine.
_U32 = np.dtype("<u4")
_WORD = re.compile(r"\w+")
_BAND_PERSON = b"newsflow-band"  # blake2b personalisation, <= 16 bytes



@functools.cache
def _minhash_class():
    """datasketch, imported on first use: its package imports scipy and redis
    (about a second), which only the processes that fingerprint need — not
    the flow's main process, which compares stored fingerprints."""
    from datasketch import MinHash

    return MinHash


@functools.cache
def _permutations():
    """One set for every MinHash: creating them costs more than hashing an
    average article."""
    return _minhash_class()(num_perm=NUM_PERM, seed=SEED, scheme="affine32").permutations


@dataclass(frozen=True)
class Fingerprint:
    """What the store keeps of an article's body to find and verify copies.

    minhash        NUM_PERM little-endian uint32 values (1 KiB): a bytea.
    shingles       the sorted distinct 32-bit shingle hashes, little-endian
                   uint32 (4 bytes per distinct shingle): a bytea.  They make
                   verification exact (Jaccard and containment) without the text.
    shingle_count  number of distinct shingles (len(shingles) // 4).
    bands          BANDS signed 64-bit band keys (PostgreSQL BIGINT), key i
                   for band i; empty when the text has no words at all (so
                   empty bodies never become each other's candidates).
    version        FINGERPRINT_VERSION of the code that computed it.
    """

    minhash: bytes
    shingles: bytes
    shingle_count: int
    bands: list[int]
    version: int = FINGERPRINT_VERSION

    @classmethod
    def from_stored(cls, minhash: bytes, shingles: bytes, version: int = FINGERPRINT_VERSION) -> Fingerprint:
        """Rebuild a fingerprint from its two stored byte strings."""
        if version != FINGERPRINT_VERSION:
            raise ValueError(f"fingerprint version {version} is not {FINGERPRINT_VERSION}: recompute it")
        minhash, shingles = bytes(minhash), bytes(shingles)
        if len(minhash) != NUM_PERM * 4 or len(shingles) % 4:
            raise ValueError("stored fingerprint has the wrong size")
        count = len(shingles) // 4
        return cls(minhash, shingles, count, band_keys(minhash) if count else [], version)

    def shingle_hashes(self) -> np.ndarray:
        return np.frombuffer(self.shingles, dtype=_U32)


def words(text: str) -> list[str]:
    """The words of a text as fingerprinting sees them."""
    return _WORD.findall(normalize_text(text))


def shingle_hashes(text: str) -> np.ndarray:
    """Sorted distinct 32-bit hashes (xxh32, seed 0) of the text's 5-word shingles.
    A text of fewer than SHINGLE_WORDS words is one shingle; no words, none."""
    tokens = words(text)
    if not tokens:
        return np.empty(0, dtype=_U32)
    k = min(SHINGLE_WORDS, len(tokens))
    hash32 = xxhash.xxh32_intdigest
    hashes = [hash32(" ".join(tokens[i:i + k]).encode("utf-8")) for i in range(len(tokens) - k + 1)]
    return np.unique(np.array(hashes, dtype=_U32))


def band_keys(minhash: bytes) -> list[int]:
    """One signed 64-bit key per band: blake2b-64 of (version, band index,
    the band's ROWS values as little-endian uint32).  Deterministic across
    processes and machines; the band index inside the key keeps equal rows in
    different bands apart, the version keeps old rows from matching new ones."""
    keys = []
    for band in range(BANDS):
        rows = minhash[band * ROWS * 4:(band + 1) * ROWS * 4]
        digest = hashlib.blake2b(
            FINGERPRINT_VERSION.to_bytes(2, "little") + band.to_bytes(2, "little") + rows,
            digest_size=8, person=_BAND_PERSON,
        ).digest()
        keys.append(int.from_bytes(digest, "little", signed=True))
    return keys


def fingerprint(text: str) -> Fingerprint:
    """The fingerprint of a cleaned article body.  Never raises on any str."""
    hashes = shingle_hashes(text or "")
    sketch = _minhash_class()(
        num_perm=NUM_PERM, seed=SEED, scheme="affine32", permutations=_permutations(),
        hashfunc=int,  # the inputs are the xxh32 values already; datasketch pre-mixes them
    )
    if hashes.size:
        sketch.update_batch(hashes.tolist())
    minhash = np.asarray(sketch.hashvalues, dtype=_U32).tobytes()
    return Fingerprint(
        minhash=minhash,
        shingles=hashes.tobytes(),
        shingle_count=int(hashes.size),
        bands=band_keys(minhash) if hashes.size else [],
    )


def _check(a: Fingerprint, b: Fingerprint) -> None:
    if a.version != b.version:
        raise ValueError(f"cannot compare fingerprints of versions {a.version} and {b.version}")


def _intersection(a: Fingerprint, b: Fingerprint) -> int:
    return int(np.intersect1d(a.shingle_hashes(), b.shingle_hashes(), assume_unique=True).size)


def jaccard(a: Fingerprint, b: Fingerprint) -> float:
    """Exact Jaccard similarity of the two shingle sets (32-bit hashes:
    a chance collision between two 1000-shingle texts has odds ~ 1 in 4000
    of adding a single shared shingle)."""
    _check(a, b)
    if not a.shingle_count or not b.shingle_count:
        return 0.0
    shared = _intersection(a, b)
    return shared / (a.shingle_count + b.shingle_count - shared)


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """Share of the smaller shingle set found in the larger one."""
    _check(a, b)
    smaller = min(a.shingle_count, b.shingle_count)
    if not smaller:
        return 0.0
    return _intersection(a, b) / smaller


def same_story(a: Fingerprint, b: Fingerprint) -> tuple[bool, float, str]:
    """Whether two candidate bodies are copies of one story.

    Returns (verdict, score, reason): reason "jaccard" when the exact Jaccard
    reaches J_THRESHOLD (score: that Jaccard), else "containment" when the
    shorter text is long enough to judge and its containment in the longer
    reaches C_THRESHOLD (score: that containment), else (False, the Jaccard,
    "jaccard").  Texts with no words never match."""
    _check(a, b)
    if not a.shingle_count or not b.shingle_count:
        return False, 0.0, "jaccard"
    shared = _intersection(a, b)
    score = shared / (a.shingle_count + b.shingle_count - shared)
    if score >= J_THRESHOLD:
        return True, score, "jaccard"
    smaller, larger = sorted((a.shingle_count, b.shingle_count))
    if smaller >= MIN_CONTAINMENT_SHINGLES and smaller >= MIN_CONTAINMENT_RATIO * larger:
        contained = shared / smaller
        if contained >= C_THRESHOLD:
            return True, contained, "containment"
    return False, score, "jaccard"
