"""The web app's server-drawn chart and its cursors, on fixed inputs (no database)."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import UTC, date, datetime

import pytest

from flows.web.app import BadParameter, _decode_cursor, _encode_cursor, _text_key, _time_key
from flows.web.chart import bar_chart, every_day

SVG = "{http://www.w3.org/2000/svg}"


def test_every_day_fills_the_days_between_with_zero():
    assert every_day({date(2021, 3, 1): 2, date(2021, 3, 4): 5}) == [
        (date(2021, 3, 1), 2), (date(2021, 3, 2), 0), (date(2021, 3, 3), 0), (date(2021, 3, 4), 5)]
    assert every_day({}) == []


def test_the_chart_is_well_formed_svg_with_a_bar_per_day_scaled_to_the_largest():
    svg = ElementTree.fromstring(str(bar_chart({date(2021, 3, 1): 2, date(2021, 3, 3): 8}, label="mentions")))
    bars = svg.findall(f"{SVG}rect")
    assert len(bars) == 3
    heights = [float(bar.get("height")) for bar in bars]
    assert heights[1] == 0 and heights[2] == 4 * heights[0] > 0
    assert [bar.find(f"{SVG}title").text for bar in bars][2] == "2021-03-03: 8 mentions"


def test_the_chart_escapes_its_label():
    svg = str(bar_chart({date(2021, 3, 1): 1}, label='<script>"x"</script>'))
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    ElementTree.fromstring(svg)


def test_no_counts_draw_no_chart():
    assert "no mentions" in bar_chart({}, label="mentions")


def test_a_cursor_gives_back_its_key():
    moment = datetime(2021, 3, 18, 9, 12, 0, 123456, tzinfo=UTC)
    assert _decode_cursor(_encode_cursor(moment, 42), _time_key) == (moment, 42)
    assert _decode_cursor(_encode_cursor("north korea", 7), _text_key) == ("north korea", 7)
    assert _decode_cursor(None, _time_key) is None


@pytest.mark.parametrize("cursor", ["", "abc", "%%%", _encode_cursor("x", 0), _encode_cursor("2021-01-01", "1"),
                                    _encode_cursor(5, 1), _encode_cursor("x\x00", 1), _encode_cursor("x", 2**63)])
def test_a_cursor_that_is_not_ours_is_a_bad_parameter(cursor):
    with pytest.raises(BadParameter):
        key = _time_key if cursor != _encode_cursor("x\x00", 1) else _text_key
        _decode_cursor(cursor, key)
