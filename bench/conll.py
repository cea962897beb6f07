"""Read a CoNLL-2003 file into news stories: the text a page would carry, and
the (name, type) pairs a reader would count in it.

The files hold Reuters newswire of 1996 as ``TOKEN LABEL`` lines (IOB2), a
blank line after each sentence, and no document markers (the data folder's
README describes the layout).  Each story is anchored on its dateline, a
short sentence that ends in a date (``BRUSSELS 1996-08-22``; once the place
and the date are two sentences).  Before the dateline: the headline, and
sometimes a byline (a sentence of person-name tokens only).  After it: the
story, up to the next story's headline.

A story is rebuilt as a page is: the headline is its title; the dateline
leads its first paragraph (``BRUSSELS 1996-08-22 - The European Commission
said ...``); each further sentence is a paragraph of its own (wire copy is
mostly one sentence per paragraph).  The byline is left out of both the text
and the gold pairs, as an author field is.  Tokens are joined with spaces,
minus the space before closing punctuation and English clitics.

Gold pairs: PER -> PERSON, ORG -> ORG, LOC -> PLACE; MISC is left out.  A
one-word person name that is the last word of exactly one longer person name
of the same story counts as that longer name (readers count "Clinton" and
"Bill Clinton" as one person).

The data is for research use only: it is read where it lies and never copied
into the repository.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

GOLD_TYPES = {"PER": "PERSON", "ORG": "ORG", "LOC": "PLACE"}
# spaCy's labels, as the same three types; the others (NORP, PRODUCT, EVENT,
# numbers...) have no counterpart in the gold and are left out of the score.
SPACY_TYPES = {"PERSON": "PERSON", "ORG": "ORG", "GPE": "PLACE", "LOC": "PLACE", "FAC": "PLACE"}
TYPES = ("PERSON", "ORG", "PLACE")

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# A dateline is a place and a date: a few tokens, never a sentence of prose.
_DATELINE_MAX_TOKENS = 12
_BYLINE_MAX_TOKENS = 4
_NO_SPACE_BEFORE = {",", ".", ";", ":", "?", "!", "%", ")"}
_CLITICS = {"n't", "'s", "'re", "'ve", "'ll", "'d"}
_POSSESSIVE = re.compile(r"\s*(?:['’]s|['’])$")
_LEADING_THE = re.compile(r"^the\s+")

Token = tuple[str, str]  # (text, IOB2 label)
Sentence = list[Token]


@dataclass(frozen=True)
class Story:
    index: int  # position among all stories of the file, from 0
    title: str
    text: str
    gold: frozenset[tuple[str, str]]  # (name as written, PERSON/ORG/PLACE)
    prose: bool  # most of its sentences are running text, not a results table


def read_sentences(path: Path) -> list[Sentence]:
    sentences: list[Sentence] = []
    current: Sentence = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if current:
                sentences.append(current)
                current = []
            continue
        if line.startswith("-DOCSTART-"):
            continue
        token, label = line.rsplit(" ", 1)
        current.append((token, label))
    if current:
        sentences.append(current)
    return sentences


def detokenize(tokens: Iterable[str]) -> str:
    out = ""
    for token in tokens:
        if out and token not in _NO_SPACE_BEFORE and token.lower() not in _CLITICS:
            out += " "
        out += token
    return out


def _sentence_text(sentence: Sentence) -> str:
    return detokenize(token for token, _ in sentence)


def _is_dateline(sentence: Sentence) -> bool:
    return len(sentence) <= _DATELINE_MAX_TOKENS and bool(_DATE.match(sentence[-1][0]))


def _is_byline(sentence: Sentence) -> bool:
    return len(sentence) <= _BYLINE_MAX_TOKENS and all(label.endswith("-PER") for _, label in sentence)


def _is_prose_sentence(sentence: Sentence) -> bool:
    words = [token for token, _ in sentence if token.isalpha()]
    lower = [word for word in words if word[0].islower()]
    return len(sentence) >= 10 and bool(words) and len(lower) * 2 >= len(words)


def entities(sentence: Sentence) -> list[tuple[str, str]]:
    """(name, gold type) of each entity of a sentence, MISC left out."""
    found: list[tuple[str, str]] = []
    tokens: list[str] = []
    kind = None
    for token, label in [*sentence, ("", "O")]:
        starts = label.startswith("B-") or (label.startswith("I-") and label[2:] != kind)
        if tokens and (label == "O" or starts):
            if kind in GOLD_TYPES:
                found.append((detokenize(tokens), GOLD_TYPES[kind]))
            tokens, kind = [], None
        if label != "O":
            tokens.append(token)
            kind = label[2:]
    return found


def with_full_names(pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """One-word person names folded into the one longer person name of the
    story that ends in them; a surname shared by two longer names stays."""
    pairs = set(pairs)
    # Case aside: a headline in capitals names "CUNNINGHAM" of "Randall Cunningham".
    longer = {comparable(name): name for name, kind in pairs if kind == "PERSON" and " " in name}
    folded = set()
    for name, kind in pairs:
        owners = set()
        if kind == "PERSON" and " " not in name:
            owners = {full for key, full in longer.items() if key.split()[-1] == comparable(name)}
        folded.add((owners.pop(), kind) if len(owners) == 1 else (name, kind))
    return folded


def read_stories(path: Path) -> list[Story]:
    sentences = read_sentences(path)
    anchors = []  # (first sentence of the story, byline or None, the dateline's sentences)
    for i, sentence in enumerate(sentences):
        if not _is_dateline(sentence):
            continue
        dateline = [i - 1, i] if len(sentence) == 1 else [i]  # "FARMINGTON HILLS, Mich." + "1996-08-30"
        headline = dateline[0] - 1
        byline = None
        if headline > 0 and _is_byline(sentences[headline]):
            byline, headline = headline, headline - 1
        anchors.append((headline, byline, dateline))
    stories = []
    for n, (headline, byline, dateline) in enumerate(anchors):
        end = anchors[n + 1][0] if n + 1 < len(anchors) else len(sentences)
        body = sentences[dateline[-1] + 1:end]
        lead = " ".join(_sentence_text(sentences[i]) for i in dateline)
        paragraphs = [f"{lead} - {_sentence_text(body[0])}" if body else lead,
                      *(_sentence_text(sentence) for sentence in body[1:])]
        counted = [sentences[headline], *(sentences[i] for i in dateline), *body]
        gold = with_full_names(pair for sentence in counted for pair in entities(sentence))
        prose = bool(body) and sum(map(_is_prose_sentence, body)) * 2 > len(body)
        stories.append(Story(n, _sentence_text(sentences[headline]), "\n".join(paragraphs), frozenset(gold), prose))
    return stories


def comparable(name: str) -> str:
    """A name as the score compares it: no case, no leading "the", no trailing possessive."""
    folded = " ".join(name.split()).casefold()
    folded = _POSSESSIVE.sub("", folded)
    return _LEADING_THE.sub("", folded)
