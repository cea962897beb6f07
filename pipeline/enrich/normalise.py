"""Normalise the entities spaCy found in one article, so that counts mean something.

Raw NER output names one person three ways in one article ("Antony Blinken",
"Blinken" as a place, "Blinken's"); the rules here fold those into one
entity with one label before anything is stored.

The normalisation is a sequence of named, general rules (``RULES``); each can
be switched off through ``normalise_doc(..., disabled=...)`` so that
``bench/entities.py`` can measure what it is worth:

``skip_numeric``     numbers and times (DATE, CARDINAL, ...) are not entities.
``holidays``         named holidays and seasons of the calendar ("before
                     Easter") are dates, not places or organisations.
``office_fragments`` "Secretary of State" gives no ORG "State".
``clean_name``       possessives, surrounding quotes/punctuation, a leading
                     English "the" removed, whitespace folded.
``titles``           honorifics and titles before a name ("Dr.", "Councillor")
                     removed; such a mention is a PERSON.
``non_names``        spans without a capitalised word ("striker's fifth") and
                     a sentence-initial single word that the article also
                     uses in lower case ("Glaciers ... glaciers") dropped.
``split_names``      two single-word entities side by side are one name the
                     model cut in two ("Florian" NORP + "Brandt" PRODUCT) when
                     the first can begin a name: a PERSON, or a NORP/LANGUAGE
                     (a given name typed wrongly) not before a PERSON.  A place
                     or organisation qualifies the next name ("Kentucky GOP",
                     "Airbus A350"): two entities.
``editions``        an outlet's name followed by a language ("Rhein Post" +
                     "English", "BBC" + "Arabic") is one name: that edition.
``appositions``      capitalised words right after a job title and before a
                     comma or "said" ("foreign minister, Choe Son Hui,") name
                     a person, also when the model found nothing there or
                     called the name something else.
``common_aliases``   very common variants folded (``COMMON_ALIASES``:
                     "US", "U.S." -> "United States").
``acronyms``         "Chemnitz Municipal Transport (CMT)" defines CMT as an
                     alias of the long name in this article.
``definite_places`` a single word the model calls a person or a city but
                     the text gives a definite article ("the Rhine.", "the
                     foot of the Grossglockner,", "across the Rhineland in")
                     is a river, mountain or region: LOC.  People and cities
                     take no "the" in English; the few countries and cities
                     that do (``GPE_WITH_THE``) are left alone.
``modifiers``        a name used to qualify a common noun says what it names:
                     "the Weaste estate/district" a place (GPE), "the
                     Waalhaven land" a place (LOC), "Metrolink trams" the
                     operator (ORG; only for what the model took for a person).
``short_forms``      a single word that is the first or last word of exactly
                     one longer PERSON (or the distinctive word of one longer
                     ORG) in the article is that entity ("Blinken" ->
                     "Antony Blinken", "Kestrel" -> "Kestrel Freight"); a NORP
                     ("Republican") is an adjective, never an ORG's short form.
``name_heads``       the generic word a name is built on decides its type:
                     "... Road/Bridge/Station" FAC, "... University/Council/
                     Energie/Developments" ORG, "River .../... Glacier" LOC,
                     club designators ("FSV ...", "Dynamo ...") ORG, German
                     compounds on a facility word ("Sportpark ...",
                     "...stadion", "...bahnhof") FAC.
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
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from pipeline.text import storable_text

# Numbers and times are attributes of a story, not things it is about.
SKIPPED_LABELS = {"DATE", "TIME", "PERCENT", "MONEY", "QUANTITY", "ORDINAL", "CARDINAL"}

RULES = (
    "skip_numeric",
    "holidays",
    "office_fragments",
    "clean_name",
    "titles",
    "non_names",
    "split_names",
    "editions",
    "appositions",
    "common_aliases",
    "acronyms",
    "modifiers",
    "definite_places",
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

# Named days and seasons of the calendar: times, like DATE ("before Easter").
HOLIDAYS = {
    "Easter", "Christmas", "Christmas Eve", "Christmas Day", "New Year", "New Year's Day", "New Year’s Day",
    "New Year's Eve", "New Year’s Eve", "Boxing Day", "Good Friday", "Easter Monday", "Easter Sunday",
    "Whitsun", "Pentecost", "Lent", "Advent", "Halloween", "Thanksgiving", "Ramadan", "Eid", "Eid al-Fitr",
    "Eid al-Adha", "Hanukkah", "Passover", "Diwali", "Carnival", "Mardi Gras", "Ascension Day",
}
# Countries and cities whose English name takes "the".
GPE_WITH_THE = {
    "Netherlands", "Hague", "Philippines", "Bahamas", "Gambia", "Maldives", "Seychelles", "Comoros",
    "Vatican", "Congo", "Sudan", "Ukraine", "Bronx", "Crimea", "Lebanon", "Yemen", "Emirates",
}
# Titles that can stand alone with "the" ("the Pope said"): not places.
_THE_TITLES = {"pope", "queen", "king", "prince", "princess", "emperor", "chancellor", "president", "pontiff"}

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
# German compounds built on a facility word ("Sportpark Altendorf", "Westfalenstadion").
_FAC_COMPOUND_ENDINGS = ("stadion", "sportpark", "bahnhof", "brücke", "strasse", "straße", "flughafen")

# A job title just before a name in apposition ("foreign minister, Choe Son
# Hui, said"); the name: 2-4 capitalised words (with "de"/"van"/... inside),
# then a comma, full stop or a verb of saying.
_NAME_WORD = r"[A-ZÀ-Þ][a-zß-ÿ]+(?:-[A-Za-zß-ÿ][a-zß-ÿ]+)?"
_APPOSITION = re.compile(
    r"(?i:\b(?:minister|secretary|spokes(?:man|woman|person)|president|chair(?:man|woman)?|director|"
    r"ambassador|envoy|leader|chief|governor|mayor|official|commander|adviser|advisor|executive|"
    r"manager|coach|captain|professor|researcher|scientist|curator|founder|head))"
    rf"\s*,?\s+({_NAME_WORD}(?:\s+(?:(?:de|van|von|der|da|di|del|la|le|bin|al)\s+)?{_NAME_WORD}){{1,3}})"
    r"(?=\s*[,.;:]|\s+(?:said|says|told|added|warned|wrote)\b)"
)
# "the X" closed as a noun phrase: punctuation, the end, or a function word follows.
_CLOSED_AFTER = re.compile(
    r"^(?:\s*[,.;:!?)\]”’\"]|\s*$|\s+(?:at|in|on|of|near|from|to|into|and|or|is|was|are|were|has|had|"
    r"which|where|that|with|by|for|between|below|above|flows?|flowed|rises?)\b)"
)
_COORDINATED_NAME = re.compile(r"(?:\s*,\s*|\s+(?:and|or)\s+|\s*,\s+(?:and|or)\s+)[A-ZÀ-Þ][\w’'-]*")
_THE_BEFORE = re.compile(r"(?:^|\W)[Tt]he\s+$")
# Common nouns a name can qualify, and what that makes the name.
_MODIFIED_NOUNS = (
    (re.compile(r"^\s+(?:estate|district|quarter|suburb|neighbourhood|neighborhood|borough)s?\b"), "GPE", None),
    (re.compile(r"^\s+(?:land|area|region|basin|catchment)s?\b"), "LOC", None),
    (re.compile(r"^\s+(?:trams?|buses|trains?|flights|ferries|airline)\b"), "ORG", {"PERSON"}),
)

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



def normalize_entity_name(text: str) -> str:
    """Possessives, leading articles, quotes and stray punctuation removed,
    spacing folded, control characters dropped."""
    name = storable_text(text) or ""
    for _ in range(2):
        name = _POSSESSIVE.sub("", name).strip(_EDGE_PUNCT + " ")
        name = _LEADING_ARTICLE.sub("", name)
    # Abbreviations keep their final full stop ("U.S."): stripping it above
    # leaves "U.S", which COMMON_ALIASES also knows.
    return name



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
    if on["appositions"]:
        mentions.extend(_appositions(mentions, text, on))
        mentions.sort(key=lambda m: m.start)
    if on["acronyms"]:
        _resolve_acronyms(mentions, text)
    for m in mentions:
        if not m.name:
            m.name = m.surface
    if on["modifiers"]:
        _modifier_cues(mentions, text)
    if on["definite_places"]:
        _definite_places(mentions, text)
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
    if on["editions"]:
        spans = _join_editions(spans, text)
    if not on["split_names"]:
        return spans
    joined: list[tuple[str, str, int, int]] = []
    for span in spans:
        # Two single words side by side, each an entity of its own, are one
        # two-word name the model cut in two ("Florian" NORP + "Brandt" PRODUCT).
        if joined and span[2] == joined[-1][3] + 1 and text[joined[-1][3]] == " " \
                and span[1] not in SKIPPED_LABELS and _may_begin_a_split_name(joined[-1], span) \
                and " " not in joined[-1][0] and " " not in span[0] and span[0][:1].isupper():
            previous = joined.pop()
            joined.append((text[previous[2]:span[3]], _joined_label(previous, span), previous[2], span[3]))
        else:
            joined.append(span)
    return joined


def _join_editions(spans: list[tuple[str, str, int, int]], text: str) -> list[tuple[str, str, int, int]]:
    """An outlet directly followed by a language ("Rhein Post English") is one
    organisation: that outlet's edition in the language."""
    joined: list[tuple[str, str, int, int]] = []
    for span in spans:
        if joined and span[1] in {"LANGUAGE", "NORP"} and " " not in span[0] and span[2] == joined[-1][3] + 1 \
                and text[joined[-1][3]] == " " and (joined[-1][1] == "ORG" or _head_label(
                    normalize_entity_name(joined[-1][0])) == "ORG"):
            previous = joined.pop()
            joined.append((text[previous[2]:span[3]], "ORG", previous[2], span[3]))
        else:
            joined.append(span)
    return joined


# The labels a first word cut from the rest of its name carries: a given name
# the model typed as a nationality or language ("Florian" NORP), or itself.
_SPLIT_NAME_FIRST_LABELS = {"NORP", "LANGUAGE", "PERSON"}


def _may_begin_a_split_name(first: tuple[str, str, int, int], second: tuple[str, str, int, int]) -> bool:
    """Whether ``first`` can be the first word of a name the model cut before ``second``.

    A place or an organisation before a name qualifies it ("Kentucky GOP",
    "Airbus A350"): two entities, not one.  A nationality before a name the
    model already calls a person describes that person ("American Gauff").  A
    possessive ("Trump's Pentagon") ends a name rather than starting one.
    """
    if first[1] not in _SPLIT_NAME_FIRST_LABELS or _POSSESSIVE.search(first[0]):
        return False
    return not (first[1] in {"NORP", "LANGUAGE"} and second[1] == "PERSON")


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
        if on["holidays"] and surface in HOLIDAYS:
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


def _appositions(mentions: list[_Mention], text: str, on: dict[str, bool]) -> list[_Mention]:
    """Names in apposition to a job title: new PERSON mentions where the model
    marked nothing, a PERSON cue where it marked exactly that name otherwise
    ("minister, Olaf Scholz," as ORG)."""
    found = []
    for match in _APPOSITION.finditer(text):
        start, end = match.span(1)
        name = match.group(1)
        if on["name_heads"] and _head_label(name):  # "chief Executive Committee"
            continue
        overlapping = [m for m in mentions if m.start < end and start < m.end]
        if not overlapping:
            found.append(_Mention(name, "PERSON", start, end, cue="PERSON"))
        elif len(overlapping) == 1 and overlapping[0].surface == name and not overlapping[0].fixed:
            overlapping[0].cue = overlapping[0].cue or "PERSON"
    return found


def _definite_places(mentions: list[_Mention], text: str) -> None:
    """"the Rhine.", "the foot of the Grossglockner,": a one-word name with a
    definite article that the model took for a person or a city is a LOC."""
    for m in mentions:
        name = m.name
        if (m.fixed or m.cue or " " in name or m.label not in {"PERSON", "GPE"} or name.isupper()
                or name in GPE_WITH_THE or name.casefold() in _THE_TITLES):
            continue
        if _THE_BEFORE.search(text[max(0, m.start - 6):m.start]) and _CLOSED_AFTER.match(text[m.end:m.end + 12]):
            m.cue = "LOC"


def _modifier_cues(mentions: list[_Mention], text: str) -> None:
    """A one-word name qualifying a common noun: "the Weaste estate" (a place),
    "Metrolink trams" (the operator); also in a coordination ("the Sonnenberg
    and Kaßberg districts")."""
    for m in mentions:
        if m.fixed or m.cue or " " in m.name or m.label == "NORP":
            continue
        end = m.end
        while coordinated := _COORDINATED_NAME.match(text, end):
            end = coordinated.end()
        after = text[end:end + 16]
        for pattern, label, only_from in _MODIFIED_NOUNS:
            if pattern.match(after) and (only_from is None or m.label in only_from):
                m.cue = label
                break


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
    if any(w.casefold().endswith(_FAC_COMPOUND_ENDINGS) for w in words):
        return "FAC"
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


def _most_common(counter: Counter, in_order: list[str]) -> str:
    # Ties go to the label of the earliest mention: a story introduces a
    # name in its most explicit form.
    best = max(counter.values())
    tied = {label for label, count in counter.items() if count == best}
    return next(label for label in in_order if label in tied)


def named_in_title(title: str | None, names: Iterable[str]) -> bool:
    """Whether the headline names the entity by its name or one of its
    aliases, as a whole word in any case: for a new article and for a copy
    that takes its story's entities alike."""
    folded = (title or "").casefold()
    return any(_in_text(name, folded) for name in names)


def _in_text(name: str, folded_text: str) -> bool:
    return re.search(rf"(?<!\w){re.escape(name.casefold())}(?!\w)", folded_text) is not None
