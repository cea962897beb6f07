"""Named entities with spaCy, normalised so that counts mean something.

Raw NER output names one person three ways in one article ("Antony Blinken",
"Blinken" as a place, "Blinken's"); the rules here fold those into one
entity with one label before anything is stored.

The normalisation is a sequence of named, general rules (``RULES``); each can
be switched off through ``normalise_doc(..., disabled=...)`` so that
``bench/entities.py`` can measure what it is worth on the hand-labelled gold
set (``tests/fixtures/entities-gold.json``):

``skip_numeric``     numbers and times (DATE, CARDINAL, ...) are not entities.
``office_fragments`` "Secretary of State" gives no ORG "State".
``clean_name``       possessives, surrounding quotes/punctuation, a leading
                     English "the" removed, whitespace folded.
``titles``           honorifics and titles before a name ("Dr.", "Councillor")
                     removed; such a mention is a PERSON.
``non_names``        spans without a capitalised word ("striker's fifth") and
                     a sentence-initial single word that the article also
                     uses in lower case ("Glaciers ... glaciers") dropped.
``split_names``      two single-word entities side by side are one name the
                     model cut in two ("Florian" NORP + "Brandt" PRODUCT).
``common_aliases``   very common variants folded (``COMMON_ALIASES``:
                     "US", "U.S." -> "United States").
``acronyms``         "Chemnitz Municipal Transport (CMT)" defines CMT as an
                     alias of the long name in this article.
``short_forms``      a single word that is the first or last word of exactly
                     one longer PERSON (or the distinctive word of one longer
                     ORG) in the article is that entity ("Blinken" ->
                     "Antony Blinken", "Kestrel" -> "Kestrel Freight").
``name_heads``       the generic word a name is built on decides its type:
                     "... Road/Bridge/Station" FAC, "... University/Council/
                     Energie/Developments" ORG, "River .../... Glacier" LOC,
                     club designators ("FSV ...", "Dynamo ...") ORG.
``context``          the words around a mention: "in/near/outside X",
                     "the city/port/canton of X", "X-based" are places;
                     "translated from X", "X-language" are languages;
                     names listed together ("Weimar, Dessau and Krefeld")
                     share their majority label.
``majority_label``   one label per entity and article: the majority of its
                     mentions, full-name mentions winning over short forms.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

# Numbers and times are attributes of a story, not things it is about.
SKIPPED_LABELS = {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"}

RULES = (
    "skip_numeric",
    "office_fragments",
    "clean_name",
    "titles",
    "non_names",
    "split_names",
    "common_aliases",
    "acronyms",
    "short_forms",
    "name_heads",
    "context",
    "majority_label",
)

# Very common variants of very common names: (canonical name, label) by
# surface form (after clean_name).  Data, not per-article knowledge; the store
# records each surface form as an alias of the canonical entity.
COMMON_ALIASES: dict[str, tuple[str, str]] = {
    "US": ("United States", "GPE"),
    "U.S": ("United States", "GPE"),
    "U.S.": ("United States", "GPE"),
    "USA": ("United States", "GPE"),
    "U.S.A": ("United States", "GPE"),
    "U.S.A.": ("United States", "GPE"),
    "United States": ("United States", "GPE"),
    "United States of America": ("United States", "GPE"),
    "UK": ("United Kingdom", "GPE"),
    "U.K": ("United Kingdom", "GPE"),
    "U.K.": ("United Kingdom", "GPE"),
    "Britain": ("United Kingdom", "GPE"),
    "Great Britain": ("United Kingdom", "GPE"),
    "United Kingdom": ("United Kingdom", "GPE"),
    "UN": ("United Nations", "ORG"),
    "U.N": ("United Nations", "ORG"),
    "U.N.": ("United Nations", "ORG"),
    "United Nations": ("United Nations", "ORG"),
    "EU": ("European Union", "ORG"),
    "E.U": ("European Union", "ORG"),
    "E.U.": ("European Union", "ORG"),
    "European Union": ("European Union", "ORG"),
}

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
# Honorifics and titles that precede a person's name but are not part of it.
_TITLE_PREFIX = re.compile(
    r"^(?:(?:mr|mrs|ms|miss|mx|dr|prof|professor|sir|dame|lord|lady|rev|reverend|"
    r"councillor|councilman|councilwoman|alderman|mayor|senator|sen|rep|representative|"
    r"governor|gov|president|chancellor|minister|judge|justice|coach|captain|capt|"
    r"general|gen|colonel|col|sergeant|sgt|officer|inspector|detective|det)\.?\s+)+",
    re.IGNORECASE,
)

# Generic words English names of a type are built on (not names themselves).
_FAC_HEADS = {
    "road", "street", "lane", "avenue", "boulevard", "drive", "way", "square", "bridge", "tunnel",
    "station", "airport", "stadium", "arena", "tower", "motorway", "highway", "harbour", "harbor",
    "pier", "terminal", "cathedral", "church", "palace", "castle", "hospital",
}
_ORG_HEADS = {
    "agency", "association", "authority", "bank", "board", "club", "college", "commission",
    "committee", "company", "corporation", "corp", "council", "department", "developments",
    "energie", "energy", "federation", "foundation", "freight", "group", "holdings", "inc",
    "industries", "institute", "logistics", "ltd", "llc", "gmbh", "ag", "plc", "nv", "bv", "se",
    "media", "ministry", "museum", "packaging", "partner", "partners", "party", "post",
    "school", "service", "services", "society", "systems", "technologies", "times", "transport",
    "trust", "union", "university", "voices", "airlines", "airways", "motors", "news", "press",
}
# Club designators: the prefix or suffix that marks a sports club.
_CLUB_PREFIXES = {"fc", "sc", "sv", "fsv", "tsv", "vfb", "vfl", "afc", "cf", "ac", "as", "dynamo",
                  "dinamo", "lokomotive", "lokomotiv", "sporting", "real", "racing", "olympique"}
_CLUB_SUFFIXES = {"fc", "afc", "athletic", "rovers", "wanderers", "united", "hotspur", "albion"}
_LOC_HEADS = {"river", "glacier", "mountain", "mountains", "mount", "mt", "lake", "sea", "ocean",
              "alps", "valley", "forest", "desert", "island", "islands", "bay", "gulf", "peninsula",
              "coast", "canal"}
_LOC_PREFIXES = {"river", "lake", "mount", "mt", "gulf", "bay", "isle", "cape"}

# Context cues, looked at in the text just before / after a mention.
_LOCATIVE_BEFORE = re.compile(r"(?:^|\W)(?:in|near|outside|across|around)\s+(?:the\s+)?$")
_PLACE_OF_BEFORE = re.compile(
    r"(?:^|\W)(?:city|town|village|port|canton|state|province|county|region|district|capital|"
    r"suburbs?|outskirts|valleys?|streets|municipality|island)\s+of\s+(?:the\s+)?$",
    re.IGNORECASE,
)
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


def model_version(nlp) -> str:
    """The package name and version of a loaded pipeline, e.g. "en_core_web_sm-3.8.0"."""
    meta = nlp.meta
    name = meta.get("name") or "unknown"
    lang = meta.get("lang")
    if lang and not name.startswith(f"{lang}_"):
        name = f"{lang}_{name}"
    return f"{name}-{meta.get('version') or 'unknown'}"


def normalize_entity_name(text: str) -> str:
    """Possessives, leading articles, quotes and stray punctuation removed, spacing folded."""
    name = " ".join(text.split())
    for _ in range(2):
        name = _POSSESSIVE.sub("", name).strip(_EDGE_PUNCT + " ")
        name = _LEADING_ARTICLE.sub("", name)
    # Abbreviations keep their final full stop ("U.S."): stripping it above
    # leaves "U.S", which COMMON_ALIASES also knows.
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
        todo.append(index)
        texts.append(model_text(item)[:max_chars])
    for index, text, doc in zip(todo, texts, nlp.pipe(texts, batch_size=batch_size), strict=True):
        item = items[index]
        status = "truncated" if len(model_text(item)) > max_chars else "done"
        results[index] = EnrichResult(normalise_doc(doc, item.title), status)
    return [result for result in results if result is not None]


def model_text(item: EnrichInput) -> str:
    """The text the model reads: title, blank line, text (or the text alone)."""
    return f"{item.title}\n\n{item.text}" if item.title else item.text


# ------------------------------------------------------------ normalisation


@dataclass
class _Mention:
    surface: str  # the normalised surface form
    label: str  # the model's label, or a cue's
    start: int
    end: int
    name: str = ""  # canonical name, filled in by resolution
    cue: str | None = None  # label from context, stronger than the model's
    titled: bool = False  # preceded by an honorific
    fixed: str | None = None  # label fixed by an alias table
    siblings: list[int] = field(default_factory=list)


def normalise_doc(doc, title: str | None, *, disabled: Collection[str] = ()) -> list[EntityMention]:
    """The entities of one parsed document after the rules in ``RULES`` not in ``disabled``."""
    on = {rule: rule not in disabled for rule in RULES}
    text = doc.text
    mentions = _collect(doc, on)
    if on["acronyms"]:
        _resolve_acronyms(mentions, text)
    for m in mentions:
        if not m.name:
            m.name = m.surface
    if on["context"]:
        _context_cues(mentions, text)
    if on["short_forms"]:
        _resolve_short_forms(mentions, on)
    return _aggregate(mentions, title, text, on)


def _spans(doc, on: dict[str, bool]) -> list[tuple[str, str, int, int]]:
    """(text, label, start, end) of the model's entities, split names joined."""
    text = doc.text
    spans = [(ent.text, ent.label_, ent.start_char, ent.end_char) for ent in doc.ents
             if not (on["skip_numeric"] and ent.label_ in SKIPPED_LABELS)]
    if not on["split_names"]:
        return spans
    joined: list[tuple[str, str, int, int]] = []
    for span in spans:
        # Two single words side by side, each an entity of its own, are one
        # two-word name the model cut in two ("Florian" NORP + "Brandt" PRODUCT).
        if joined and span[2] == joined[-1][3] + 1 and text[joined[-1][3]] == " " \
                and joined[-1][1] not in SKIPPED_LABELS and span[1] not in SKIPPED_LABELS \
                and " " not in joined[-1][0] and " " not in span[0] and span[0][:1].isupper():
            previous = joined.pop()
            joined.append((text[previous[2]:span[3]], _joined_label(previous, span), previous[2], span[3]))
        else:
            joined.append(span)
    return joined


def _joined_label(first: tuple[str, str, int, int], second: tuple[str, str, int, int]) -> str:
    # A leading nationality word is an adjective ("German Bundestag") or a
    # given name ("Florian Brandt").
    if first[1] not in {"NORP", "LANGUAGE"}:
        return first[1]
    if second[1] in {"ORG", "GPE", "LOC", "FAC", "EVENT", "LAW", "WORK_OF_ART"}:
        return second[1]
    return "PERSON"


def _collect(doc, on: dict[str, bool]) -> list[_Mention]:
    text = doc.text
    lowered_words = None
    mentions: list[_Mention] = []
    for ent_text, ent_label, start, end in _spans(doc, on):
        if on["office_fragments"] and _OFFICE_BEFORE.search(text[max(0, start - 40):start]):
            continue
        surface = normalize_entity_name(ent_text) if on["clean_name"] else ent_text
        if on["clean_name"]:
            # Keep the offsets on the name itself ("the Rhein Post" starts at "Rhein").
            found = ent_text.find(surface)
            if found >= 0:
                start += found
                end = start + len(surface)
        titled = False
        if on["titles"]:
            stripped = _TITLE_PREFIX.sub("", surface)
            if stripped != surface and stripped:
                start += len(surface) - len(stripped)
                surface, titled = stripped, True
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
        mention = _Mention(surface, ent_label, start, end, titled=titled)
        if titled:
            mention.cue = "PERSON"
        if on["common_aliases"] and surface in COMMON_ALIASES:
            mention.name, mention.fixed = COMMON_ALIASES[surface]
        mentions.append(mention)
    return mentions


def _sentence_initial(text: str, start: int) -> bool:
    before = text[:start].rstrip(" \"“‘'")
    return not before or before[-1] in ".!?\n:"


def _resolve_acronyms(mentions: list[_Mention], text: str) -> None:
    """"Long Name (LN)" in the text makes LN an alias of Long Name."""
    defined: dict[str, _Mention] = {}
    for m in mentions:
        if " " not in m.surface:
            continue
        match = re.match(r"\s*\(([A-Z][A-Z&.]{1,9})\)", text[m.end:m.end + 14])
        if not match:
            continue
        acronym = match.group(1).replace(".", "")
        initials = "".join(w[0] for w in re.split(r"[\s-]+", m.surface) if w[:1].isupper())
        if acronym == initials or (acronym[0] == initials[:1] and set(acronym) <= set(initials)):
            defined[match.group(1)] = m
    for m in mentions:
        owner = defined.get(m.surface)
        if owner is not None and m is not owner:
            m.name = owner.surface
            m.fixed = None
            m.cue = owner.cue or owner.label


def _resolve_short_forms(mentions: list[_Mention], on: dict[str, bool]) -> None:
    """A single word standing for exactly one longer PERSON or ORG of the article."""
    people: set[str] = set()
    orgs: set[str] = set()
    for m in mentions:
        if " " not in m.name or m.fixed:
            continue
        label = (_head_label(m.name) if on["name_heads"] else None) or m.cue or m.label
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


def _head_label(name: str) -> str | None:
    words = name.replace("-", " ").split()
    if len(words) < 2:
        return None
    first, last = words[0].casefold().rstrip("."), words[-1].casefold().rstrip(".")
    if first in _CLUB_PREFIXES or last in _CLUB_SUFFIXES:
        return "ORG"
    if last in _FAC_HEADS:
        return "FAC"
    if last in _ORG_HEADS or any(w.casefold() in {"university", "museum", "institute", "council"} for w in words):
        return "ORG"
    if first in _LOC_PREFIXES or last in _LOC_HEADS:
        return "LOC"
    return None


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
    # (multi-word organisations are named on their own heads).
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

    def first_pass(members: list[_Mention]) -> str:
        name = members[0].name
        fixed = [m.fixed for m in members if m.fixed]
        if fixed:
            return fixed[0]
        if on["name_heads"]:
            head = _head_label(name)
            if head:
                return head
        votes = members
        if on["majority_label"]:
            full = [m for m in members if m.surface == name]
            votes = full or members
        if not on["majority_label"]:
            return votes[0].cue or votes[0].label
        # A context cue is firmer evidence than the model's guess: it counts twice.
        counter: Counter = Counter()
        for m in votes:
            counter[m.cue or m.label] += 2 if m.cue else 1
        return _most_common(counter, [m.cue or m.label for m in sorted(votes, key=lambda m: m.start)])

    labels = {name: first_pass(members) for name, members in by_name.items()}
    if on["context"]:
        # Names listed together share the list's majority label when that
        # majority is clear and the name's own evidence is the model's guess only.
        changed = {}
        for name, members in by_name.items():
            if any(m.fixed or m.cue for m in members) or (on["name_heads"] and _head_label(name)):
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

    folded_title = (title or "").casefold()
    length = max(len(text), 1)
    top = max((len(members) for members in by_name.values()), default=1)
    result = []
    for name, members in by_name.items():
        aliases = tuple(sorted({m.surface for m in members}, key=lambda s: (len(s), s)))
        first_offset = min(m.start for m in members)
        in_title = any(_in_text(alias, folded_title) for alias in {name, *aliases})
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


def _most_common(counter: Counter, in_order: list[str]) -> str:
    # Ties go to the label of the earliest mention: a story introduces a
    # name in its most explicit form.
    best = max(counter.values())
    tied = {label for label, count in counter.items() if count == best}
    return next(label for label in in_order if label in tied)


def _in_text(name: str, folded_text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", folded_text) is not None


def extract_entities_with_model(
    model_name: str, items: Sequence[EnrichInput], max_chars: int
) -> list[tuple[str, EnrichResult]]:
    """extract_entities with the named model, loaded once per process (the
    form a worker process runs); each result with the model's version."""
    nlp = load_nlp(model_name)
    version = model_version(nlp)
    return [(version, result) for result in extract_entities(nlp, items, max_chars=max_chars)]
