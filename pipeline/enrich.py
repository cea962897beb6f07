"""Named entities with spaCy, normalised so that counts mean something.

Raw NER output names one person three ways in one article ("Antony Blinken",
"Blinken" as a place, "Blinken's"); the rules here fold those into one
entity with one label before anything is stored.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

# Numbers and times are attributes of a story, not things it is about.
SKIPPED_LABELS = {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"}

# "Secretary of State" yields an organisation "State"; a span right after
# one of these offices is a fragment of the title, not an entity.
_OFFICE_BEFORE = re.compile(
    r"(secretary|minister|ministry|department|secretariat|undersecretary|commissioner)"
    r"\s+(of|for)\s+(the\s+)?$",
    re.IGNORECASE,
)
_POSSESSIVE = re.compile(r"[’']s?$")
_EDGE_PUNCT = "\"'“”‘’«»„‚()[]{}<>.,;:!?-–—"
# Only English "the": in other languages the article is often part of the
# name ("Los Angeles", "La Paz", "Die Linke").
_LEADING_ARTICLE = re.compile(r"^the\s+", re.IGNORECASE)


@dataclass(frozen=True)
class EntityMention:
    name: str
    label: str
    mentions: int
    in_title: bool


@dataclass(frozen=True)
class EnrichInput:
    title: str | None
    text: str
    language: str | None = None


@dataclass(frozen=True)
class EnrichResult:
    entities: list[EntityMention]
    status: str  # "done", "truncated", "no model for <lang>"


@lru_cache(maxsize=4)
def load_nlp(model_name: str):
    """The spaCy pipeline with only its NER component, loaded once per process."""
    import spacy

    try:
        return spacy.load(model_name, enable=["ner"])
    except OSError as exc:
        raise RuntimeError(
            f"spaCy model {model_name!r} is not installed; install it with pip "
            f"or set NEWSFLOW_SPACY_MODEL to an installed pipeline"
        ) from exc


def normalize_entity_name(text: str) -> str:
    """Possessives, leading articles, quotes and stray punctuation removed, spacing folded."""
    name = " ".join(text.split())
    for _ in range(2):
        name = _POSSESSIVE.sub("", name).strip(_EDGE_PUNCT + " ")
        name = _LEADING_ARTICLE.sub("", name)
    return name


def extract_entities(
    nlp, items: Sequence[EnrichInput], *, max_chars: int, model_language: str = "en",
    batch_size: int = 32,
) -> list[EnrichResult]:
    """Entities of each item; items not in the model's language are not guessed at."""
    results: list[EnrichResult | None] = [None] * len(items)
    todo: list[int] = []
    texts: list[str] = []
    for index, item in enumerate(items):
        language = (item.language or model_language).lower()
        if language.split("-")[0] != model_language:
            results[index] = EnrichResult([], f"no model for {language}")
            continue
        body = f"{item.title}\n\n{item.text}" if item.title else item.text
        todo.append(index)
        texts.append(body[:max_chars])
    for index, text, doc in zip(todo, texts, nlp.pipe(texts, batch_size=batch_size), strict=True):
        item = items[index]
        full_length = len(f"{item.title}\n\n{item.text}" if item.title else item.text)
        status = "truncated" if full_length > max_chars else "done"
        results[index] = EnrichResult(_normalise(doc, item.title), status)
    return [result for result in results if result is not None]


def _normalise(doc, title: str | None) -> list[EntityMention]:
    spans: list[tuple[str, str]] = []
    for ent in doc.ents:
        if ent.label_ in SKIPPED_LABELS:
            continue
        if _OFFICE_BEFORE.search(doc.text[max(0, ent.start_char - 40):ent.start_char]):
            continue
        name = normalize_entity_name(ent.text)
        if len(name) < 2 or not any(c.isalpha() for c in name):
            continue
        spans.append((name, ent.label_))

    # A short form that is the first or last name of a full PERSON mention in
    # the same article is that person ("Blinken" -> "Antony Blinken").
    full_names = {name for name, label in spans if label == "PERSON" and " " in name}
    by_part: dict[str, set[str]] = defaultdict(set)
    for full in full_names:
        parts = full.split()
        by_part[parts[-1]].add(full)
        by_part[parts[0]].add(full)
    resolved: list[tuple[str, str]] = []
    for name, label in spans:
        owners = by_part.get(name) if " " not in name else None
        if owners and len(owners) == 1:
            resolved.append((next(iter(owners)), "PERSON"))
        else:
            resolved.append((name, label))

    # One label per name per article: the majority, PERSON winning ties when
    # the name is a known full name.
    labels: dict[str, Counter] = defaultdict(Counter)
    for name, label in resolved:
        labels[name][label] += 1
    folded_title = (title or "").casefold()
    mentions = []
    for name, counter in labels.items():
        label = counter.most_common(1)[0][0]
        if name in full_names:
            label = "PERSON"
        mentions.append(
            EntityMention(
                name=name,
                label=label,
                mentions=sum(counter.values()),
                in_title=_in_text(name, folded_title),
            )
        )
    mentions.sort(key=lambda mention: (-mention.mentions, mention.name))
    return mentions


def _in_text(name: str, folded_text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", folded_text) is not None
