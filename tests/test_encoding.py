"""Page bytes to text: header, BOM, prolog, <meta charset> anywhere in the head, detection."""

from __future__ import annotations

import codecs

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.encoding import decode_html

BODY = "<p>Café owners on the “quay” pay €500 — naïve fiancée in Düsseldorf.</p>"


def page(charset: str, padding: int = 0, meta: bool = True) -> str:
    head = (f"<script>/*{'x' * padding}*/</script>" if padding else "") + (
        f"<meta charset='{charset}'>" if meta else "")
    return f"<!DOCTYPE html><html><head>{head}<title>t</title></head><body>{BODY}</body></html>"


def test_windows_1252_meta_past_the_first_1024_bytes():
    decoded = decode_html(page("windows-1252", padding=2000).encode("cp1252"), "text/html")
    assert BODY in decoded.text
    assert (decoded.declared, decoded.used, decoded.replacement_ratio) == ("windows-1252", "cp1252", 0.0)


def test_iso_8859_1_label_means_windows_1252_as_browsers_read_it():
    raw = page("iso-8859-1").replace("€500 — ", "").encode("cp1252")
    decoded = decode_html(raw, None)
    assert "Café owners" in decoded.text and decoded.used == "cp1252"


def test_shift_jis_page():
    text = "<html><head><meta charset='Shift_JIS'></head><body><p>日本語のニュース記事です。東京で会議。</p></body></html>"
    decoded = decode_html(text.encode("shift_jis"), "text/html")
    assert "日本語のニュース記事です。東京で会議。" in decoded.text
    assert decoded.used == "shift_jis" and decoded.replacement_ratio == 0.0


def test_header_beats_meta_and_utf8_beats_a_stale_single_byte_header():
    utf8 = page("utf-8").encode("utf-8")
    assert BODY in decode_html(utf8, "text/html; charset=iso-8859-1").text
    latin = page("utf-8", meta=False).replace("€500 — ", "").encode("cp1252")
    decoded = decode_html(latin, "text/html; charset=windows-1252")
    assert "Café owners" in decoded.text and decoded.declared == "windows-1252"


def test_bom_wins_and_is_removed():
    raw = codecs.BOM_UTF8 + page("windows-1252").encode("utf-8")
    decoded = decode_html(raw, "text/html; charset=windows-1252")
    assert decoded.text.startswith("<!DOCTYPE html>") and BODY in decoded.text
    assert decoded.used == "utf-8"


def test_undeclared_legacy_page_is_detected():
    raw = ("<html><body><p>" + "Привет, это новостная статья на русском языке о погоде. " * 5 + "</p></body></html>").encode("cp1251")
    decoded = decode_html(raw, "text/html")
    assert "Привет, это новостная статья" in decoded.text and decoded.declared is None


@settings(max_examples=150, deadline=None)
@given(raw=st.binary(max_size=3000), header=st.one_of(st.none(), st.sampled_from([
    "text/html", "text/html; charset=utf-8", "text/html; charset=bogus-charset", "text/html; charset=shift_jis"])))
def test_any_bytes_decode_to_text_with_a_ratio_in_range(raw, header):
    decoded = decode_html(raw, header)
    assert isinstance(decoded.text, str) and 0.0 <= decoded.replacement_ratio <= 1.0
    assert codecs.lookup(decoded.used)
