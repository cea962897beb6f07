"""Feed lists: read a YAML or OPML file of feed URLs, and write one back out."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml
from lxml import etree

from pipeline.links import http_url


class FeedListError(ValueError):
    """The feed list file cannot be read."""


@dataclass(frozen=True)
class FeedSource:
    url: str
    name: str | None = None


def load_feed_list(path: Path, base_url: str | None = None) -> list[FeedSource]:
    """Read a feed list: YAML ``feeds: [{url:, name:}]`` or OPML.

    Relative URLs are resolved against ``base_url`` (the demo corpus uses
    root-relative URLs because its server's port is only known at run time).
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise FeedListError(f"cannot read feed list {path}: {exc.strerror}") from exc
    if path.suffix.lower() in {".opml", ".xml"} or raw.lstrip().startswith(b"<"):
        sources = _parse_opml(raw, path)
    else:
        sources = _parse_yaml(raw, path)
    resolved: list[FeedSource] = []
    seen: set[str] = set()
    for source in sources:
        url = http_url(source.url, base_url)
        if url is None:
            raise FeedListError(f"{path}: feed URL must be absolute http(s): {source.url!r}")
        if url not in seen:
            seen.add(url)
            resolved.append(FeedSource(url=url, name=source.name))
    return resolved


def _parse_yaml(raw: bytes, path: Path) -> list[FeedSource]:
    try:
        data = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise FeedListError(f"{path}: not valid YAML: {exc}") from exc
    items = data.get("feeds") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise FeedListError(f"{path}: expected a mapping with a 'feeds' list")
    sources = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"url": item}
        if not isinstance(item, dict) or not isinstance(item.get("url"), str):
            raise FeedListError(f"{path}: feeds[{index}] needs a 'url'")
        sources.append(FeedSource(url=item["url"].strip(), name=item.get("name")))
    return sources


def _parse_opml(raw: bytes, path: Path) -> list[FeedSource]:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
    try:
        root = etree.fromstring(raw, parser)
    except etree.XMLSyntaxError as exc:
        raise FeedListError(f"{path}: not valid OPML: {exc}") from exc
    sources = []
    for outline in root.iter("outline"):
        url = outline.get("xmlUrl")
        if url:
            name = outline.get("title") or outline.get("text")
            # OPML requires text=; writers without a name put the URL there.
            if name is not None and name.strip() == url.strip():
                name = None
            sources.append(FeedSource(url=url.strip(), name=name))
    return sources


def export_opml(feeds: Sequence[FeedSource], title: str = "newsflow feeds") -> str:
    """An OPML 2.0 subscription list: one ``<outline type="rss">`` per feed.

    ``text`` is required by OPML 2.0, so a feed without a name gets its URL
    as ``text`` (and no ``title``): ``load_feed_list`` then reads that URL
    back as the name. Names keep everything XML can carry (quotes, ``&``,
    ``<``, line breaks); characters XML 1.0 cannot carry (most C0 controls,
    U+FFFE/U+FFFF, lone surrogates) are dropped from names and the title. A
    URL with such a character raises ``FeedListError``: it is never altered.

    The string starts with an XML declaration naming UTF-8; write it encoded
    as UTF-8.
    """
    root = etree.Element("opml", version="2.0")
    head = etree.SubElement(root, "head")
    etree.SubElement(head, "title").text = _xml_chars(title)
    body = etree.SubElement(root, "body")
    for feed in feeds:
        if _xml_chars(feed.url) != feed.url:
            raise FeedListError(f"feed URL has characters XML cannot carry: {feed.url!r}")
        name = _xml_chars(feed.name) if feed.name is not None else None
        outline = etree.SubElement(body, "outline", type="rss", text=name or feed.url)
        if name:
            outline.set("title", name)
        outline.set("xmlUrl", feed.url)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True).decode("utf-8")


def export_yaml(feeds: Sequence[FeedSource]) -> str:
    """The YAML feed list ``load_feed_list`` reads: ``feeds: [{url:, name:}]``,
    ``name`` left out when it is None."""
    items = []
    for feed in feeds:
        item = {"url": feed.url}
        if feed.name is not None:
            item["name"] = feed.name
        items.append(item)
    return yaml.dump(
        {"feeds": items}, Dumper=_FeedListDumper, allow_unicode=True, sort_keys=False,
        default_flow_style=False, width=2**16,
    )


class _FeedListDumper(yaml.SafeDumper):
    """PyYAML writes NEL and the Unicode line/paragraph separators raw into
    plain and single-quoted scalars, where reading folds them into a space;
    only double quotes escape them."""


def _represent_str(dumper: yaml.SafeDumper, value: str):
    style = '"' if any(ch in value for ch in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_FeedListDumper.add_representer(str, _represent_str)


# Characters XML 1.0 allows (https://www.w3.org/TR/xml/#charsets).
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml_chars(text: str) -> str:
    return _NOT_XML_CHAR.sub("", text)
