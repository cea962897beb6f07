"""Bytes of a page -> text, by the order browsers use: byte-order mark, HTTP
header, XML prolog, <meta charset> (wherever it sits in the head, not only
in the first 1024 bytes), then detection (charset-normalizer).

A declared label counts only when the WHATWG Encoding Standard knows it
(webencodings holds its label table): Python codecs such as punycode, idna,
rot13, zlib or utf-7 are no web encodings, raise errors other than
UnicodeDecodeError, or take quadratic time (punycode), so a page that names
one is read as if it declared nothing."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import webencodings
from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16le"),
    (codecs.BOM_UTF16_BE, "utf-16be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_XML_PROLOG = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE
)
# How far into the page a <meta charset> is looked for: past the 1024 bytes
# the HTML standard asks for, because pages put scripts and styles first.
META_SCAN_BYTES = 64 * 1024
# Encodings the standard names that decode no page's text: "replacement"
# turns a whole page into one U+FFFD (iso-2022-kr, hz-gb-2312: a defence for
# browsers), "x-user-defined" is for binary data.
_NOT_FOR_TEXT = frozenset({"replacement", "x-user-defined"})
_UTF16 = frozenset({"utf-16le", "utf-16be"})
# The Python codecs of the encodings the web uses (the WHATWG standard's),
# the only ones the detector may answer: left free, it reads a page of bytes
# as EBCDIC (cp037) or another codec no browser would use for a page.
_WEB_CODECS = sorted({
    webencodings.lookup(name).codec_info.name
    for name in set(webencodings.LABELS.values()) if name not in _NOT_FOR_TEXT
})


@dataclass(frozen=True)
class DecodedPage:
    text: str
    declared: str | None  # what the header or the markup said
    used: str  # what decoded the page
    replacement_ratio: float  # share of U+FFFD in the text


def _codec(label: str | None, *, in_markup: bool = False) -> str | None:
    """The Python codec of a WHATWG encoding label; None for any other label."""
    if not label:
        return None
    encoding = webencodings.lookup(label.strip().strip("\"'"))
    if encoding is None or encoding.name in _NOT_FOR_TEXT:
        return None
    if in_markup and encoding.name in _UTF16:
        # HTML: markup that states its charset in ASCII bytes is not UTF-16.
        return "utf-8"
    return encoding.codec_info.name


def declared_charsets(content: bytes, content_type: str | None) -> list[tuple[str, bool]]:
    """(label, stated in the markup) of each charset the response states,
    most authoritative first."""
    found: list[tuple[str, bool]] = []
    for prefix, name in _BOMS:
        if content.startswith(prefix):
            found.append((name, False))
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        if match:
            found.append((match.group(1), False))
    prolog = _XML_PROLOG.match(content[:200])
    if prolog:
        found.append((prolog.group(1).decode("ascii"), True))
    head = content[:META_SCAN_BYTES]
    end_of_head = head.lower().find(b"</head")
    meta = _META_CHARSET.search(head if end_of_head < 0 else head[:end_of_head])
    if meta:
        found.append((meta.group(1).decode("ascii", errors="ignore"), True))
    return found


def decode_html(content: bytes, content_type: str | None = None) -> DecodedPage:
    declared = declared_charsets(content, content_type)
    candidates = [
        codec for codec in (_codec(label, in_markup=in_markup) for label, in_markup in declared) if codec
    ]
    if candidates and candidates[0] != "utf-8" and _is_multibyte_utf8(content):
        # Text that is valid UTF-8 with multi-byte sequences is UTF-8 whatever
        # a stale header says: legacy text almost never forms such sequences.
        candidates.insert(0, "utf-8")
    labels = [label for label, _ in declared]
    for codec in dict.fromkeys(candidates):
        try:
            text = content.decode(codec)
        except UnicodeDecodeError:
            continue
        return _decoded(_strip_bom(text), labels, codec)
    best = from_bytes(content[:512 * 1024], cp_isolation=_WEB_CODECS).best()
    if best is not None and best.encoding:
        # The detector names Python text codecs; where its name is also a web
        # label ("ascii"), the web's meaning (windows-1252) wins.
        codec = _codec(best.encoding) or codecs.lookup(best.encoding).name
        return _decoded(content.decode(codec, errors="replace"), labels, codec)
    codec = candidates[0] if candidates else "utf-8"
    return _decoded(content.decode(codec, errors="replace"), labels, codec)


def _is_multibyte_utf8(content: bytes) -> bool:
    if content.isascii():
        return False
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _strip_bom(text: str) -> str:
    return text[1:] if text.startswith("\ufeff") else text


def _decoded(text: str, declared: list[str], codec: str) -> DecodedPage:
    ratio = text.count("\ufffd") / len(text) if text else 0.0
    return DecodedPage(
        text=text,
        declared=declared[0].lower() if declared else None,
        used=codec,
        replacement_ratio=round(ratio, 6),
    )
