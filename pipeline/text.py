"""Text as it may be stored: what every field taken from a feed, a page or
an error message goes through before it becomes a record.

PostgreSQL's text and jsonb refuse NUL, and UTF-8 cannot carry a lone
surrogate; the other C0 and C1 control characters mean nothing in a title or
an article and would only make equal texts differ.  Kept light (no imports
beyond the standard library) so that every stage can use it.
"""

from __future__ import annotations

import re

# C0 controls but \t and \n, DEL, C1 controls, lone surrogates.
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff]")
_LINE_BREAK = re.compile("\r\n?|[\x85\u2028\u2029]")


def cut_text(text: str, limit: int, *, at: str = "\n") -> str:
    """``text`` in at most ``limit`` characters: cut after the last ``at``
    (a paragraph break; a space for a line) that leaves at least half of
    ``limit``, else after the last space that does, else at ``limit``."""
    if len(text) <= limit:
        return text
    head = text[:limit + 1]
    for separator in dict.fromkeys((at, " ")):
        end = head.rfind(separator)
        if end >= limit // 2:
            return head[:end].rstrip()
    return text[:limit]


def storable_text(value: str | None, *, multiline: bool = False, limit: int | None = None) -> str | None:
    """``value`` without control characters, in at most ``limit`` characters
    (``cut_text``), or None when nothing is left.

    A single line (a title, a name, a message) has every run of white space,
    line breaks included, folded into one space and its edges trimmed; it is
    cut at a space.  Text (``multiline``) keeps its tabs and line breaks,
    written as "\\n", and is cut at a paragraph."""
    if value is None:
        return None
    if multiline:
        text = _NOT_IN_TEXT.sub("", _LINE_BREAK.sub("\n", value))
    else:
        text = " ".join(_NOT_IN_TEXT.sub("", value).split())
    if limit is not None:
        text = cut_text(text, limit, at="\n" if multiline else " ")
    return text or None


# A paragraph of article prose: this many words or more, ending as a sentence ends.
PROSE_MIN_WORDS = 20
_SENTENCE_END = re.compile(r"[.!?…][\"'”’»)\]]*$")


def prose_shaped(line: str) -> bool:
    """A line as long as an article's paragraph and ending as a sentence ends."""
    return len(line.split()) >= PROSE_MIN_WORDS and bool(_SENTENCE_END.search(line.strip()))
