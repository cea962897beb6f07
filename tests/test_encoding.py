"""Page bytes to text: header, BOM, prolog, <meta charset> anywhere in the head, detection."""

from __future__ import annotations

import codecs
import threading
from pathlib import Path

import pytest

from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.encoding import decode_html

FIXTURES = Path(__file__).parent / "fixtures"
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
    # The Encoding Standard's Shift_JIS is Windows-31J, as browsers read it.
    assert decoded.used == "cp932" and decoded.replacement_ratio == 0.0


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


# Python codecs that are no web encodings: punycode and idna raise
# UnicodeError (not UnicodeDecodeError), punycode in quadratic time; the
# bytes-to-bytes ones are no text encodings; utf-7 and EBCDIC decode HTML into
# something else; "utf_16" in markup would read ASCII as CJK.
NOT_WEB_LABELS = ["punycode", "idna", "rot13", "uu_codec", "zlib", "hex", "base64", "utf-7",
                  "unicode_escape", "cp037", "utf_32", "palmos", "x-user-defined"]


def test_page_declaring_punycode_is_read_as_undeclared():
    raw = (FIXTURES / "page-charset-punycode.html").read_bytes()
    decoded = decode_html(raw, "text/html")
    assert "the new ferry pier will open in May" in decoded.text
    assert decoded.declared == "punycode" and decoded.used in {"cp1252", "utf-8", "ascii"}


@pytest.mark.parametrize("label", NOT_WEB_LABELS)
@pytest.mark.parametrize("where", ["meta", "header"])
def test_a_label_the_encoding_standard_does_not_know_is_undeclared(label, where):
    body = "<p>Owners on the quay say the pier delay costs them 500 euros a week.</p>"
    html = f"<html><head><meta charset='{label if where == 'meta' else 'x'}'></head><body>{body}</body></html>"
    decoded = decode_html(html.encode("ascii"), f"text/html; charset={label}" if where == "header" else None)
    assert body in decoded.text
    assert decoded.used in {"cp1252", "utf-8", "ascii"}


def test_utf_16_named_in_the_markup_means_utf_8():
    body = "<p>Owners on the quay say the pier delay costs them 500 euros a week.</p>"
    decoded = decode_html(page("utf-16").replace(BODY, body).encode("ascii"), None)
    assert body in decoded.text and decoded.used == "utf-8"


def test_a_large_page_declaring_punycode_decodes_without_hanging():
    # Hundreds of kilobytes of base-36 digits after a hyphen: what punycode's
    # quadratic decoder would chew on.  A guard against a hang, not a timing.
    raw = b"<html><head><meta charset=punycode></head><body><p>x-" + b"ab" * 300_000 + b"</p></body></html>"
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(decode_html(raw, "text/html")), daemon=True)
    worker.start()
    worker.join(timeout=60)
    assert outcome and outcome[0].used != "punycode"


@pytest.mark.parametrize("python_only_codec", ["cp037", "cp500", "utf-32"])
def test_an_undeclared_page_is_never_read_in_a_codec_no_browser_uses(python_only_codec):
    # EBCDIC or UTF-32 bytes, undeclared: whatever the page is, the detector
    # answers only with one of the web's encodings.
    raw = ("<html><body><p>The harbour council approved the new ferry terminal on the north quay "
           "after a long debate with residents.</p></body></html>").encode(python_only_codec)
    page = decode_html(raw)
    assert codecs.lookup(page.used).name != codecs.lookup(python_only_codec).name
    import webencodings

    web = {codecs.lookup(webencodings.lookup(label).codec_info.name).name for label in webencodings.LABELS
           if webencodings.lookup(label).name not in {"replacement", "x-user-defined"}}
    assert codecs.lookup(page.used).name in web
