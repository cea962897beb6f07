"""How a command prints its results: rows as a table on the terminal, or as JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console, RenderableType

from flows.terminal import PlainTable

console = Console()


class Column:
    """One column of a printed table: its header, how a row gives its cell,
    and rich's options for the column (justify, overflow, ratio, style, …).
    The cell is a function of the row, or what to look up in it: a key of a
    dict, an attribute of a record, an index of a tuple; by default the header."""

    def __init__(self, header: str, cell: str | int | Callable[[Any], object] | None = None, **options: Any) -> None:
        self.header = header
        self.cell = cell
        self.options = options

    def value(self, row: Any) -> object:
        if callable(self.cell):
            return self.cell(row)
        key = self.header if self.cell is None else self.cell
        if isinstance(key, str) and not isinstance(row, Mapping):
            return getattr(row, key)
        return row[key]


def print_json(value: object) -> None:
    """``value`` as indented JSON on stdout; what JSON cannot hold (times, dates) as its text."""
    print(json.dumps(value, default=str, indent=2))


def print_rows(
    rows: Sequence[Any],
    columns: Iterable[Column],
    *,
    title: str,
    as_json: bool = False,
    record: Callable[[Any], object] | None = None,
    empty: RenderableType | None = None,
    footer: Iterable[RenderableType] = (),
    **table_options: Any,
) -> None:
    """``rows`` as JSON (each through ``record`` when given) or as a table of
    ``columns``.  On the terminal, no rows print ``empty`` instead of the
    table when it is given, and the lines of ``footer`` follow a table."""
    if as_json:
        print_json([record(row) for row in rows] if record else list(rows))
        return
    if not rows and empty is not None:
        console.print(empty)
        return
    table = PlainTable(title=title, title_justify="left", **table_options)
    columns = list(columns)
    for column in columns:
        table.add_column(column.header, **column.options)
    for row in rows:
        table.add_row(*(column.value(row) for column in columns))
    console.print(table)
    for line in footer:
        console.print(line, soft_wrap=True)


def when(moment) -> str:
    """A stored time as the tables show it, to the minute; '-' for none."""
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"
