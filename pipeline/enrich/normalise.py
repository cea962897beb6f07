"""Normalise the entities spaCy found in one article, so that counts mean something.

Raw NER output names one person three ways in one article ("Antony Blinken",
"Blinken" as a place, "Blinken's"); the rules here fold those into one
entity with one label before anything is stored.

Two steps always run: numbers and times (DATE, CARDINAL, ...) are not
entities, and a name is cleaned (``normalize_entity_name``: possessives,
quotes and edge punctuation, a leading English "the", spacing).  They are
not rules to measure: the benchmark's score skips the same labels and
compares names the same way on both sides, so it cannot see them.  Then come
named, general rules (``RULES``); each can be switched off through
``normalise_doc(..., disabled=...)`` so that ``bench/entities.py`` can
measure what it adds on held-out text.  A rule stays only while switching it
off lowers F1 over that benchmark's two held-out sets together (the CoNLL-2003
held-back half and the extraction benchmark's held-out pages, weighted by
their gold pairs; docs/benchmarks.md):

``non_names``        spans without a capitalised word ("striker's fifth") and
                     a sentence-initial single word that the article also
                     uses in lower case ("Glaciers ... glaciers") dropped.
``common_aliases``   very common variants folded (``COMMON_ALIASES``, from
                     ``words/common-aliases.txt``: "US", "U.S." -> "United
                     States", "UN" -> "United Nations"); the variants stay as
                     the entity's aliases.
``short_forms``      a single word that is the first or last word of exactly
                     one longer PERSON (or the distinctive word of one longer
                     ORG) in the article is that entity ("Blinken" ->
                     "Antony Blinken", "Kestrel" -> "Kestrel Freight"); a NORP
                     ("Republican") is an adjective, never an ORG's short form.
``context``          the words around a mention: "in/near/outside X",
                     "the city/port/canton of X", "X-based" are places;
                     "translated from X", "X-language" are languages;
                     names listed together ("Weimar, Dessau and Krefeld")
                     share their majority label.

Each entity gets one label per article: that of its first mention, or the
label a rule gave it (a common alias's label first).
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from importlib.resources import files

from pipeline.text import storable_text


def _entries(name: str) -> list[str]:
    """The entries of a list in ``words/`` (package data, so that an installed
    package carries it): one entry a line; "#" starts a comment."""
    text = files(__package__).joinpath("words", name).read_text(encoding="utf-8")
    entries = (line.split("#", 1)[0].strip() for line in text.splitlines())
    return [entry for entry in entries if entry]


def _word_list(name: str) -> frozenset[str]:
    """A word list of ``words/``: one lower-case word a line."""
    return frozenset(_entries(name))


# Numbers and times are attributes of a story, not things it is about.
SKIPPED_LABELS = {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"}

RULES = ("non_names", "common_aliases", "short_forms", "context")

# Very common variants of very common names: (canonical name, label) by
# surface form (after the name is cleaned).  Data, not per-article knowledge;
# the store records each surface form as an alias of the canonical entity.
COMMON_ALIASES: dict[str, tuple[str, str]] = {
    surface: (canonical, label)
    for surface, canonical, label in (
        (part.strip() for part in entry.split("|")) for entry in _entries("common-aliases.txt"))
}

_POSSESSIVE = re.compile(r"[’']s?$")
_EDGE_PUNCT = "\"'“”‘’«»„‚()[]{}<>.,;:!?-–—"
# Only English "the": in other languages the article is often part of the
# name ("Los Angeles", "La Paz", "Die Linke").
_LEADING_ARTICLE = re.compile(r"^the\s+", re.IGNORECASE)

# Generic words English organisation names are built on: never the short
# form of one ("Freight" is not "Kestrel Freight").
_ORG_HEADS = _word_list("org-heads.txt")

# Context cues, looked at in the text just before / after a mention.
_LOCATIVE_BEFORE = re.compile(r"(?:^|\W)(?:in|near|outside|across|around)\s+(?:the\s+)?$")
# "the city of X", "the canton of X": X is a place.
_PLACE_NOUNS = "|".join(map(re.escape, sorted(_word_list("place-nouns.txt"))))
_PLACE_OF_BEFORE = re.compile(rf"(?:^|\W)(?:{_PLACE_NOUNS})\s+of\s+(?:the\s+)?$", re.IGNORECASE)
_BASED_AFTER = re.compile(r"^-based\b")
_MOTION_TO_BEFORE = re.compile(
    r"(?:^|\W)(?:travel\w*|flew|fly|flies|flying|mov(?:e|ed|es|ing)|return\w*|go|goes|went|drove|"
    r"arriv(?:e|ed|es|ing))\s+(?:to|in)\s+$", re.IGNORECASE,
)
# "Chemnitz (fp) – ..." at the start of a line: a dateline names a place.
_DATELINE_AFTER = re.compile(r"^\s*(?:/\s*\w[\w ]*)?\s*\([^)\n]{1,20}\)\s*[–—-]")
_AREA_AFTER = re.compile(r"^\s+(?:area|region)\b")
_LANGUAGE_BEFORE = re.compile(r"(?:translated|translation)\s+(?:from|into)\s+$", re.IGNORECASE)
_LANGUAGE_AFTER = re.compile(r"^(?:-language|-speaking|\s+language)\b")
_LIST_GAP = re.compile(r"^(?:,\s*|\s+and\s+|\s+or\s+|,\s+and\s+|,\s+or\s+)$")
_PLACE_LABELS = {"GPE", "LOC"}
_NAME_LABELS = {"PERSON", "ORG", "GPE", "LOC", "NORP", "FAC", "PRODUCT"}


@dataclass(frozen=True)
class EntityMention:
    name: str
    label: str
    mentions: int
    in_title: bool
    # Character offset of the first mention in the text given to the model
    # (f"{title}\n\n{text}" when there is a title).
    first_offset: int | None = None
    # 0.6 * mentions / mentions of the most-mentioned entity of the article
    # + 0.25 if the name (or an alias) is in the title
    # + 0.15 * (1 - first_offset / length of the text): earlier is higher.
    salience: float = 0.0
    # Distinct normalised surface forms that resolved to this entity, shortest first.
    aliases: tuple[str, ...] = ()


def normalize_entity_name(text: str) -> str:
    """Possessives, leading articles, quotes and stray punctuation removed,
    spacing folded, control characters dropped."""
    name = storable_text(text) or ""
    for _ in range(2):
        name = _POSSESSIVE.sub("", name).strip(_EDGE_PUNCT + " ")
        name = _LEADING_ARTICLE.sub("", name)
    # An abbreviation loses its final full stop too ("U.S." -> "U.S", "Inc." ->
    # "Inc"): a cost on held-out text, left to the normaliser's rebuild (#19);
    # common-aliases.txt lists both forms.
    return name


@dataclass
class _Mention:
    surface: str  # the normalised surface form
    label: str  # the model's label
    start: int
    end: int
    name: str  # canonical name: the surface form until a rule resolves it
    cue: str | None = None  # label from a rule, stronger than the model's
    fixed: str | None = None  # label fixed by a common alias, stronger than any cue
    siblings: list[int] = field(default_factory=list)


def normalise_doc(doc, title: str | None, *, disabled: Collection[str] = ()) -> list[EntityMention]:
    """The entities of one parsed document after the rules in ``RULES`` not in ``disabled``."""
    if unknown := set(disabled) - set(RULES):
        raise ValueError(f"no such rule: {', '.join(sorted(unknown))} (RULES: {', '.join(RULES)})")
    on = {rule: rule not in disabled for rule in RULES}
    text = doc.text
    mentions = _collect(doc, on)
    if on["context"]:
        _context_cues(mentions, text)
    if on["short_forms"]:
        _resolve_short_forms(mentions)
    return _aggregate(mentions, title, text, on)


def _collect(doc, on: dict[str, bool]) -> list[_Mention]:
    text = doc.text
    lowered_words = None
    mentions: list[_Mention] = []
    for ent in doc.ents:
        if ent.label_ in SKIPPED_LABELS:
            continue
        surface = normalize_entity_name(ent.text)
        start, end = ent.start_char, ent.end_char
        # Keep the offsets on the name itself ("the Rhein Post" starts at "Rhein").
        found = ent.text.find(surface)
        if found >= 0:
            start += found
            end = start + len(surface)
        if len(surface) < 2 or not any(c.isalpha() for c in surface):
            continue
        if on["non_names"]:
            if not any(word[:1].isupper() for word in surface.split()):
                continue
            if " " not in surface and _sentence_initial(text, start):
                if lowered_words is None:
                    lowered_words = set(re.findall(r"\b[a-z][\w’'-]*\b", text))
                if surface.casefold() in lowered_words:
                    continue
        mention = _Mention(surface, ent.label_, start, end, name=surface)
        if on["common_aliases"] and surface in COMMON_ALIASES:
            mention.name, mention.fixed = COMMON_ALIASES[surface]
        mentions.append(mention)
    return mentions


def _sentence_initial(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \"“‘'")
    return not before or before[-1] in ".!?\n:"


def _resolve_short_forms(mentions: list[_Mention]) -> None:
    """A single word standing for exactly one longer PERSON or ORG of the article."""
    people: set[str] = set()
    orgs: set[str] = set()
    for m in mentions:
        if " " not in m.name or m.fixed:
            continue
        label = m.cue or m.label
        if label == "PERSON":
            people.add(m.name)
        elif label == "ORG":
            orgs.add(m.name)
    by_part: dict[str, set[str]] = defaultdict(set)
    for full in people:
        parts = full.split()
        by_part[parts[-1]].add(full)
        by_part[parts[0]].add(full)
    by_org_part: dict[str, set[str]] = defaultdict(set)
    for full in orgs:
        for part in full.split():
            if part[:1].isupper() and part.casefold() not in _ORG_HEADS:
                by_org_part[part].add(full)
    full_forms = people | orgs
    for m in mentions:
        if " " in m.name or m.fixed:
            continue
        owners = by_part.get(m.name)
        if owners and len(owners) == 1:
            m.name = next(iter(owners))
            m.cue = "PERSON"
            continue
        # A nationality or party adjective is not a short form of the
        # organisation whose name it begins ("Republican" and the "Republican
        # Governors Association").  (A given name the model typed NORP still
        # takes its person, above.)
        if (m.cue or m.label) in {"NORP", "LANGUAGE"}:
            continue
        owners = by_org_part.get(m.name)
        # A place name inside an organisation's name ("Chemnitz" in "Chemnitz
        # Municipal Transport") is only that organisation when the model
        # itself calls the short form an organisation somewhere.
        if owners and len(owners) == 1 and m.name not in full_forms and m.cue not in _PLACE_LABELS:
            org = next(iter(owners))
            said_org = any(o.surface == m.name and o.label == "ORG" for o in mentions)
            if said_org or (org.split()[0] == m.name and m.label not in _PLACE_LABELS):
                m.name = org
                m.cue = "ORG"


def _context_cues(mentions: list[_Mention], text: str) -> None:
    # Lists: mentions separated only by ", ", " and ", " or ".
    ordered = sorted(range(len(mentions)), key=lambda i: mentions[i].start)
    groups: list[list[int]] = []
    for previous, current in zip(ordered, ordered[1:]):
        gap = text[mentions[previous].end:mentions[current].start]
        if _LIST_GAP.match(gap) and "\n" not in gap:
            if groups and groups[-1][-1] == previous:
                groups[-1].append(current)
            else:
                groups.append([previous, current])
    # A real list has "and"/"or" before its last item ("Grossglockner, Austria's
    # highest mountain" is an apposition, not a list).
    groups = [g for g in groups if re.search(r"\b(?:and|or)\s+$", text[mentions[g[-2]].end:mentions[g[-1]].start])]
    for group in groups:
        for i in group:
            mentions[i].siblings = [j for j in group if j != i]

    for m in mentions:
        if m.fixed or m.cue:
            continue
        before = text[max(0, m.start - 40):m.start]
        after = text[m.end:m.end + 12]
        if m.label == "NORP" and (_LANGUAGE_BEFORE.search(before) or _LANGUAGE_AFTER.match(after)):
            m.cue = "LANGUAGE"
        elif " " not in m.name and m.label in _NAME_LABELS - {"NORP"}:
            if _DATELINE_AFTER.match(after) and (m.start == 0 or text[m.start - 1] == "\n"):
                m.cue = "GPE"
            elif _AREA_AFTER.match(after):
                m.cue = "LOC"
            elif _BASED_AFTER.match(after) or _PLACE_OF_BEFORE.search(before) or _MOTION_TO_BEFORE.search(before):
                m.cue = "GPE"
    # A list preceded by "in"/"near"/... is a list of places; single words only
    # ("in Weimar, Dessau and Krefeld"; "in Bayer and BASF Chemicals" is not).
    for group in groups:
        first = mentions[group[0]]
        if _LOCATIVE_BEFORE.search(text[max(0, first.start - 20):first.start]):
            for i in group:
                m = mentions[i]
                if not m.fixed and not m.cue and " " not in m.name and m.label in _NAME_LABELS - {"NORP"}:
                    m.cue = "GPE"
    for m in mentions:
        if m.fixed or m.cue or " " in m.name or m.label in _PLACE_LABELS or m.siblings:
            continue
        before = text[max(0, m.start - 20):m.start]
        after = text[m.end:m.end + 3]
        if _LOCATIVE_BEFORE.search(before) and not after.startswith(("’", "'")) and m.label in _NAME_LABELS - {"NORP"}:
            m.cue = "GPE"


def _aggregate(mentions: list[_Mention], title: str | None, text: str, on: dict[str, bool]) -> list[EntityMention]:
    by_name: dict[str, list[_Mention]] = defaultdict(list)
    for m in mentions:
        by_name[m.name].append(m)
    # One label per entity and article: a common alias's, else its first
    # mention's, a rule's cue before the model's guess.
    labels = {name: next((m.fixed for m in members if m.fixed), None) or members[0].cue or members[0].label
              for name, members in by_name.items()}
    if on["context"]:
        # Names listed together share the list's majority label when that
        # majority is clear and the name's own evidence is the model's guess only.
        changed = {}
        for name, members in by_name.items():
            if any(m.fixed or m.cue for m in members):
                continue
            sibling_labels = Counter(
                labels[mentions[j].name] for m in members for j in m.siblings if mentions[j].name != name
            )
            if not sibling_labels:
                continue
            label, count = sibling_labels.most_common(1)[0]
            if (" " not in name and label in _PLACE_LABELS and label != labels[name]
                    and count >= 2 and count > sum(sibling_labels.values()) / 2):
                changed[name] = label
        labels.update(changed)

    length = max(len(text), 1)
    top = max((len(members) for members in by_name.values()), default=1)
    result = []
    for name, members in by_name.items():
        aliases = tuple(sorted({m.surface for m in members}, key=lambda s: (len(s), s)))
        first_offset = min(m.start for m in members)
        in_title = named_in_title(title, {name, *aliases})
        salience = 0.6 * len(members) / top + 0.25 * in_title + 0.15 * (1 - first_offset / length)
        result.append(
            EntityMention(
                name=name,
                label=labels[name],
                mentions=len(members),
                in_title=in_title,
                first_offset=first_offset,
                salience=round(min(1.0, max(0.0, salience)), 4),
                aliases=aliases,
            )
        )
    result.sort(key=lambda mention: (-mention.mentions, mention.name))
    return result


def named_in_title(title: str | None, names: Iterable[str]) -> bool:
    """Whether the headline names the entity by its name or one of its
    aliases, as a whole word in any case: for a new article and for a copy
    that takes its story's entities alike."""
    folded = (title or "").casefold()
    return any(_in_text(name, folded) for name in names)


def _in_text(name: str, folded_text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", folded_text) is not None
