"""Page -> article fields, with trafilatura (text, metadata) and htmldate (dates).

The body starts as trafilatura's paragraphs (``favor_precision=True``, no
comments: the plain configuration that measured best on
``bench/extraction.py``), plus the later parts of a body split into repeated
containers (``continuation_chunks``).  Other extractors then vote on them
paragraph by paragraph (pipeline/opinions.py, pipeline/vote.py): newsflow
changes trafilatura's result only where a second extractor agrees, and keeps
its paragraphs as they are (never joined, never split).

Metadata is read from the page itself before trafilatura's cleaning: headings
(for the cleaner's "heading repeated as first line" rule), published-date
candidates with their sources, the lead image, author as written, language.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from lxml.html import HtmlElement

from pipeline.links import http_url
from pipeline.opinions import SECOND_OPINIONS
from pipeline.text import storable_text
from pipeline.vote import DEFAULT_VOTE, VoteConfig
from pipeline.vote import vote as vote_paragraphs

TRAFILATURA_OPTIONS = dict(
    favor_precision=True,
    include_comments=False,
    include_tables=True,
    with_metadata=True,
    deduplicate=False,
)
# Later parts of a body split into repeated containers (continuation_chunks).
CHUNK_OPTIONS = dict(TRAFILATURA_OPTIONS, with_metadata=False)
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


def extract_article(html: bytes | str, url: str, vote: VoteConfig = DEFAULT_VOTE) -> ExtractedArticle:
    """Extract the main text and metadata of one article page."""
    return extract_articles(html, url, (vote,))[0]


def extract_articles(html: bytes | str, url: str, votes: Sequence[VoteConfig]) -> list[ExtractedArticle]:
    """The page's article under each of ``votes``: trafilatura and each second
    opinion run once for all of them (bench/extraction.py compares them)."""
    tree = trafilatura.load_html(html)
    if tree is None:
        raise ExtractError("not parseable as HTML")
    # Read what trafilatura's cleaning would remove before handing it the tree
    # (bare_extraction copies a tree it is given, so the tree stays intact).
    html_language = _page_language(tree)
    canonical = _canonical_link(tree, url)
    headings = _headings(tree)
    image_url = _lead_image(tree, url)
    page_authors = _page_author_strings(tree)
    json_ld = list(_json_ld_objects(tree))
    document = trafilatura.bare_extraction(tree, url=url, **TRAFILATURA_OPTIONS)
    if document is None or not (document.text or "").strip():
        raise ExtractError("no article text found")
    base = _paragraphs(document.text)
    chunked = list(base)
    for chunk in continuation_chunks(tree, document.text):
        more = trafilatura.bare_extraction(chunk, url=url, **CHUNK_OPTIONS)
        if more is not None and more.text:
            chunked += _paragraphs(more.text)
    language = html_language or storable_text(document.language)
    page = html if isinstance(html, str) else lxml.html.tostring(tree, encoding="unicode")
    opinions = {name: SECOND_OPINIONS[name](page, url, language)
                for name in dict.fromkeys(name for vote in votes for name in vote.voters)}
    candidates = date_candidates(tree, url, json_ld, document.date)
    published_at, date_source = best_page_date(candidates)
    articles = []
    for vote in votes:
        ballot = vote_paragraphs(chunked, [opinions[name] for name in vote.voters], vote.min_votes,
                                 additions=vote.additions, coverage=vote.coverage)
        # The later chunks are newsflow's own find: without a vote to confirm
        # them, trafilatura's paragraphs stand alone.
        paragraphs = ballot.paragraphs if ballot.voters >= vote.min_votes else tuple(base)
        text = "\n".join(paragraphs)
        articles.append(ExtractedArticle(
            url=url,
            title=storable_text(document.title),
            text=text,
            author=clean_author(document.author, page_authors),
            published_at=published_at,
            site_name=storable_text(document.sitename),
            language=detect_language(text, language),
            canonical_link=canonical,
            image_url=image_url or http_url((document.image or "").strip(), url),
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
    anchor = next((p for p in tree.iter("p") if _line_key(p.text_content()).startswith(probe)), None)
    if anchor is None:
        return []
    known = _line_key(text)
    node = anchor.getparent()
    order: dict[HtmlElement, int] = {}
    for _ in range(3):
        if node is None or node.getparent() is None:
            return []
        cls = (node.get("class") or "").strip()
        if cls:
            order = order or {element: index for index, element in enumerate(tree.iter())}
            chunks = []
            for other in tree.iter(node.tag):
                if other is node or (other.get("class") or "").strip() != cls or order[other] < order[node]:
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


def _page_language(tree: HtmlElement) -> str | None:
    candidates = [tree.get("lang"), tree.get("{http://www.w3.org/XML/1998/namespace}lang")]
    candidates += tree.xpath("//meta[@property='og:locale']/@content")
    candidates += tree.xpath("//meta[@http-equiv='content-language']/@content")
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


def _identifier():
    global _IDENTIFIER
    if _IDENTIFIER is None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        # The model ships inside the wheel: nothing is downloaded.
        _IDENTIFIER = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
    return _IDENTIFIER


def detect_language(text: str, declared: str | None) -> str | None:
    """The page's declared language, checked against the text.

    The declaration wins unless the text is long and the detector is all but
    certain of another language (templates often carry one lang="en" for every
    edition of a site); with no declaration, the detector decides when the text
    is long enough to judge."""
    sample = text[:3000]
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
    for href in tree.xpath("//link[@rel='canonical']/@href"):
        if href and href.strip():
            try:
                link = urljoin(url, href.strip())
                urlsplit(link)
            except ValueError:  # "https://[host/...": the page's claim is unusable
                continue
            return link
    return None


def _lead_image(tree: HtmlElement, url: str) -> str | None:
    """og:image, then twitter:image, then <link rel=image_src>, as an absolute URL."""
    paths = (
        "//meta[@property='og:image' or @name='og:image']/@content",
        "//meta[@property='og:image:url' or @property='og:image:secure_url']/@content",
        "//meta[@name='twitter:image' or @property='twitter:image']/@content",
        "//meta[@name='twitter:image:src' or @property='twitter:image:src']/@content",
        "//link[@rel='image_src']/@href",
    )
    for path in paths:
        for value in tree.xpath(path):
            link = http_url(value.strip(), url)
            if link:
                return link
    return None


def _headings(tree: HtmlElement) -> tuple[str, ...]:
    found = tree.xpath("//h1")[:2]
    texts = [" ".join(h.text_content().split()) for h in found]
    texts += tree.xpath("//meta[@property='og:title' or @name='og:title']/@content")
    texts += tree.xpath("//meta[@name='twitter:title' or @property='twitter:title']/@content")
    texts += [t.text_content() for t in tree.xpath("//head/title")[:1]]
    out: list[str] = []
    for text in texts:
        text = " ".join((text or "").split())
        if text and text not in out:
            out.append(text)
    return tuple(out)


def _json_ld_objects(tree: HtmlElement):
    """Every dict in the page's JSON-LD blocks, @graph entries included."""
    for script in tree.xpath("//script[@type='application/ld+json']"):
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


def _page_author_strings(tree: HtmlElement) -> list[str]:
    values = tree.xpath("//meta[@name='author' or @property='author' or @property='article:author']/@content")
    values += tree.xpath("//*[@rel='author' or @itemprop='author' or contains(@class,'author')]//text()")
    values += tree.xpath("//*[@itemprop='author']/@content | //*[@itemprop='name']/@content")
    return [" ".join(v.split()) for v in values if v and v.strip() and len(v) < 200]


def clean_author(author: str | None, page_strings: list[str] | None = None) -> str | None:
    """Author names as written on the page: separators and "By" trimmed,
    case restored from the page where trafilatura changed it ("Dpa" -> "dpa")."""
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
_META_DATE_PATHS = (
    "//meta[@property='article:published_time' or @name='article:published_time']/@content",
    "//meta[@property='og:published_time' or @property='og:article:published_time']/@content",
    "//*[@itemprop='datePublished']/@content | //*[@itemprop='datePublished']/@datetime",
    "//time[@pubdate]/@datetime | //time[contains(@class,'publish')]/@datetime",
    "//meta[@name='pubdate' or @name='publishdate' or @name='publish-date' or @name='date' "
    "or @name='dc.date' or @name='DC.date' or @name='dc.date.issued' or @name='DC.date.issued' "
    "or @name='sailthru.date' or @name='parsely-pub-date' or @name='dcterms.date']/@content",
)


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
    tree: HtmlElement, url: str, json_ld: list[dict] | None = None, htmldate_value: str | None = None
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
    for path in _META_DATE_PATHS:
        raw += [("meta", value) for value in tree.xpath(path) if isinstance(value, str)]
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
