"""pipeline.text: what every stored field goes through."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.text import cut_text, storable_text

CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


@pytest.mark.parametrize(
    ("value", "multiline", "expected"),
    [
        ("Pier\x00 opens", False, "Pier opens"),
        ("  Pier\n opens\tin\x1bMay\x85 ", False, "Pier opens inMay"),
        ("\x00\x01 \x9f", False, None),
        (None, False, None),
        ("Caf\udce9 owners", False, "Caf owners"),
        ("First line\x00.\r\nSecond\tline\x07.\rThird\x0b line.", True, "First line.\nSecond\tline.\nThird line."),
        ("\x00", True, None),
    ],
)
def test_storable_text(value, multiline, expected):
    assert storable_text(value, multiline=multiline) == expected


@given(value=st.text(), multiline=st.booleans())
def test_storable_text_holds_no_control_character_and_is_stable(value, multiline):
    text = storable_text(value, multiline=multiline)
    if text is None:
        return
    allowed = "\n\t" if multiline else ""
    assert not [ch for ch in text if CONTROL.match(ch) and ch not in allowed]
    assert text.encode("utf-8")  # no lone surrogate
    assert storable_text(text, multiline=multiline) == text
    if not multiline:
        assert text == text.strip() and "  " not in text


@pytest.mark.parametrize(
    ("text", "limit", "at", "expected"),
    [
        ("First paragraph.\nSecond one.\nThird paragraph here.", 30, "\n", "First paragraph.\nSecond one."),
        ("One long paragraph without a break in it", 20, "\n", "One long paragraph"),
        ("x\nOne long paragraph without a break", 20, "\n", "x\nOne long paragraph"),
        ("Pier opening moves to May", 12, " ", "Pier opening"),
        ("Pieropeningmovestomay", 10, " ", "Pieropenin"),
        ("short", 10, "\n", "short"),
    ],
)
def test_cut_text_prefers_a_paragraph_then_a_word(text, limit, at, expected):
    assert cut_text(text, limit, at=at) == expected
