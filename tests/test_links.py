"""Unit tests for pipeline.links: which links a stage keeps, and as what."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline.links import http_url
from tests.conftest import HOSTILE_LINKS

BASE = "https://harbour.example.org/news/index.html"


@pytest.mark.parametrize(
    ("link", "base", "expected"),
    [
        ("/a.html", BASE, "https://harbour.example.org/a.html"),
        ("b.html", BASE, "https://harbour.example.org/news/b.html"),
        ("//cdn.example.org/c.jpg", BASE, "https://cdn.example.org/c.jpg"),
        ("http://other.example.org/d", BASE, "http://other.example.org/d"),
        ("https://valley.example.org/atom.xml", None, "https://valley.example.org/atom.xml"),
    ],
)
def test_links_are_resolved_against_their_document(link, base, expected):
    assert http_url(link, base) == expected


@pytest.mark.parametrize(
    ("link", "base"),
    [
        (None, BASE), ("", BASE),
        ("/a.html", None),  # relative, and nothing to resolve it against
        ("mailto:desk@example.org", BASE), ("javascript:alert(1)", BASE), ("ftp://example.org/f", None),
        ("https://", None), ("http:x", None),  # no host
        ("http://[x", None), ("http://ex\uff0fample.org/", None),  # urllib refuses them
    ],
)
def test_anything_but_an_absolute_http_url_is_none(link, base):
    assert http_url(link, base) is None


@given(link=HOSTILE_LINKS, base=st.sampled_from([None, BASE]))
def test_a_kept_link_is_always_absolute_http(link, base):
    url = http_url(link, base)
    if url is not None:
        parts = urlsplit(url)
        assert parts.scheme in {"http", "https"} and parts.hostname
