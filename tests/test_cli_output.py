"""flows/cli/output.py: rows printed as a table, or as JSON with --json."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from flows.cli.output import Column, print_rows, when


@dataclass
class Feed:
    url: str
    title: str | None


ROWS = [{"name": "Free press", "articles": 4, "seen": datetime(2021, 3, 18, 9, 12, tzinfo=UTC)},
        {"name": "Metro Wire", "articles": 2, "seen": None}]
COLUMNS = [Column("feed", "name"), Column("articles", justify="right"), Column("seen", lambda row: when(row["seen"]))]


def test_json_prints_the_rows_themselves_with_times_as_text(capsys):
    print_rows(ROWS, COLUMNS, title="feeds", as_json=True, footer=["not in JSON"])
    assert json.loads(capsys.readouterr().out) == [
        {"name": "Free press", "articles": 4, "seen": "2021-03-18 09:12:00+00:00"},
        {"name": "Metro Wire", "articles": 2, "seen": None},
    ]


def test_json_prints_each_row_through_record_when_given(capsys):
    print_rows([Feed("https://a.example/rss", None)], [Column("url")], title="feeds", as_json=True,
               record=lambda feed: {"url": feed.url, "named": feed.title is not None})
    assert json.loads(capsys.readouterr().out) == [{"url": "https://a.example/rss", "named": False}]


def test_table_has_the_title_headers_and_one_line_per_row_then_the_footer(capsys):
    print_rows(ROWS, COLUMNS, title="2 feeds", footer=["then this"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].strip() == "2 feeds"
    assert ["feed", "articles", "seen"] == [cell.strip() for cell in lines[2].strip("┃").split("┃")]
    body = [line for line in lines if line.startswith("│")]
    assert [[cell.strip() for cell in line.strip("│").split("│")] for line in body] == [
        ["Free press", "4", "2021-03-18 09:12"], ["Metro Wire", "2", "-"],
    ]
    assert lines[-1] == "then this"


def test_cells_come_from_attributes_of_records_and_items_of_tuples(capsys):
    print_rows([Feed("https://a.example/rss", None)], [Column("url"), Column("title")], title="records")
    print_rows([("de", 3)], [Column("language", 0), Column("articles", 1)], title="tuples")
    out = capsys.readouterr().out
    assert "│ https://a.example/rss │       │" in out  # a missing title prints as nothing, not "None"
    assert "│ de       │ 3        │" in out


def test_no_rows_print_the_empty_message_instead_of_the_table_and_footer(capsys):
    print_rows([], COLUMNS, title="0 feeds", empty="no feeds stored yet", footer=["not shown"])
    assert capsys.readouterr().out == "no feeds stored yet\n"
    print_rows([], COLUMNS, title="0 feeds")
    assert "0 feeds" in capsys.readouterr().out


def test_stored_text_in_a_cell_is_not_read_as_markup(capsys):
    print_rows([{"name": "[bold]x[/] \x1b[2J"}], [Column("feed", "name")], title="feeds")
    assert "│ [bold]x[/]" in capsys.readouterr().out
