"""Stored text on the terminal: plain text, matches highlighted, nothing interpreted."""

from __future__ import annotations

from flows.terminal import highlighted


def test_a_snippet_shows_its_matches_bold_without_the_markers():
    text = highlighted("talks on **North Korea** went on [/] \x1b[2J")
    assert text.plain == "talks on North Korea went on [/] [2J"
    bold = [text.plain[span.start:span.end] for span in text.spans if span.style == "bold"]
    assert bold == ["North Korea"]
