"""Text from feeds, pages, the database or other programs, made safe to
print on a terminal.

A stored title is whatever a site chose to write: read as rich markup,
``[/]`` ends the command with a MarkupError and ``[link=…]`` prints a
clickable link to another site; its escape sequences (ESC, the C1 controls)
can clear the screen, set the window title or hide a hyperlink behind
innocent text.  Every value that newsflow did not write itself reaches the
terminal through ``plain`` or ``markup``, which print it as literal text
without those characters.
"""

from __future__ import annotations

import re

from rich.markup import escape
from rich.table import Table
from rich.text import Text

# C0 controls but tab and newline, DEL, the C1 controls (0x9b alone starts an
# escape sequence on some terminals), and the bidirectional overrides and
# isolates, which make a terminal show text in another order than it is.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def printable(value: object) -> str:
    """``str(value)`` (None: empty) without the characters that a terminal
    would act on instead of showing."""
    return _UNPRINTABLE.sub("", "" if value is None else str(value))


def plain(value: object, style: str = "") -> Text:
    """Any value as text to print, in ``style``: never read as markup."""
    if isinstance(value, Text):
        return value
    return Text(printable(value), style=style)


def markup(template: str, *values: object) -> Text:
    """newsflow's own ``template`` (rich markup) with each ``{}`` filled by
    one of ``values``, printed as plain text."""
    return Text.from_markup(template.format(*(escape(printable(value)) for value in values)), emoji=False)


class PlainTable(Table):
    """A rich Table whose title and cells are plain text (see ``plain``); a
    cell that is a Text, made by ``plain`` or ``markup``, keeps its style.
    Column headers are newsflow's own, and may use markup."""

    def __init__(self, *headers, title: object = None, **options) -> None:
        super().__init__(*headers, title=None if title is None else plain(title), **options)

    def add_row(self, *cells: object, **options) -> None:
        super().add_row(*(plain(cell) for cell in cells), **options)


def highlighted(snippet: str, marker: str = "**", style: str = "dim", match_style: str = "bold") -> Text:
    """A search snippet whose matches PostgreSQL wrapped in ``marker``
    (ts_headline's StartSel/StopSel), as plain text with the matches in
    ``match_style``: the markers go, nothing in the text is read as markup."""
    text = Text(style=style)
    for index, part in enumerate(printable(snippet).split(marker)):
        text.append(part, style=match_style if index % 2 else "")
    return text
