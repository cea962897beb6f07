"""Second opinions on a page's article body: the paragraphs that other
extractors than trafilatura find, for the vote in pipeline/vote.py.

Each function takes the decoded page and returns its paragraphs, one string
each, in page order.  An extractor that fails on a page returns no
paragraphs: it abstains from the vote there, and the article is not lost.

- resiliparse (its ``main_content`` heuristics over the Lexbor parser): fast
  (a tenth of a trafilatura run) and generous, so it rarely misses a real
  paragraph; what it lacks at the edges of trafilatura's body is chrome.
- readability-lxml (the arc90 Readability algorithm): picks the best-scoring
  container, a different method from trafilatura's; about as slow as a
  trafilatura run.
- jusText (paragraph classification by length, link density and stop words):
  needs the page's language; the slowest and, here, the least precise.

Production runs resiliparse alone (pipeline.vote.DEFAULT_VOTE).  The other
two are only weighed by bench/extraction.py: they come with newsflow's
``bench`` extra and are imported when first used; without them their
functions raise BenchExtraMissing (never an abstention, which would hide it).
"""

from __future__ import annotations

from collections.abc import Callable

import importlib

import lxml.html
from resiliparse.extract.html2text import extract_plain_text

# Elements whose text is one paragraph of readability's summary.
_BLOCKS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "td", "th", "dd", "dt",
                     "figcaption"})
_CONTAINERS = _BLOCKS | {"div", "ul", "ol", "table", "section", "article"}

# jusText's stop-word lists by ISO 639-1 code, for the languages newsflow meets most.
_JUSTEXT_LANGUAGES = {"en": "English", "de": "German", "fr": "French", "es": "Spanish", "it": "Italian",
                      "pt": "Portuguese", "nl": "Dutch", "pl": "Polish", "sv": "Swedish", "da": "Danish",
                      "no": "Norwegian_Bokmal", "fi": "Finnish", "cs": "Czech", "ru": "Russian", "tr": "Turkish"}


class BenchExtraMissing(ImportError):
    """A second opinion of the ``bench`` extra was asked for without it installed."""


# The bench extra's modules and the packages that provide them.
BENCH_EXTRA = {"readability": "readability-lxml", "justext": "justext"}


def bench_extra_missing() -> list[str]:
    """The packages of the ``bench`` extra that cannot be imported."""
    missing = []
    for module, package in BENCH_EXTRA.items():
        try:
            importlib.import_module(module)
        except ImportError:
            missing.append(package)
    return missing


def _bench_module(name: str):
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise BenchExtraMissing(
            f"{BENCH_EXTRA[name]} is not installed: it comes with newsflow's bench extra"
            " (pip install -e '.[bench]'; make install installs it)"
        ) from exc


def _lines(text: str) -> list[str]:
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def resiliparse_paragraphs(html: str, url: str | None = None, language: str | None = None) -> list[str]:
    try:
        text = extract_plain_text(html, main_content=True, preserve_formatting=True, list_bullets=False,
                                  alt_texts=False)
    except Exception:  # a voter's failure is an abstention, never the article's
        return []
    return _lines(text)


def readability_paragraphs(html: str, url: str | None = None, language: str | None = None) -> list[str]:
    readability = _bench_module("readability")
    try:
        summary = readability.Document(html, url=url).summary(html_partial=True)
        root = lxml.html.fromstring(summary)
    except Exception:  # readability raises on pages it cannot score, lxml on empty output
        return []
    paragraphs = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        leaf_div = element.tag == "div" and not any(
            isinstance(child.tag, str) and child.tag in _CONTAINERS for child in element.iterdescendants()
        )
        if element.tag in _BLOCKS or leaf_div:
            if any(ancestor.tag in _BLOCKS for ancestor in element.iterancestors()):
                continue  # its text is already in the enclosing block's
            text = " ".join(element.text_content().split())
            if text:
                paragraphs.append(text)
    return paragraphs


def justext_paragraphs(html: str, url: str | None = None, language: str | None = None) -> list[str]:
    justext = _bench_module("justext")
    stoplist = justext.get_stoplist(_JUSTEXT_LANGUAGES.get(language or "en", "English"))
    try:
        paragraphs = justext.justext(html.encode("utf-8"), stoplist, encoding="utf-8")
    except Exception:
        return []
    return [" ".join(p.text.split()) for p in paragraphs if not p.is_boilerplate and p.text.strip()]


SECOND_OPINIONS: dict[str, Callable[[str, str | None, str | None], list[str]]] = {
    "resiliparse": resiliparse_paragraphs,
    "readability": readability_paragraphs,
    "justext": justext_paragraphs,
}

__all__ = ["SECOND_OPINIONS", "resiliparse_paragraphs", "readability_paragraphs", "justext_paragraphs",
           "BenchExtraMissing", "bench_extra_missing"]
