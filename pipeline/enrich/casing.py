"""Text in capitals, given back the case its words have in running text, so
that the model reads names as names.

A model trained on mixed case reads "SOCCER - JAPAN GET LUCKY WIN" as a row
of organisations and "JERUSALEM 1996-08-22 - Israel said ..." as one.  The
headline's words take the case they have elsewhere in the article ("Japan"
where the body says "Japan", "get" where it says "get"), then the
gazetteers' (``pipeline.enrich.places``); a dateline in capitals is a place
name and is title-cased.  Only the case changes, never the length, so that
the offsets of what the model finds still point into the stored text.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict

from pipeline.enrich.places import place

_WORD = re.compile(r"[^\W\d_][\w'’.&-]*")
# A headline shouts when nearly all its letters are capitals.
_SHOUTING_SHARE = 0.8
_MIN_LETTERS = 6
_HEADLINE_CITY = 500_000
# "JERUSALEM 1996-08-22 - ", "FARMINGTON HILLS, Mich. 1996-08-30 - ",
# "BEIJING (Reuters) - ": capitals at the start of the text, then a date, an
# agency in brackets, a comma or a dash.
_DATELINE = re.compile(r"^(?P<place>[A-Z][A-Z'’.-]+(?: [A-Z][A-Z'’.-]+){0,3})(?=,| \d| ?\(| [-–—])", re.MULTILINE)


# "Atlanta 1996-08-25 - ", "BEIJING (Reuters) - ", "Farmington Hills, Mich. 1996-08-30 - ".
_DATELINE_DASH = re.compile(
    r"(?P<head>[A-Z][\w.'’-]*(?: [A-Z][\w.'’-]*){0,3}(?:, [A-Z][\w.'’ -]{1,20}?)? ?"
    r"(?:\d{4}-\d\d-\d\d|\([^()\n]{1,30}\)))"
    r" [-–—] (?=[A-Z\"“])", re.MULTILINE)


def shouting(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return len(letters) >= _MIN_LETTERS and sum(c.isupper() for c in letters) >= _SHOUTING_SHARE * len(letters)


def _forms_in(text: str) -> dict[str, Counter]:
    """How each word is written in running text: mid-sentence occurrences
    only, where case means something."""
    forms: dict[str, Counter] = defaultdict(Counter)
    for match in _WORD.finditer(text):
        before = text[:match.start()].rstrip(" \"“‘'(")
        if not before or before[-1] in ".!?\n:":
            continue
        # A word in capitals mid-sentence is an acronym ("NATO"): kept so.
        forms[match.group().casefold()][match.group()] += 1
    return forms


def _known_place(word: str) -> bool:
    """A country, region or area, or a city large enough that its name in a
    headline is the city ("SURPRISE" is a word before it is a town in Arizona)."""
    found = place(word)
    return found is not None and (found.kind != "city" or found.population >= _HEADLINE_CITY)


def _recased(word: str, forms: dict[str, Counter], *, first: bool) -> str:
    seen = forms.get(word.casefold())
    if seen:
        cased = seen.most_common(1)[0][0]
    elif _known_place(word):
        cased = word.capitalize()
    elif "." in word.rstrip("."):
        cased = word  # "U.S.", "U.N.": abbreviations keep their capitals
    elif word.endswith("."):
        return _recased(word[:-1], forms, first=first) + "."  # "WIN." ends the headline
    else:
        cased = word.lower()
    if first:
        cased = cased[:1].upper() + cased[1:]
    return cased if len(cased) == len(word) else word


def true_cased_title(title: str, text: str) -> str:
    """``title`` with its words cased as ``text`` writes them, if it shouts;
    else ``title`` as it is."""
    if not shouting(title):
        return title
    forms = _forms_in(text)
    out, last = [], 0
    for n, match in enumerate(_WORD.finditer(title)):
        out += [title[last:match.start()], _recased(match.group(), forms, first=n == 0)]
        last = match.end()
    out.append(title[last:])
    return "".join(out)


def true_cased_dateline(text: str) -> str:
    """A dateline at the start of ``text`` or of a paragraph read as one: title-cased if in
    capitals ("JERUSALEM 1996-08-22 -": it names a place), and its dash
    made a full stop, so that the story's first words open a sentence of
    their own ("... 1996-08-25.  Fred McGriff went 5-for-5": the model reads
    a name after a dash as part of the dateline)."""
    def cased(match: re.Match) -> str:
        name = match.group("place")
        if len(name) < 3:
            return name
        title = " ".join(word.capitalize() if len(word) > 2 or "." not in word else word for word in name.split(" "))
        return title if len(title) == len(name) else name

    # Any paragraph may open with one: a round-up carries a dateline per story.
    text = _DATELINE.sub(cased, text)
    return _DATELINE_DASH.sub(lambda match: match.group("head") + ".  ", text)
