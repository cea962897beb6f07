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

``true_case``        a headline or a dateline in capitals is given the case
                     its words have in the article (``casing``) before the
                     model reads it: applied in ``models.model_text``.
``non_names``        spans without a capitalised word ("striker's fifth") and
                     a sentence-initial single word that the article also
                     uses in lower case ("Glaciers ... glaciers") dropped.
``descriptors``      a name's edges cleaned of what is not the name: a section
                     label before " - " ("Cricket - England"), a score after
                     it ("Groningen 4-1"), and titles, roles and nationalities
                     before a person's name ("Defender Hassan Abbas",
                     "Croat Alen Boksic"; ``words/descriptors.txt``,
                     ``words/demonyms.txt``), which stay as the mention's
                     ``descriptors``; a "person" that is only a nationality
                     ("Briton") is one (NORP).
``events``           a name ending in an event's word ("Davis Cup", "Australian
                     Open", "Atlanta Games"; ``words/event-words.txt``) is an
                     EVENT, not an organisation or a place.
``facilities``       a name ending in a building's or a site's word ("Heathrow
                     Airport", "Royal Free Hospital";
                     ``words/facility-words.txt``) is a FAC, a place.
``acronyms``         an acronym defined in brackets after a name ("National
                     Farmers' Union (NFU)") is an alias of that name, here and
                     wherever the article uses it.
``companies``        a run of capitalised words ending in a company's suffix
                     ("Opel AG", "Best Products Co") is an organisation, if
                     the model missed it.
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
``gazetteer``        a country is a place whatever the model says; a
                     well-known place the model took for a person is a place,
                     unless the article names a person so (``places``).
``teams``            in a sports story, a city or region named alone, or a
                     name holding a club word ("Manchester United",
                     ``words/club-words.txt``), is the club: an organisation.
``one_type``         an entity's label is the vote of all its mentions, a
                     rule's cue counting three times the model's guess (a
                     common alias's label first); without it, the first
                     mention's.

Each entity gets one label per article, so no article holds one name under
two types.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from importlib.resources import files

from pipeline.enrich import places
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

RULES = ("true_case", "non_names", "descriptors", "events", "facilities", "acronyms", "companies", "common_aliases", "short_forms", "context", "gazetteer",
         "teams", "one_type")

# Very common variants of very common names: (canonical name, label) by
# surface form (after the name is cleaned).  Data, not per-article knowledge;
# the store records each surface form as an alias of the canonical entity.
COMMON_ALIASES: dict[str, tuple[str, str]] = {
    surface: (canonical, label)
    for surface, canonical, label in (
        (part.strip() for part in entry.split("|")) for entry in _entries("common-aliases.txt"))
}

_INITIALS = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
_POSSESSIVE = re.compile(r"[’']s?$")
_EDGE_PUNCT = "\"'“”‘’«»„‚()[]{}<>.,;:!?-–—"
# Only English "the": in other languages the article is often part of the
# name ("Los Angeles", "La Paz", "Die Linke").
_LEADING_ARTICLE = re.compile(r"^the\s+", re.IGNORECASE)

# Generic words English organisation names are built on: never the short
# form of one ("Freight" is not "Kestrel Freight").
_ORG_HEADS = _word_list("org-heads.txt")

# Context cues, looked at in the text just before / after a mention.
# What follows the place of a dateline: "JERUSALEM 1996-08-22", "LONDON (Reuters)", "HILLS, Mich. 1996".
_DATE_AFTER = re.compile(r"^(?:,[^\n]{0,25}?)?\s*(?:\d{4}-\d\d-\d\d|\d{1,2} \w+ \d{4}|\w+ \d{1,2}|\()")
# One to three capitalised words, not inside a longer run of them.
_CAPITALISED_RUN = re.compile(r"(?<![\w.'’-])[A-Z][a-z]+(?: [A-Z][a-z]+)*(?![\w'’-])")
_ACRONYM_AFTER = re.compile(r"\s*\(\s*([A-Z][A-Z0-9&-]{1,9})\s*\)")
# Capitalised words ending in a company's suffix: "Opel AG", "Best Products Co".
_COMPANY = re.compile(r"(?<![\w.'’&-])(?:[A-Z][\w'’&.-]*\s){1,4}(?:Inc|Co|Corp|Corporation|AG|Ltd|Plc|PLC|SA|NV|Group|"
                      r"Holdings|GmbH|SpA|BV|AB|ASA|Oyj|LLC)\b\.?")
_AT_PLACE_BEFORE = re.compile(r"(?:^|\W)(?:in|at|into|near|outside|from)\s+(?:the\s+)?$", re.IGNORECASE)
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
# (The model reads the dash as a full stop: pipeline.enrich.casing.)
_DATELINE_AFTER = re.compile(r"^\s*(?:/\s*\w[\w ]*)?\s*\([^)\n]{1,20}\)\s*(?:[–—-]|\.  )")
_AREA_AFTER = re.compile(r"^\s+(?:area|region)\b")
_LANGUAGE_BEFORE = re.compile(r"(?:translated|translation)\s+(?:from|into)\s+$", re.IGNORECASE)
_LANGUAGE_AFTER = re.compile(r"^(?:-language|-speaking|\s+language)\b")
_LIST_GAP = re.compile(r"^(?:,\s*|\s+and\s+|\s+or\s+|,\s+and\s+|,\s+or\s+)$")
# "Secretary of Defense Lloyd Austin": the office's name is part of a title.
_OFFICE_OF_BEFORE = re.compile(r"\b(?:secretary|minister)\s+of\s+(?:the\s+)?$", re.IGNORECASE)
_SPACES = re.compile(r" *")
_DESCRIPTORS = _word_list("descriptors.txt")
_DEMONYMS = _word_list("demonyms.txt")
_NOT_NAMES = _word_list("not-names.txt")
_ABBREVIATIONS = _word_list("abbreviations.txt")
_CLUB_WORDS = _word_list("club-words.txt")
_EVENT_WORDS = _word_list("event-words.txt")
_FACILITY_WORDS = _word_list("facility-words.txt")
_SECTION_LABEL = re.compile(r"^.{2,40}? [-–—] (?=\S)")
# A score or a date glued after a name ("Ajax Amsterdam 4-2", "Bosnia 1996-08-25").
_FROM_NUMBER = re.compile(r"\s+\d.*$")
_TRAILING_LOWER = re.compile(r"(?:\s+[a-z][\w'-]*)+$")
# A sports story: scores ("beat Milwaukee 5-3") and the words around them.
_SCORE = re.compile(r"(?<![\d.-])\d{1,3}-\d{1,3}(?![\d-])")
_SPORT_WORDS = re.compile(
    r"\b(?:beat|beaten|drew|draw|match|goals?|scored|innings|wickets?|homers?|striker|midfielder|defender|"
    r"goalkeeper|coach|league|cup|season|semifinal|final|tournament|inning|pitcher|game|victory|defeat|"
    r"play-?off|stadium|club|squad|seeded|champions?|championship|title|points|runs|halftime|half-time|"
    r"soccer|football|tennis|cricket|rugby|baseball|basketball|golf|hockey|athletics|cycling|"
    r"racing|transfer|contract|player|players|midfield|fixture|fixtures|referee)\b",
    re.IGNORECASE)
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
    # What the article calls it besides its name: titles, roles, nationalities
    # taken off the front of a mention ("Defender", "Croat"), in lower case.
    descriptors: tuple[str, ...] = ()
    # Whether a rule of this article (a cue, a common alias, the list it
    # stands in) gave the label, rather than the model's guess alone: the
    # stronger evidence when the entity's articles decide its type together
    # (``pipeline.enrich.labels``).
    label_by_rule: bool = False


def normalize_entity_name(text: str) -> str:
    """Possessives, leading articles, quotes and stray punctuation removed,
    spacing folded, control characters dropped."""
    name = storable_text(text) or ""
    for _ in range(2):
        name = _POSSESSIVE.sub("", name).strip(_EDGE_PUNCT + " ")
        name = _LEADING_ARTICLE.sub("", name)
    # An abbreviation of initials keeps its final full stop ("U.S.", "F.C."),
    # which the strip above took; a lone one ("Inc.") goes.
    if _INITIALS.fullmatch(name) or (
            name.rsplit(" ", 1)[-1].casefold() in _ABBREVIATIONS and text.rstrip().endswith(name + ".")):
        name += "."
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
    descriptors: tuple[str, ...] = ()


def normalise_doc(doc, title: str | None, *, disabled: Collection[str] = ()) -> list[EntityMention]:
    """The entities of one parsed document after the rules in ``RULES`` not in ``disabled``."""
    if unknown := set(disabled) - set(RULES):
        raise ValueError(f"no such rule: {', '.join(sorted(unknown))} (RULES: {', '.join(RULES)})")
    on = {rule: rule not in disabled for rule in RULES}
    text = doc.text
    # Read once per article: several rules ask them.
    lowered_words = set(re.findall(r"\b[a-z][\w’'-]*\b", text))
    sports = _sports_story(text)
    mentions = _collect(doc, on, lowered_words)
    if on["companies"]:
        mentions += _companies_missed(doc, lowered_words)
    if on["acronyms"]:
        _resolve_acronyms(mentions, text)
    if on["gazetteer"]:
        mentions += _places_missed(doc, mentions, lowered_words, sports=sports)
    if on["context"]:
        _context_cues(mentions, text)
    if on["teams"]:
        # Before short forms: "Ajax" is short for the club "Ajax Amsterdam",
        # which the model read as a person.
        _team_cues(mentions, text, sports=sports)
    if on["short_forms"]:
        _resolve_short_forms(mentions)
    if on["gazetteer"]:
        _gazetteer_cues(mentions, text)
    _one_spelling_per_name(mentions)
    return _aggregate(mentions, title, text, on)


def _one_spelling_per_name(mentions: list[_Mention]) -> None:
    """"BALTIMORE" and "Baltimore" in one article are one name: the form in
    mixed case the article uses most."""
    forms: dict[str, Counter] = defaultdict(Counter)
    for m in mentions:
        forms[m.name.casefold()][m.name] += 1
    for m in mentions:
        spellings = forms[m.name.casefold()]
        if len(spellings) > 1:
            m.name = max(spellings, key=lambda name: (not name.isupper(), spellings[name], name))


def _collect(doc, on: dict[str, bool], lowered_words: set[str]) -> list[_Mention]:
    text = doc.text
    mentions: list[_Mention] = []
    person_starts = {ent.start_char for ent in doc.ents if ent.label_ == "PERSON"}
    for ent in doc.ents:
        if ent.label_ in SKIPPED_LABELS:
            continue
        surface = normalize_entity_name(ent.text)
        label = ent.label_
        descriptors: tuple[str, ...] = ()
        if on["descriptors"] and label != "PERSON" and _office_in_a_title(ent, text, person_starts):
            continue  # "Defense" of "Secretary of Defense Lloyd Austin"
        if on["descriptors"]:
            if _is_demonym(surface):
                label = "NORP"  # "Sri Lankans", "Hutu": a people, not a person, a body or a place
            surface, descriptors = _without_descriptors(surface, label)
            if descriptors and label != "PERSON":
                label = "PERSON"  # "Frenchman Cedric Pioline", read as an ORG
            if label == "PERSON" and not surface and descriptors and descriptors[-1] in _DEMONYMS:
                continue  # "Briton": a nationality, not a name
        start, end = ent.start_char, ent.end_char
        # Keep the offsets on the name itself ("the Rhein Post" starts at "Rhein").
        found = ent.text.find(surface) if surface else -1
        if found >= 0:
            start += found
            end = start + len(surface)
        if len(surface) < 2 or not any(c.isalpha() for c in surface):
            continue
        if on["non_names"]:
            if not any(word[:1].isupper() for word in surface.split()):
                continue
            if surface.isupper() and (places.is_currency_code(surface) or surface.casefold() in _NOT_NAMES):
                continue  # "HUF", "GMT": money and time, not things the story is about
            if " " not in surface and _sentence_initial(text, start):
                if surface.casefold() in lowered_words:
                    continue
        if on["events"] and label in _NAME_LABELS and (
                (_capitalised_in(surface.split()[-1:], _EVENT_WORDS) and (" " in surface or surface.casefold() == "olympic"))
                or _capitalised_in(text[ent.end_char:ent.end_char + 20].split()[:1], _EVENT_WORDS)):
            label = "EVENT"  # "Davis Cup"; "U.S." of "U.S. Open"
        facility = (on["facilities"] and label in {"ORG", "PERSON", "GPE", "LOC"} and " " in surface
                    and _capitalised_in(surface.split()[-1:], _FACILITY_WORDS))
        mention = _Mention(surface, label, start, end, name=surface, descriptors=descriptors,
                           cue="FAC" if facility else None)
        if on["common_aliases"] and surface in COMMON_ALIASES:
            mention.name, mention.fixed = COMMON_ALIASES[surface]
        mentions.append(mention)
    return mentions


def _office_in_a_title(ent, text: str, person_starts: set[int]) -> bool:
    """Whether the span is the office of a person's title: after "Secretary
    of", right before the person's name."""
    return (_OFFICE_OF_BEFORE.search(text, max(0, ent.start_char - 30), ent.start_char) is not None
            and _SPACES.match(text, ent.end_char).end() in person_starts)


def _without_descriptors(surface: str, label: str) -> tuple[str, tuple[str, ...]]:
    """The name without what is not the name, and the words taken off the
    front of a person's name (lower case)."""
    name = _TRAILING_LOWER.sub("", _FROM_NUMBER.sub("", _SECTION_LABEL.sub("", surface)))
    if name != surface:
        name = normalize_entity_name(name)
    words = name.split()
    dropped = []
    while words and (words[0].casefold().rstrip(".") in _DESCRIPTORS or words[0].casefold() in _DEMONYMS):
        dropped.append(words.pop(0).casefold().rstrip("."))
    if words and not words[0][:1].isupper():
        return name, ()  # "Minister of state": not a name after all; leave it to non_names
    if label != "PERSON" and dropped and (any(word in _DEMONYMS for word in dropped)
                                          or not _person_after_descriptor(words)):
        return name, ()  # "General Motors", "British Airways", "Iranian Resistance"
    return " ".join(words), tuple(dropped)


def _is_demonym(name: str) -> bool:
    folded = name.casefold()
    return folded in _DEMONYMS or (folded.endswith("s") and folded[:-1] in _DEMONYMS)


def _person_after_descriptor(words: list[str]) -> bool:
    """Whether what follows a role or a nationality in a span the model did
    not call a person ("Spokesman Glyn Davies" as an ORG) is a person's name:
    two or three capitalised words, no organisation's word, no place."""
    return (2 <= len(words) <= 3 and all(word[:1].isupper() for word in words)
            and not any(word.casefold() in _ORG_HEADS for word in words) and places.place(" ".join(words)) is None)


def _capitalised_in(words: Iterable[str], word_list: frozenset[str]) -> bool:
    """Whether one of ``words``, capitalised, is in ``word_list`` ("United", not "united")."""
    return any(word[:1].isupper() and word.casefold() in word_list for word in words)


def _sentence_initial(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \"“‘'")
    return not before or before[-1] in ".!?\n:"


def _resolve_short_forms(mentions: list[_Mention]) -> None:
    """A single word standing for exactly one longer PERSON or ORG of the article."""
    people: set[str] = set()
    orgs: set[str] = set()
    # The surnames the model reads as people ("Bierhoff"): a two- or
    # three-word name of the article ending in one is that person, whatever
    # the model called the full name ("Oliver Bierhoff" as an ORG).
    surnames = {m.name for m in mentions if " " not in m.name and m.label == "PERSON" and not m.cue}
    for m in mentions:
        if " " not in m.name or m.fixed:
            continue
        label = m.cue or m.label
        words = m.name.split()
        if (label != "PERSON" and not m.cue and len(words) <= 3 and words[-1] in surnames
                and all(word[:1].isupper() for word in words) and places.place(m.name) is None
                and not any(word.casefold() in _ORG_HEADS for word in words)):
            m.cue = label = "PERSON"
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
        if m.label in _PLACE_LABELS and places.place(m.name) is not None:
            continue  # "Amsterdam" read as a place is the city, not short for "Ajax Amsterdam"
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


def _sports_story(text: str) -> bool:
    words = len(_SPORT_WORDS.findall(text))
    return words >= 4 and len(_SCORE.findall(text)) >= 2


def _team_cues(mentions: list[_Mention], text: str, *, sports: bool) -> None:
    """In a sports story, a city or region named on its own, or a name that
    holds a club word, is a club: the model's guess is replaced, so that
    where the story says "in Boston" (a cue) the place still wins the vote."""
    person_words = _words_of_full_person_names(mentions)
    for m in mentions:
        if m.fixed or m.cue:
            continue
        words = m.name.split()
        known = places.place(m.name)
        if not sports:
            # Anywhere, a place's name with a club's word is the club
            # ("Manchester United", "Rapid Vienna", "Boston Red Sox").
            if (len(words) > 1 and known is None and _capitalised_in(words, _CLUB_WORDS)
                    and any(places.place(word) is not None for word in words if word.casefold() not in _CLUB_WORDS)):
                m.label = "ORG"
            continue
        if known is not None and known.kind in {"city", "region"} and m.name not in person_words:
            if _at_dateline(text, m.start, m.end) or _AT_PLACE_BEFORE.search(text[max(0, m.start - 20):m.start]):
                m.cue = m.label if m.label in _PLACE_LABELS else "GPE"
            else:
                m.label = "ORG"
        elif _capitalised_in(words, _CLUB_WORDS) and known is None:
            m.label = "ORG"  # "Manchester United"; "Galatasaray", "Twins" alone


def _companies_missed(doc, lowered_words: set[str]) -> list[_Mention]:
    """Companies the model did not mark: capitalised words ending in a
    company's suffix, outside every entity."""
    text = doc.text
    taken = [(ent.start_char, ent.end_char) for ent in doc.ents if ent.label_ not in SKIPPED_LABELS]
    found = []
    for match in _COMPANY.finditer(text):
        start, end = match.span()
        name = match.group()
        # "The Best Products Co", "Yesterday Opel AG": a word the text also
        # writes in lower case opens the sentence, not the name.
        while " " in name and name.split(" ", 1)[0].casefold() in lowered_words:
            first, name = name.split(" ", 1)
            start += len(first) + 1
        cleaned = normalize_entity_name(name)  # "The Best Products Co"
        start += max(name.find(cleaned), 0)
        name = cleaned
        if " " not in name or any(start < e and s < end for s, e in taken):
            continue
        found.append(_Mention(name, "ORG", start, start + len(name), name=name))
    return found


def _resolve_acronyms(mentions: list[_Mention], text: str) -> None:
    """"National Farmers' Union (NFU)": "NFU" is that union, here and later."""
    defined: dict[str, _Mention] = {}
    for m in sorted(mentions, key=lambda m: m.start):
        if " " not in m.name and m.name in defined:
            continue
        match = _ACRONYM_AFTER.match(text, m.end)
        if match and " " in m.name:
            defined.setdefault(match.group(1), m)
    if not defined:
        return
    for acronym, owner in defined.items():
        start = text.index(acronym, owner.end)
        if not any(m.start == start for m in mentions):
            mentions.append(_Mention(acronym, owner.label, start, start + len(acronym), name=acronym))
    for m in mentions:
        owner = defined.get(m.surface)
        if owner is not None and not m.fixed:
            m.name, m.label, m.cue = owner.name, owner.label, owner.cue


def _places_missed(doc, mentions: list[_Mention], lowered_words: set[str], *, sports: bool) -> list[_Mention]:
    """Well-known places the model did not mark: a run of capitalised words
    that is a country, region or large city, outside every entity, not at the
    start of a sentence and not part of a longer run of capitalised words."""
    text = doc.text
    taken = [(ent.start_char, ent.end_char) for ent in doc.ents if ent.label_ not in SKIPPED_LABELS]
    person_words = {word for m in mentions if m.label == "PERSON" for word in m.name.split()}
    found = []
    for match in _CAPITALISED_RUN.finditer(text):
        start, end = match.span()
        name = match.group()
        if name.count(" ") > 2 or any(start < e and s < end for s, e in taken) or name in person_words:
            continue
        if _sentence_initial(text, start) and not _at_dateline(text, start, end):
            if " " not in name:
                continue
            first, name = name.split(" ", 1)  # "In Colombo": the sentence's first word is not the place's
            start += len(first) + 1
        if len(name) < 4 or name.casefold() in lowered_words or not places.is_well_known_place(name):
            continue
        if sports and not places.is_country(name):  # in sport a city named alone is as often its club
            continue
        found.append(_Mention(name, "GPE", start, end, name=name))
    return found


def _gazetteer_cues(mentions: list[_Mention], text: str) -> None:
    """A country is a place; so is a known place that opens a dateline
    ("Abu Dhabi 1996-08-22 -"), and a well-known place the model took for a
    person, unless the article names a person so."""
    person_words = _words_of_full_person_names(mentions)
    for m in mentions:
        if m.fixed or m.cue:
            continue
        if places.is_country(m.name):
            m.cue = "GPE"
        elif _at_dateline(text, m.start, m.end) and places.place(m.name) is not None:
            m.cue = "GPE"
        elif m.label == "PERSON" and places.is_well_known_place(m.name) and m.name not in person_words:
            m.cue = "GPE"


def _at_dateline(text: str, start: int, end: int) -> bool:
    """Whether text[start:end] opens a line and a date follows it: the place of a dateline."""
    return (start == 0 or text[start - 1] == "\n") and _DATE_AFTER.match(text[end:end + 40]) is not None


def _words_of_full_person_names(mentions: list[_Mention]) -> set[str]:
    """The words of the people an article names in full ("Paris" of "Paris Hilton")."""
    return {word for m in mentions if (m.cue or m.label) == "PERSON" and " " in m.name for word in m.name.split()}


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
    # One label per entity and article: a common alias's, else the vote of
    # its mentions (one_type), else its first mention's; a rule's cue before
    # the model's guess.
    labels = {name: next((m.fixed for m in members if m.fixed), None)
              or (_voted_label(members) if on["one_type"] else members[0].cue or members[0].label)
              for name, members in by_name.items()}
    changed: dict[str, str] = {}
    if on["context"]:
        # Names listed together share the list's majority label when that
        # majority is clear and the name's own evidence is the model's guess only.
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
        descriptors = tuple(dict.fromkeys(word for m in members for word in m.descriptors))
        result.append(
            EntityMention(
                name=name,
                label=labels[name],
                mentions=len(members),
                in_title=in_title,
                first_offset=first_offset,
                salience=round(min(1.0, max(0.0, salience)), 4),
                aliases=aliases,
                descriptors=descriptors,
                label_by_rule=name in changed or any(m.fixed or m.cue for m in members),
            )
        )
    result.sort(key=lambda mention: (-mention.mentions, mention.name))
    return result


def _voted_label(members: list[_Mention]) -> str:
    """A rule's cue counts three, the model's label for the full name two, for
    a short form ("United" of "Manchester United") one."""
    votes: Counter = Counter()
    for m in members:
        votes[m.cue or m.label] += 3 if m.cue else 1
    best = max(votes.values())
    # A tie goes to the earliest mention's label.
    return next(m.cue or m.label for m in members if votes[m.cue or m.label] == best)


def named_in_title(title: str | None, names: Iterable[str]) -> bool:
    """Whether the headline names the entity by its name or one of its
    aliases, as a whole word in any case: for a new article and for a copy
    that takes its story's entities alike."""
    folded = (title or "").casefold()
    return any(_in_text(name, folded) for name in names)


def _in_text(name: str, folded_text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", folded_text) is not None
