"""Bytes of a page -> text, by the order browsers use: byte-order mark, HTTP
header, XML prolog, <meta charset> (wherever it sits in the head, not only
in the first 1024 bytes), then detection (charset-normalizer)."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

from charset_normalizer import from_bytes

_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.IGNORECASE)
_XML_PROLOG = re.compile(rb"^\s*<\?xml[^>]*encoding\s*=\s*[\"']([\w.:-]+)[\"']", re.IGNORECASE)
_META_CHARSET = re.compile(
    rb"<meta[^>]+?charset\s*=\s*[\"']?\s*([\w.:-]+)", re.IGNORECASE
)
# How far into the page a <meta charset> is looked for: past the 1024 bytes
# the HTML standard asks for, because pages put scripts and styles first.
META_SCAN_BYTES = 64 * 1024
# What the web means by these labels (WHATWG Encoding Standard).
_WEB_ALIASES = {"iso-8859-1": "windows-1252", "latin1": "windows-1252", "latin-1": "windows-1252",
                "us-ascii": "windows-1252", "ascii": "windows-1252", "iso-8859-9": "windows-1254",
                "x-sjis": "shift_jis", "shift-jis": "shift_jis", "sjis": "shift_jis"}


@dataclass(frozen=True)
class DecodedPage:
    text: str
    declared: str | None  # what the header or the markup said
    used: str  # what decoded the page
    replacement_ratio: float  # share of U+FFFD in the text


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    label = _WEB_ALIASES.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def declared_charsets(content: bytes, content_type: str | None) -> list[str]:
    """Charsets the response states, most authoritative first."""
    found: list[str] = []
    for prefix, name in _BOMS:
        if content.startswith(prefix):
            found.append(name)
    if content_type:
        match = _HEADER_CHARSET.search(content_type)
        if match:
            found.append(match.group(1))
    prolog = _XML_PROLOG.match(content[:200])
    if prolog:
        found.append(prolog.group(1).decode("ascii"))
    head = content[:META_SCAN_BYTES]
    end_of_head = head.lower().find(b"</head")
    meta = _META_CHARSET.search(head if end_of_head < 0 else head[:end_of_head])
    if meta:
        found.append(meta.group(1).decode("ascii", errors="ignore"))
    return found


def decode_html(content: bytes, content_type: str | None = None) -> DecodedPage:
    declared = declared_charsets(content, content_type)
    candidates = [codec for codec in (_codec(label) for label in declared) if codec]
    if candidates and candidates[0] != "utf-8" and _is_multibyte_utf8(content):
        # Text that is valid UTF-8 with multi-byte sequences is UTF-8 whatever
        # a stale header says: legacy text almost never forms such sequences.
        candidates.insert(0, "utf-8")
    for codec in dict.fromkeys(candidates):
        try:
            text = content.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
        return _decoded(_strip_bom(text), declared, codec)
    best = from_bytes(content[:512 * 1024]).best()
    if best is not None and best.encoding:
        codec = _codec(best.encoding) or "utf-8"
        return _decoded(content.decode(codec, errors="replace"), declared, codec)
    codec = candidates[0] if candidates else "utf-8"
    return _decoded(content.decode(codec, errors="replace"), declared, codec)


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
