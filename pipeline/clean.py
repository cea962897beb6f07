"""Cleaning rules applied after extraction: site names glued to titles,
wire datelines glued to the first sentence, and boilerplate lines.

Every rule works on whole lines or on a title's edges, never inside a
sentence, and each is general enough to explain in one line: that is what
keeps it from fitting only the pages we happen to have seen.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from pipeline.extract import ExtractedArticle

# Lines that are page furniture whenever they stand alone, in the languages
# newsflow meets most.  Compared after folding case, punctuation and spacing.
BOILERPLATE_LINES = {
    # English
    "related articles", "related", "related stories", "related posts", "related content",
    "related news", "related topics", "back to top", "back to top button", "read more",
    "read also", "read next", "see also", "more on this story", "more from", "more stories",
    "you may also like", "you might also like", "recommended", "recommended for you",
    "share", "share this", "share this article", "share this story", "share on facebook",
    "share on twitter", "share via email", "tweet", "email", "print", "advertisement",
    "advertising", "sponsored", "sponsored content", "sign up for our newsletter",
    "subscribe to our newsletter", "subscribe", "all rights reserved", "comments",
    "leave a comment", "leave a reply", "show comments", "view comments", "top stories",
    "most read", "most popular", "trending", "follow us", "skip to content",
    "skip to main content", "click here", "continue reading", "loading", "photo",
    # German
    "ähnliche artikel", "verwandte artikel", "weitere artikel", "mehr zum thema",
    "das könnte sie auch interessieren", "nach oben", "zurück nach oben", "weiterlesen",
    "mehr lesen", "lesen sie auch", "auch interessant", "artikel teilen", "teilen",
    "drucken", "anzeige", "werbung", "newsletter abonnieren", "alle rechte vorbehalten",
    "kommentare", "kommentar schreiben",
    # French
    "articles similaires", "articles liés", "à lire aussi", "lire aussi", "lire la suite",
    "retour en haut", "haut de page", "partager", "partager cet article", "publicité",
    "inscrivez-vous à notre newsletter", "tous droits réservés", "commentaires",
    # Spanish
    "artículos relacionados", "noticias relacionadas", "lee también", "leer más",
    "volver arriba", "compartir", "compartir este artículo", "publicidad",
    "suscríbete a nuestro boletín", "todos los derechos reservados", "comentarios",
    # Italian
    "articoli correlati", "leggi anche", "leggi di più", "torna su", "condividi",
    "pubblicità", "iscriviti alla newsletter", "tutti i diritti riservati", "commenti",
    # Portuguese
    "artigos relacionados", "notícias relacionadas", "leia também", "leia mais",
    "voltar ao topo", "compartilhe", "compartilhar", "publicidade",
    "assine a nossa newsletter", "todos os direitos reservados", "comentários",
}

# Headings that open a trailing block of links ("Related Articles" followed by
# headlines): when only short lines follow, the heading and the rest go.
TRAILER_HEADINGS = {
    "related articles", "related", "related stories", "related posts", "related content",
    "related news", "read more", "read also", "read next", "see also", "more on this story",
    "more from", "more stories", "you may also like", "you might also like", "recommended",
    "recommended for you", "top stories", "most read", "most popular", "trending",
    "ähnliche artikel", "verwandte artikel", "weitere artikel", "mehr zum thema",
    "das könnte sie auch interessieren", "lesen sie auch", "auch interessant",
    "articles similaires", "articles liés", "à lire aussi", "lire aussi",
    "artículos relacionados", "noticias relacionadas", "lee también", "leer más",
    "articoli correlati", "leggi anche", "artigos relacionados", "notícias relacionadas",
    "leia também", "leia mais",
}
TRAILER_LINK_MAX_WORDS = 16

# "Read more: <headline>", "Lesen Sie auch: <headline>" as a line of its own.
_LEAD_IN_LINE = re.compile(
    r"^\s*(read (more|also|next)|see also|more|lesen sie (auch|mehr)|mehr zum thema|"
    r"(à )?lire aussi|lee también|leggi anche|leia também)\s*[:»>›|–—-]\s*\S.{0,160}$",
    re.IGNORECASE,
)

_TITLE_SEPARATORS = (" | ", " – ", " — ", " - ", " :: ", " · ", " • ", " « ", " » ")
_SITE_SUFFIX_MAX_WORDS = 5

# "Seoul / Pyongyang (dpa) – ", "WASHINGTON (Reuters) - ", "Berlin, 18 March (AFP) — ",
# "LONDON — " (upper-case place, no agency).
_DATELINE = re.compile(
    r"""^(?P<dateline>
        (?P<place>[^\W\d_][\w.'’]*(?:[ \t]*(?:[/,]|\b)[ \t]*[\w.'’]+){0,7}?)
        [ \t]*(?:\((?P<agency>[^\W\d_][\w/&.+ -]{0,24})\))?
    )[ \t]*[–—-]{1,2}[ \t]+(?=\S)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class CleanedArticle:
    url: str
    title: str | None
    text: str
    author: str | None
    published_at: datetime | None
    site_name: str | None
    language: str | None
    canonical_link: str | None
    dateline: str | None
    agency: str | None


def fold_line(line: str) -> str:
    """A line reduced for comparison: case, accents kept, punctuation and spacing folded."""
    line = unicodedata.normalize("NFKC", line).casefold()
    line = re.sub(r"[^\w\s]", " ", line)
    return " ".join(line.split())


_FOLDED_BOILERPLATE = {fold_line(phrase) for phrase in BOILERPLATE_LINES}
_FOLDED_TRAILERS = {fold_line(phrase) for phrase in TRAILER_HEADINGS}


def clean_title(title: str | None, site_name: str | None = None) -> str | None:
    """Drop a site name glued to either end of a title ("… | Free press")."""
    if not title:
        return title
    title = " ".join(title.split())
    site = fold_line(site_name) if site_name else ""
    for separator in _TITLE_SEPARATORS:
        if separator not in title:
            continue
        head, _, tail = title.rpartition(separator)
        first, _, rest = title.partition(separator)
        if head and _is_site_name(tail, site):
            return clean_title(head, site_name)
        if rest and _is_site_name(first, site):
            return clean_title(rest, site_name)
        if head and separator == " | " and _short(tail):
            return clean_title(head, site_name)
    return title


def _is_site_name(part: str, folded_site: str) -> bool:
    folded = fold_line(part)
    if not folded:
        return False
    if folded_site and (folded == folded_site or folded.replace(" ", "") == folded_site.replace(" ", "")):
        return True
    # Domain-like tails such as "example.com".
    return bool(re.fullmatch(r"(www\.)?[\w-]+(\.[\w-]+)*\.[a-z]{2,}", part.strip().lower()))


def _short(part: str) -> bool:
    return 0 < len(part.split()) <= _SITE_SUFFIX_MAX_WORDS


def split_dateline(text: str) -> tuple[str | None, str | None, str]:
    """Separate a wire dateline from the first paragraph: (place as written,
    agency as a lower-case short name, rest of the text)."""
    match = _DATELINE.match(text)
    if not match:
        return None, None, text
    place = match.group("place")
    agency = match.group("agency")
    if not _looks_like_place(place) or (agency and not _looks_like_agency(agency)):
        return None, None, text
    if not agency:
        # Without an agency credit only an upper-case place ("LONDON —") is a
        # dateline; "Today - the council said" is a sentence.
        letters = [c for c in place if c.isalpha()]
        if not letters or any(c.islower() for c in letters) or len(letters) < 3:
            return None, None, text
    return " ".join(place.split()), _agency_name(agency), text[match.end():]


def _agency_name(credit: str | None) -> str | None:
    """"dpa/lnw" -> "dpa", "Reuters" -> "reuters": the service, not its desk."""
    if not credit:
        return None
    return credit.split("/")[0].strip().lower() or None


# Wire services whose credit is written in lower case.
_LOWERCASE_AGENCIES = {"dpa", "epd", "sid", "kna", "dts", "dpa-afx", "apa", "ots"}
_PLACE_PARTICLES = {"de", "del", "la", "le", "am", "an", "der", "im", "on", "upon", "sur",
                    "di", "da", "do", "of", "and"}


def _looks_like_place(place: str) -> bool:
    """Every word of a place name (or a date beside it) is capitalised or a number."""
    words = re.findall(r"[^\W_]+", place)
    return bool(words) and words[0][0].isupper() and all(
        word[0].isupper() or word[0].isdigit() or word in _PLACE_PARTICLES for word in words
    )


def _looks_like_agency(agency: str) -> bool:
    agency = agency.strip()
    # "dpa/lnw": a wire service with its regional desk.
    first = agency.split("/")[0].strip().lower()
    return first in _LOWERCASE_AGENCIES or agency[0].isupper()


def strip_boilerplate(text: str, title: str | None = None) -> str:
    """Remove furniture lines: at both ends, as whole lines inside, and trailing link blocks."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if title and lines and fold_line(lines[0]) == fold_line(title):
        lines = lines[1:]
    lines = _cut_trailer(lines)
    return "\n".join(line for line in lines if not _is_furniture(line))


def _is_furniture(line: str) -> bool:
    folded = fold_line(line)
    if folded in _FOLDED_BOILERPLATE:
        return True
    if folded.startswith(("copyright", "©")) or line.lstrip().startswith("©"):
        return len(folded.split()) <= 12
    return bool(_LEAD_IN_LINE.match(line)) and not line.rstrip().endswith((".", "!", "?", "\""))


def _cut_trailer(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index == 0 or fold_line(line) not in _FOLDED_TRAILERS:
            continue
        rest = lines[index + 1:]
        if all(len(item.split()) <= TRAILER_LINK_MAX_WORDS for item in rest):
            return lines[:index]
    return lines


def clean_article(article: ExtractedArticle) -> CleanedArticle:
    title = clean_title(article.title, article.site_name)
    text = strip_boilerplate(article.text, title)
    dateline, agency, text = split_dateline(text)
    return CleanedArticle(
        url=article.url,
        title=title,
        text=text,
        author=article.author,
        published_at=article.published_at,
        site_name=article.site_name,
        language=article.language,
        canonical_link=article.canonical_link,
        dateline=dateline,
        agency=agency,
    )


__all__ = [
    "CleanedArticle", "clean_article", "clean_title", "split_dateline", "strip_boilerplate",
    "fold_line",
]
