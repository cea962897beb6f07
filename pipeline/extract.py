"""Page -> article fields, with trafilatura (text) and htmldate (dates).

The body starts as trafilatura's paragraphs (``favor_precision=True``, no
comments: the plain configuration that measured best on
``bench/extraction.py``), plus the later parts of a body split into repeated
containers (``continuation_chunks``).  Other extractors then vote on them
paragraph by paragraph (pipeline/opinions.py, pipeline/vote.py): newsflow
changes trafilatura's result only where a second extractor agrees, and keeps
its paragraphs as they are (never joined, never split).

Metadata is read from the page itself, once, on the tree trafilatura then
extracts from: title, author as written, site name, headings (for the
cleaner's "heading repeated as first line" rule), published-date candidates
with their sources (htmldate's heuristics only where the page states no date),
the lead image, language.  trafilatura's own metadata step read the same tags
a second time, plus categories, tags, licence and an author search over a copy
of the whole tree: a third of a trafilatura run per page for fields newsflow
already had (docs/benchmarks.md, extraction cost).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from htmldate import find_date
from lxml.html import HtmlElement

from pipeline.links import http_url
from pipeline.opinions import SECOND_OPINIONS
from pipeline.text import storable_text
from pipeline.vote import DEFAULT_VOTE, VoteConfig, settled
from pipeline.vote import vote as vote_paragraphs

# The body alone: newsflow reads the metadata itself (page_metadata).
TRAFILATURA_OPTIONS = dict(
    favor_precision=True,
    include_comments=False,
    include_tables=True,
    with_metadata=False,
    deduplicate=False,
)
# Later parts of a body split into repeated containers (continuation_chunks).
CHUNK_MIN_CHARS = 200


class ExtractError(ValueError):
    """The page has no article text that could be extracted."""


@dataclass(frozen=True)
class ExtractedArticle:
    url: str
    title: str | None
    text: str
    author: str | None
    published_at: datetime | None
    site_name: str | None
    language: str | None
    canonical_link: str | None
    image_url: str | None = None
    date_source: str | None = None
    date_candidates: tuple[tuple[str, str], ...] = ()
    future_date: bool = False
    # The page's own headings (h1, og:title, twitter:title, <title>), for the
    # cleaner's rule that drops a heading repeated as the body's first line.
    headings: tuple[str, ...] = field(default=(), compare=True)


# A numeric character reference to a code point XML cannot hold ("&#1;",
# "&#xFFFF;"): lxml refuses the whole document for one, and trafilatura then
# finds no article in a page that has one.  Such a character would be dropped
# as a control character anyway (pipeline/text.py).
_CHAR_REF = r"&#(?:[xX]([0-9a-fA-F]{1,8})|([0-9]{1,10}));?"
_CHAR_REF_TEXT, _CHAR_REF_BYTES = re.compile(_CHAR_REF), re.compile(_CHAR_REF.encode())


def _xml_cannot_hold(code_point: int) -> bool:
    return (code_point < 0x20 and code_point not in (0x9, 0xA, 0xD)) or 0xD800 <= code_point <= 0xDFFF \
        or code_point in (0xFFFE, 0xFFFF) or code_point > 0x10FFFF


def without_unparseable_char_refs(html: bytes | str) -> bytes | str:
    """The page without character references to code points XML cannot hold."""
    def replace(match):
        hexadecimal, decimal = match.groups()
        code_point = int(hexadecimal, 16) if hexadecimal else int(decimal)
        reference = match.group(0)
        return reference[:0] if _xml_cannot_hold(code_point) else reference  # [:0]: empty, str or bytes

    if isinstance(html, bytes):
        return _CHAR_REF_BYTES.sub(replace, html) if b"&#" in html else html
    return _CHAR_REF_TEXT.sub(replace, html) if "&#" in html else html


def extract_article(html: bytes | str, url: str, vote: VoteConfig = DEFAULT_VOTE) -> ExtractedArticle:
    """Extract the main text and metadata of one article page."""
    return extract_articles(html, url, (vote,))[0]


def extract_articles(html: bytes | str, url: str, votes: Sequence[VoteConfig]) -> list[ExtractedArticle]:
    """The page's article under each of ``votes``: trafilatura and each second
    opinion run once for all of them (bench/extraction.py compares them)."""
    html = without_unparseable_char_refs(html)
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ExtractError("not parseable as HTML")
    # Read the metadata before handing trafilatura the tree (bare_extraction
    # copies a tree it is given, so the tree stays intact for the chunks).
    meta = meta_tags(tree)
    language = _page_language(tree, meta)
    canonical = _canonical_link(tree, url)
    headings = _headings(tree, meta)
    image_url = _lead_image(tree, url, meta)
    json_ld = list(_json_ld_objects(tree))
    metadata = page_metadata(tree, canonical or url, json_ld, meta)
    document = trafilatura.bare_extraction(tree, url=url, **TRAFILATURA_OPTIONS)
    if document is None or not (document.text or "").strip():
        raise ExtractError("no article text found")
    base = _paragraphs(document.text)
    chunked = list(base)
    for chunk in continuation_chunks(tree, document.text):
        more = trafilatura.bare_extraction(chunk, url=url, **TRAFILATURA_OPTIONS)
        if more is not None and more.text:
            chunked += _paragraphs(more.text)
    # No second opinion where the vote has nothing to decide: no later chunk
    # to confirm, and a body that opens and closes with prose.
    unanimous = chunked == base and settled(base)
    opinions = {}
    if not unanimous:
        page = html if isinstance(html, str) else lxml.html.tostring(tree, encoding="unicode")
        opinions = {name: SECOND_OPINIONS[name](page, url, language)
                    for name in dict.fromkeys(name for vote in votes for name in vote.voters)}
    candidates = date_candidates(tree, url, json_ld, meta=meta)
    if not candidates:  # htmldate's heuristics: the costliest source, and the least trusted
        candidates = date_candidates(tree, url, json_ld, _htmldate(tree, url), meta=meta)
    published_at, date_source = best_page_date(candidates)
    articles = []
    for vote in votes:
        if unanimous:
            paragraphs = tuple(base)
        else:
            ballot = vote_paragraphs(chunked, [opinions[name] for name in vote.voters], vote.min_votes,
                                     additions=vote.additions, coverage=vote.coverage)
            # The later chunks are newsflow's own find: without a vote to
            # confirm them, trafilatura's paragraphs stand alone.
            paragraphs = ballot.paragraphs if ballot.voters >= vote.min_votes else tuple(base)
        text = "\n".join(paragraphs)
        articles.append(ExtractedArticle(
            url=url,
            title=storable_text(metadata.title),
            text=text,
            author=clean_author(metadata.author, metadata.author_strings),
            published_at=published_at,
            site_name=storable_text(metadata.site_name),
            language=detect_language(text, language),
            canonical_link=canonical,
            image_url=image_url,
            date_source=date_source,
            date_candidates=tuple((source, value.isoformat()) for source, value, _ in candidates),
            future_date=is_future(published_at, date_source, candidates),
            headings=headings,
        ))
    return articles


def _paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


# ---------------------------------------------------------------- split bodies

_WORDS = re.compile(r"\w+")


def _line_key(line: str) -> str:
    return " ".join(_WORDS.findall(line.casefold()))


def continuation_chunks(tree: HtmlElement, text: str) -> list[HtmlElement]:
    """Later parts of an article body split into repeated containers.

    Some pages cut the body into several containers of the same tag and class
    (with ads between them); trafilatura keeps only one.  Find the container of
    the extracted text's last paragraph and return the containers after it
    that have the same tag and class, sit beside it (their ancestors share a
    parent within two levels), hold enough text, have no <h1> (a next article
    would) and are not already in the text."""
    lines = [line for line in text.splitlines() if len(line) >= 60]
    if not lines:
        return []
    probe = _line_key(lines[-1])[:60]
    # The <p> that holds the line holds its longest opening word as written
    # (trafilatura keeps words as they are): XPath finds those in C, and only
    # they are keyed.
    opening, length = [], 0
    for word in _WORDS.findall(lines[-1]):
        length += len(word) + 1
        if length > len(probe):
            break
        opening.append(word)
    needle = max(opening, key=len, default="")
    candidates = tree.xpath("//p[contains(., $needle)]", needle=needle) if needle else tree.iter("p")
    anchor = next((p for p in candidates if _line_key(p.text_content()).startswith(probe)), None)
    if anchor is None:
        return []
    known = _line_key(text)
    node = anchor.getparent()
    for _ in range(3):
        if node is None or node.getparent() is None:
            return []
        cls = (node.get("class") or "").strip()
        if cls:
            chunks = []
            after = False  # tree.iter() walks in document order: only what follows the node
            for other in tree.iter(node.tag):
                if other is node:
                    after = True
                if not after or other is node or (other.get("class") or "").strip() != cls:
                    continue
                if any(ancestor is node for ancestor in other.iterancestors()) or not _beside(node, other):
                    continue
                body = " ".join(other.text_content().split())
                if len(body) < CHUNK_MIN_CHARS or other.xpath(".//h1") or _other_content(other):
                    continue
                first = next((p for p in other.iter("p") if len(p.text_content().strip()) >= 40), None)
                if first is None or _line_key(first.text_content())[:60] in known:
                    continue
                chunks.append(other)
            if chunks:
                return chunks
        node = node.getparent()
    return []


# Class or id words of blocks that sit beside an article and are not part of
# it ("Top stories", "Most read", related links, promotions).
_OTHER_CONTENT = re.compile(
    r"(?:^|[\s_-])(?:sidebar|side-bar|aside|rail|related|top-stories|topstories|most-read|mostread|popular|"
    r"trending|recommended|recommendations|teasers?|promo|more-stories|read-more)(?:$|[\s_-])",
    re.IGNORECASE,
)


def _other_content(element: HtmlElement) -> bool:
    """A block that declares itself a sidebar or a list of other stories, or
    holds one (an <aside> inside a body is more often a pull quote)."""
    if element.tag == "aside":
        return True
    for node in (element, *element.iterdescendants()):
        if not isinstance(node.tag, str):
            continue
        words = f"{node.get('class') or ''} {node.get('id') or ''}"
        if words.strip() and _OTHER_CONTENT.search(words):
            return True
    return False


def _beside(node: HtmlElement, other: HtmlElement) -> bool:
    a, b = node, other
    for _ in range(3):
        a, b = a.getparent(), b.getparent()
        if a is None or b is None:
            return False
        if a is b:
            return True
    return False


# -------------------------------------------------------------------- metadata


def meta_tags(tree: HtmlElement) -> dict[str, list[str]]:
    """The content of every <meta> under each of its keys (property, name,
    itemprop, http-equiv; in lower case), in page order.  The readers below
    share this one walk over the page's <meta> elements: an XPath query
    walks the whole tree each time, and they asked about twenty."""
    found: dict[str, list[str]] = {}
    for element in tree.iter("meta"):
        content = element.get("content")
        if content is None:
            continue
        for attribute in ("property", "name", "itemprop", "http-equiv"):
            key = (element.get(attribute) or "").strip().lower()
            if key:
                found.setdefault(key, []).append(content)
    return found


def _contents(meta: dict[str, list[str]], *keys: str) -> list[str]:
    """The contents under ``keys``, the keys in the order given."""
    return [value for key in keys for value in meta.get(key, ())]


def _page_language(tree: HtmlElement, meta: dict[str, list[str]]) -> str | None:
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += _contents(meta, "og:locale", "content-language")
    for value in candidates:
        if value and value.strip():
            code = value.strip().replace("_", "-").split("-")[0].lower()
            if code.isalpha() and 2 <= len(code) <= 3:
                return code
    return None


# py3langid is loaded on first use (about 0.5 s, once per process).
_IDENTIFIER = None
LANGID_MIN_CHARS = 200  # below this, a detector guesses; <html lang> is better
LANGID_OVERRIDE_CHARS = 400  # text long enough to overrule a declared language
LANGID_OVERRIDE_PROB = 0.999
# The detector reads this much of the text: its cost grows with the length
# (a pure-Python walk over the bytes), its verdict on a paragraph or two of
# prose no longer does.
LANGID_SAMPLE_CHARS = 600


def _identifier():
    global _IDENTIFIER
    if _IDENTIFIER is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        # The model ships inside the wheel: nothing is downloaded.
        _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _IDENTIFIER


# A line only htmldate's external date parser (dateparser) reads: parsing it
# loads that parser's tables.  A page this short sends trafilatura to its
# jusText fallback, which builds its stop-word list of every language.
_WARM_UP_PAGE = "<html><body><article><p>Mar. 3rd, 2021 5:01 PM</p></article></body></html>"


def load_models() -> None:
    """Load what extraction otherwise loads on its first page that needs it
    (about a second in all): the language identifier's model, htmldate's date
    parser and trafilatura's fallback stop words.  A worker process calls it
    as it starts, so that no page pays for it."""
    _identifier()
    find_date(_WARM_UP_PAGE, original_date=True, extensive_search=True)
    trafilatura.bare_extraction(_WARM_UP_PAGE, **TRAFILATURA_OPTIONS)


def detect_language(text: str, declared: str | None) -> str | None:
    """The page's declared language, checked against the text.

    The declaration wins unless the text is long and the detector is all but
    certain of another language (templates often carry one lang="en" for every
    edition of a site); with no declaration, the detector decides when the text
    is long enough to judge."""
    sample = text[:LANGID_SAMPLE_CHARS]
    if declared and len(sample) < LANGID_OVERRIDE_CHARS:
        return declared
    if not declared and len(sample) < LANGID_MIN_CHARS:
        return None
    try:
        detected, probability = _identifier().classify(sample)
    except Exception:  # a broken model must not lose the article
        return declared
    if not declared:
        return detected
    if detected != declared and probability >= LANGID_OVERRIDE_PROB:
        return detected
    return declared


def _canonical_link(tree: HtmlElement, url: str) -> str | None:
    for href in (link.get("href") for link in tree.iter("link") if link.get("rel") == "canonical"):
        if href and href.strip():
            try:
                link = urljoin(url, href.strip())
                urlsplit(link)
            except ValueError:  # "https://[host/...": the page's claim is unusable
                continue
            return link
    return None


def _lead_image(tree: HtmlElement, url: str, meta: dict[str, list[str]]) -> str | None:
    """og:image, then twitter:image, then <link rel=image_src>, as an absolute URL."""
    values = _contents(meta, "og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src")
    values += [link.get("href") or "" for link in tree.iter("link") if link.get("rel") == "image_src"]
    for value in values:
        link = http_url(value.strip(), url)
        if link:
            return link
    return None


def _headings(tree: HtmlElement, meta: dict[str, list[str]]) -> tuple[str, ...]:
    texts = [" ".join(h.text_content().split()) for h in islice(tree.iter("h1"), 2)]
    texts += _contents(meta, "og:title", "twitter:title")
    texts += [t.text_content() for t in islice(tree.iterfind("head/title"), 1)]
    out: list[str] = []
    for text in texts:
        text = " ".join((text or "").split())
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _json_ld_objects(tree: HtmlElement):
    """Every dict in the page's JSON-LD blocks, @graph entries included."""
    for script in (element for element in tree.iter("script") if element.get("type") == "application/ld+json"):
        try:
            data = json.loads(script.text_content() or "")
        except (ValueError, RecursionError):
            continue
        stack = [data]
        while stack:
            item = stack.pop()
            if isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, dict):
                yield item
                graph = item.get("@graph")
                if isinstance(graph, list):
                    stack.extend(graph)


# The trailing run is only tried where a run starts (the lookbehind): tried at
# every position of a long run of separators mid-string, it took quadratic time.
_AUTHOR_EDGE = re.compile(
    r"^(?:by|von|par|por|di|door)\s+|(?<![\s·|,;:•/–—-])[\s·|,;:•/–—-]+$|^[\s·|,;:•/–—-]+", re.IGNORECASE
)


@dataclass(frozen=True)
class PageMetadata:
    """What the page says of itself: its title, author and site name as
    stated (cleaned later), and every author string on it (clean_author takes
    the case of a name from them)."""

    title: str | None
    author: str | None
    site_name: str | None
    author_strings: tuple[str, ...] = ()


# <meta> keys (name, property or itemprop, lower case) of each field, most
# trusted first: the ones trafilatura's metadata step reads.
_TITLE_KEYS = ("og:title", "twitter:title", "title", "headline", "dc.title", "dcterms.title", "citation_title",
               "parsely-title", "sailthru.title", "fb_title")
_AUTHOR_KEYS = ("author", "article:author", "og:article:author", "og:author", "dc.creator", "dcterms.creator",
                "citation_author", "parsely-author", "sailthru.author", "byl", "authors")
_SITE_KEYS = ("og:site_name", "publisher", "dc.publisher", "dcterms.publisher", "article:publisher",
              "application-name", "twitter:site")
# Elements whose text names the author: a byline, a link to the author's page.
_AUTHOR_ELEMENTS = "//*[@rel='author' or @itemprop='author' or contains(@class,'author') or contains(@class,'byline')]"
AUTHOR_MAX_CHARS = 120
# A <title>'s parts around its separator ("Story | Example.com").
_TITLE_PARTS = re.compile(r"^(.+)?\s+[–•·—|⁄*⋆~‹«<›»>:-]\s+(.+)$")


def page_metadata(
    tree: HtmlElement, url: str | None, json_ld: list[dict] | None = None, meta_by_key: dict[str, list[str]] | None = None
) -> PageMetadata:
    """Title, author and site name as the page states them, each from the
    first source that has it.  Title: <meta> tags, JSON-LD's headline, the
    only <h1>, the <title>.  Author: JSON-LD, <meta> tags, a byline's names
    outside comments and forms.  Site: JSON-LD's publisher, <meta> tags, a
    <title> part that is a domain, the host."""
    meta_by_key = meta_tags(tree) if meta_by_key is None else meta_by_key
    # Each key's first content that says something.
    meta = {key: next((" ".join(v.split()) for v in values if v.strip()), "") for key, values in meta_by_key.items()}
    meta = {key: value for key, value in meta.items() if value}
    json_ld = list(_json_ld_objects(tree)) if json_ld is None else json_ld
    articles = [item for item in json_ld if item.get("headline") or item.get("author")]

    title = next((meta[key] for key in _TITLE_KEYS if key in meta), None)
    title = title or next((_text(item.get("headline")) for item in articles if _text(item.get("headline"))), None)
    h1 = list(tree.iter("h1"))
    title = title or (_text(h1[0].text_content()) if len(h1) == 1 else None)
    page_title = next((_text(t.text_content()) for t in tree.iterfind("head/title")), None)
    title = title or page_title or next((_text(h.text_content()) for h in h1 if _text(h.text_content())), None)

    site = next((meta[key].lstrip("@") for key in _SITE_KEYS if key in meta and not _is_link(meta[key])), None)
    # A publisher named in JSON-LD wins over a shorter <meta> name, often a handle ("TheHill", "WSJ").
    for item in [item.get("publisher") for item in json_ld if isinstance(item.get("publisher"), dict)] + [
            item for item in json_ld if _json_ld_kinds(item) & _PUBLISHER_KINDS]:
        name = _text(item.get("name"))
        if name and not _is_link(name) and len(name) > len(site or ""):
            site = name
    parts = _TITLE_PARTS.match(page_title or "")
    site = site or next((part for part in (parts.groups() if parts else ()) if part and "." in part), None)
    host = (urlsplit(url).hostname or "") if url else ""
    site = site or (host[4:] if host.startswith("www.") else host) or None
    if site and "." not in site and not site[0].isupper():
        site = site.title()  # "cleveland" as trafilatura wrote it: "Cleveland"

    # JSON-LD often names its author by reference ({"@id": …}) to a Person of the graph.
    by_id = {item["@id"]: item for item in json_ld if isinstance(item.get("@id"), str)}
    stated = [meta[key] for key in _AUTHOR_KEYS if key in meta and not _is_link(meta[key])]
    author = next((names for item in articles if (names := _json_ld_names(item.get("author"), by_id))), None)
    author = author or (stated[0] if stated else None)
    if _names_the_site(author, site, host):
        author = None  # "AppleInsider" as the author of AppleInsider's review: no byline
    markup: list[str] = []
    if not author:  # a byline in the markup: a search of the whole page, only when nothing states the author
        markup = [" ".join(text.split()) for element in tree.xpath(_AUTHOR_ELEMENTS) if not _in_comments(element)
                  for text in (element.text_content(), element.get("content") or "")
                  if text.strip() and len(text) <= 4 * AUTHOR_MAX_CHARS]
        author = next((names for text in markup
                       if (names := _byline_names(text)) and not _names_the_site(names, site, host)), None)

    return PageMetadata(title=title, author=author, site_name=site, author_strings=tuple(stated + markup))


def _text(value) -> str | None:
    return " ".join(value.split()) or None if isinstance(value, str) else None


# JSON-LD types whose name is the site's.
_PUBLISHER_KINDS = frozenset({"Organization", "NewsMediaOrganization", "WebSite", "Corporation"})


def _json_ld_kinds(item: dict) -> set[str]:
    kinds = item.get("@type")
    return {kind for kind in (kinds if isinstance(kinds, list) else [kinds]) if isinstance(kind, str)}


def _is_link(value: str) -> bool:
    return value.startswith(("http://", "https://", "//", "www."))


def _names_the_site(author: str | None, site: str | None, host: str) -> bool:
    """Whether an "author" is only the site's own name ("AppleInsider" on
    appleinsider.com, "@appleinsider")."""
    if not author:
        return False
    folded = re.sub(r"\W", "", author).casefold()
    names = {re.sub(r"\W", "", site or "").casefold()}
    labels = host.removeprefix("www.").split(".")
    names.add(labels[0].casefold() if labels else "")
    return folded in names - {""}


def _json_ld_names(value, by_id: dict[str, dict] | None = None) -> str | None:
    """The names of a JSON-LD author: a string, a Person (or a reference to
    one in ``by_id``) or a list of them."""
    names = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict) and set(item) == {"@id"} and by_id:
            item = by_id.get(item["@id"], item)
        if isinstance(item, dict):
            if item.get("@type") and "Person" not in _json_ld_kinds(item):
                continue
            item = item.get("name") or " ".join(
                part for part in (item.get("givenName"), item.get("familyName")) if isinstance(part, str))
        for name in item if isinstance(item, list) else [item]:
            name = _text(name)
            if name and not _is_link(name) and name not in names:
                names.append(name)
    return "; ".join(names) or None


# Where a byline's names end: a date, a time, "Published …", "Updated …".
_BYLINE_END = re.compile(
    r"\s+(?:published|updated|posted|last updated)\b.*$|\s*\S*\d.*$"
    r"|\s+(?:mon|tues|wednes|thurs|fri|satur|sun)day,.*$"
    r"|\s+(?:mon|tue|wed|thu|fri|sat|sun|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?,?\s+\d.*$",
    re.IGNORECASE,
)
_NAME_WORD = re.compile(r"^(?:[A-Z\u00C0-\u024F\u0400-\u04FF][\w.'’-]*|and|und|et|y|e|&|,|de|van|von|der|da|di|du|la|le)$")


def _byline_names(text: str) -> str | None:
    """The names in a byline's text ("Tom Davies Associated Press Published
    11:34 PM" -> "Tom Davies Associated Press"), or None for text that is not
    names (a form label, a sentence, a date)."""
    text = _BYLINE_END.sub("", text).strip(" ,;|·•-–—")
    words = [word.strip(",;") for word in text.split()]
    if not 1 <= len(words) <= 8 or len(text) > AUTHOR_MAX_CHARS:
        return None
    if not all(_NAME_WORD.match(word) or word.casefold() in ("by", "von", "par", "por") for word in words if word):
        return None
    return text


def _in_comments(element: HtmlElement) -> bool:
    """Inside a comment thread or a form: a commenter's name, a field's label."""
    for node in (element, *element.iterancestors()):
        if node.tag in ("form", "label", "footer"):
            return True
        words = f"{node.get('class') or ''} {node.get('id') or ''}".lower()
        if "comment" in words or "respond" in words:
            return True
    return False


def _htmldate(tree: HtmlElement, url: str) -> str | None:
    """htmldate's date of the page (its own copy of the tree; it cleans it)."""
    try:
        return find_date(tree, url=url, original_date=True, extensive_search=True)
    except Exception:  # a date heuristic's failure costs the date, not the article
        return None


def clean_author(author: str | None, page_strings: list[str] | None = None) -> str | None:
    """Author names as written on the page: separators and "By" trimmed,
    the case taken from the page's other author strings where they differ
    ("Dpa" -> "dpa")."""
    author = storable_text(author)
    if not author:
        return None
    names = []
    for name in author.split(";"):
        name = name.strip()
        previous = None
        while name and name != previous:
            previous, name = name, _AUTHOR_EDGE.sub("", name).strip()
        if not name:
            continue
        for written in page_strings or ():
            match = re.search(rf"(?<!\w){re.escape(name)}(?!\w)", written, re.IGNORECASE)
            if match:
                name = match.group(0)
                break
        if name not in names:
            names.append(name)
    return "; ".join(names) or None


# ------------------------------------------------------------------------ dates

_URL_DATE = re.compile(
    r"/((?:19|20)\d{2})[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?=[/_.-]|$)"
)
# Where a page states its publication date, most trusted first: <meta> keys,
# then markup (itemprop, <time>), then more <meta> keys.
_DATE_META_KEYS = ("article:published_time", "og:published_time", "og:article:published_time")
_DATE_MARKUP_PATH = "//*[@itemprop='datePublished' or self::time]"
_LATER_DATE_META_KEYS = ("pubdate", "publishdate", "publish-date", "date", "dc.date", "dc.date.issued",
                         "sailthru.date", "parsely-pub-date", "dcterms.date")


def parse_date(value: str | None) -> tuple[datetime, bool] | None:
    """An ISO-ish date or date-time -> (UTC datetime, has time of day).

    A date alone is midnight UTC; a time without a zone is taken as UTC."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip()
    if len(value) < 8:
        return None
    try:
        if len(value) <= 10:
            day = date.fromisoformat(value[:10])
            return datetime.combine(day, time(), UTC), False
        text = value.replace("Z", "+00:00").replace(" ", "T", 1)
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # +0100 -> +01:00
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        try:
            day = date.fromisoformat(value[:10])
        except ValueError:
            return None
        return datetime.combine(day, time(), UTC), False
    try:
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC), True
    except (ValueError, OverflowError):
        return None


def date_candidates(
    tree: HtmlElement, url: str, json_ld: list[dict] | None = None, htmldate_value: str | None = None,
    *, meta: dict[str, list[str]] | None = None,
) -> list[tuple[str, datetime, bool]]:
    """(source, UTC datetime, has time of day) for every date the page gives,
    most trusted source first, without repeats: json-ld (structured data the
    CMS writes for machines), then meta (and markup), then url (a date in its
    path), then htmldate (its heuristics)."""
    raw: list[tuple[str, str]] = []
    for item in json_ld if json_ld is not None else _json_ld_objects(tree):
        value = item.get("datePublished")
        if isinstance(value, str):
            raw.append(("json-ld", value))
    meta = meta_tags(tree) if meta is None else meta
    stated = _contents(meta, *_DATE_META_KEYS) + _contents(meta, "datepublished")
    for element in tree.xpath(_DATE_MARKUP_PATH):  # one walk for the markup's dates
        if element.get("itemprop") == "datePublished":
            stated += [value for value in (element.get("content") if element.tag != "meta" else None,
                                           element.get("datetime")) if value]
        elif element.tag == "time" and (element.get("pubdate") is not None or "publish" in (element.get("class") or "")):
            stated += [element.get("datetime")] if element.get("datetime") else []
    stated += _contents(meta, *_LATER_DATE_META_KEYS)
    raw += [("meta", value) for value in stated]
    match = _URL_DATE.search(urlsplit(url).path if url else "")
    if match:
        raw.append(("url", "-".join(match.groups())))
    if htmldate_value:
        raw.append(("htmldate", htmldate_value))
    found: list[tuple[str, datetime, bool]] = []
    for source, value in raw:
        parsed = parse_date(value)
        if parsed and 1990 <= parsed[0].year <= 2100 and (source, *parsed) not in found:
            found.append((source, *parsed))
    return found


def best_page_date(candidates: list[tuple[str, datetime, bool]]) -> tuple[datetime | None, str | None]:
    """The most trusted candidate; a date without time takes the time of day
    from a less trusted candidate on the same calendar day."""
    if not candidates:
        return None, None
    source, moment, timed = candidates[0]
    if not timed:
        for _, other, other_timed in candidates[1:]:
            if other_timed and other.date() == moment.date():
                return other, source
    return moment, source


def is_future(
    published_at: datetime | None, source: str | None, candidates: list[tuple[str, datetime, bool]] | None = None,
    now: datetime | None = None,
) -> bool:
    """Later than now: by more than a few minutes with a time of day, by more
    than the widest time-zone offset (14 h) for a bare date."""
    if published_at is None:
        return False
    now = now or datetime.now(UTC)
    timed = any(moment == published_at and has_time for _, moment, has_time in candidates or ())
    slack = timedelta(minutes=5) if timed else timedelta(hours=14)
    return published_at - now > slack
