"""Cleaning rules applied after extraction: site names glued to titles,
wire datelines glued to the first sentence, and boilerplate lines.

Every rule works on whole lines or on a title's edges, never inside a
sentence, and each is general enough to explain in one line: that is what
keeps it from fitting only the pages we happen to have seen.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from pipeline.extract import ExtractedArticle
from pipeline.text import prose_shaped

# Each phrase is written once.  Compared after folding case, punctuation and
# spacing (fold_line), in the languages newsflow meets most.
#
# Headings that open a trailing block of links ("Related Articles" followed by
# headlines): when only short lines follow, the heading and the rest go; inside
# the body, the heading goes with the headline lines right after it; standing
# alone, the heading is furniture like the lines below.
TRAILER_HEADINGS = frozenset({
    # English
    "related articles", "related", "related stories", "related posts", "related content",
    "related news", "read more", "read also", "read next", "see also", "more on this story",
    "more from", "more from this section", "more stories", "more news", "more", "also read",
    "you may also like", "you might also like", "recommended", "recommended for you",
    "top stories", "most read", "most popular", "trending", "don't miss",
    # German
    "ähnliche artikel", "verwandte artikel", "weitere artikel", "mehr zum thema",
    "das könnte sie auch interessieren", "lesen sie auch", "auch interessant",
    # French
    "articles similaires", "articles liés", "à lire aussi", "lire aussi",
    # Spanish
    "artículos relacionados", "noticias relacionadas", "lee también", "leer más",
    # Italian
    "articoli correlati", "leggi anche",
    # Portuguese
    "artigos relacionados", "notícias relacionadas", "leia também", "leia mais",
})
# Lines that are page furniture whenever they stand alone: the headings above
# and these.
BOILERPLATE_LINES = TRAILER_HEADINGS | frozenset({
    # English
    "related topics", "back to top", "back to top button", "share", "share this",
    "share this article", "share this story", "share on facebook", "share on twitter",
    "share via email", "tweet", "email", "print", "advertisement", "advertising", "sponsored",
    "sponsored content", "sign up for our newsletter", "subscribe to our newsletter", "subscribe",
    "all rights reserved", "comments", "leave a comment", "leave a reply", "show comments",
    "view comments", "follow us", "skip to content", "skip to main content", "click here",
    "continue reading", "loading", "photo", "tell us what you think", "what do you think",
    "sign up", "sign up now", "subscribe now", "follow us on social media", "story continues below",
    "article continues below", "scroll to continue", "listen to this article", "image", "video",
    # German
    "nach oben", "zurück nach oben", "weiterlesen", "mehr lesen", "artikel teilen", "teilen",
    "drucken", "anzeige", "werbung", "newsletter abonnieren", "alle rechte vorbehalten",
    "kommentare", "kommentar schreiben",
    # French
    "lire la suite", "retour en haut", "haut de page", "partager", "partager cet article", "publicité",
    "inscrivez-vous à notre newsletter", "tous droits réservés", "commentaires",
    # Spanish
    "volver arriba", "compartir", "compartir este artículo", "publicidad",
    "suscríbete a nuestro boletín", "todos los derechos reservados", "comentarios",
    # Italian
    "leggi di più", "torna su", "condividi", "pubblicità", "iscriviti alla newsletter",
    "tutti i diritti riservati", "commenti",
    # Portuguese
    "voltar ao topo", "compartilhe", "compartilhar", "publicidade",
    "assine a nossa newsletter", "todos os direitos reservados", "comentários",
})
TRAILER_LINK_MAX_WORDS = 16

# "Read more: <headline>", "Lesen Sie auch: <headline>" as a line of its own.
_LEAD_IN_LINE = re.compile(
    r"^\s*(read (more|also|next)|see (also|more)|also (read|see)|more|related( (coverage|stories|story|articles?|content|reading))?|"
    r"watch|recommended|don'?t miss|lesen sie (auch|mehr)|mehr (zum thema|dazu)|"
    r"(à )?lire aussi|à voir aussi|lee también|ver también|leggi anche|leia também|veja também)"
    r"\s*[:»>›|–—-]\s*\S.{0,160}$",
    re.IGNORECASE,
)
# "Also on example.com <headline>": a link to the site's own story.
_ALSO_ON_SITE = re.compile(r"^\s*also on (www\.)?[\w-]+(\.[\w-]+)*\.[a-z]{2,}\b\s*[:»>›|–—-]?\s*\S.{0,160}$", re.I)

# Messaging apps a site invites readers to follow it on ("Join our WhatsApp channel").
_MESSENGERS = r"(?:whats\ ?app|telegram|signal|threads|bluesky|mastodon)"
# Sentences that ask the reader to do something (subscribe, click, follow,
# share, send a tip, join a messenger channel): page furniture when a line
# opens with one, or anywhere in a line at the very start or end of the body.
# The messenger forms name the reader's side ("us", "our", "nuestro canal"), so
# a line that opens with a verb and mentions WhatsApp later is not one.
_CALL_TO_ACTION = re.compile(
    r"""^\W*(?:stay\ (?:informed|updated|up\ to\ date|connected|in\ the\ loop)\W+)?(?:
        (?:sign[ -]?up|subscribe|register)\b.{0,120}\b(?:newsletters?|inbox|e-?mails?|updates|free|today|now|here)\b
      | click\ (?:here|below|the\ link)\b | tap\ here\b
      | (?:download|get)\ (?:our|the)\ (?:free\ )?(?:\w+\ ){0,3}app\b
      | follow\ (?:us|him|her|me|them|[\w.@'’&\ ]{1,60}?)\ on\ (?:twitter|facebook|instagram|youtube|linkedin|tiktok|x|MESSENGERS)\b
      | (?:join|follow|subscribe\ to|find|message|contact)\ (?:us\ on|our)\b.{0,40}?\bMESSENGERS\b
      | join\ [\w.'’&\ ]{1,60}?\ on\ MESSENGERS\b | (?:we'?re|we\ are)\ (?:now\ )?(?:also\ )?on\ MESSENGERS\b
      | get\ (?:our|the)\b.{0,60}?\bon\ MESSENGERS\b
      | get\ .{0,80}\b(?:delivered|in\ your\ inbox|to\ your\ inbox)\b | get\ access\ to\b
      | like\ this\ (?:story|article|post|video)\b | share\ (?:this|it)\ with\b
      | have\ a\ (?:news\ )?tip\b | got\ a\ (?:news\ )?tip\b
      | start\ your\ day\ with\b | there'?s\ plenty\ more\ where\ that\ came\ from
      | (?:want|don'?t\ want)\ to\ (?:read|see|get|miss)\ more\b | never\ miss\ a\b
      | tell\ us\ what\ you\ think\b
      | klicken\ sie\ hier | cliquez\ ici | haga\ clic\ aquí | clique\ aqui | clicca\ qui
      | (?:abonnieren\ sie|melden\ sie\ sich|inscrivez-vous|abonnez-vous|suscríbete|iscriviti|assine)\b.{0,120}\b(?:newsletter|lettre|boletín|e-?mail)
      | folgen\ sie\ uns | suivez-nous | síguenos | seguici | siga-nos
      | (?:folge|folgt|abonnieren\ sie|abonniere|abonniert|treten\ sie|tritt|tretet)\ (?:uns|unserem|unserer|unseren|unsere)\b.{0,40}?\bMESSENGERS\b
      | (?:rejoignez|rejoins|retrouvez)-nous\b.{0,40}?\bMESSENGERS\b
      | (?:rejoignez|rejoins|suivez|abonnez-vous\ à|abonne-toi\ à)\ (?:notre|nos)\b.{0,40}?\bMESSENGERS\b
      | (?:únete|unete|suscríbete|suscribete|sigue)\ (?:a\ )?(?:nuestro|nuestra|nuestros)\b.{0,40}?\bMESSENGERS\b
      | (?:unisciti|iscriviti|segui)\ (?:al\ |alla\ |ai\ |il\ |la\ )?(?:nostro|nostra|nostri)\b.{0,40}?\bMESSENGERS\b
      | (?:entre|participe|inscreva-se|junte-se|siga|acompanhe)\ (?:no|na|do|da|ao|à|o|a)\ (?:nosso|nossa)\b.{0,40}?\bMESSENGERS\b
    )""".replace("MESSENGERS", _MESSENGERS),
    re.IGNORECASE | re.VERBOSE,
)
CALL_TO_ACTION_MAX_WORDS = 60

# "(Reporting by A; Editing by B)", "Writing by …": the wire's staff credit.
_WIRE_CREDIT = re.compile(
    r"^\W*(?:additional\ )?(?:reporting|writing|editing|compiled|research|produced|edited|translated)\ by\b",
    re.IGNORECASE | re.VERBOSE,
)
# "SOURCE: News agencies", "Quelle: dpa": a short source credit line.  The
# possessive \W*+ and \w++ take whole runs: with \W* free to match nothing, a
# long word could be cut into six pieces in every way before the match failed.
_SOURCE_LINE = re.compile(r"^\W*(?:source|sources|quelle|fonte|fuente)\s*:\s*\S(?:\W*+\w++){0,6}\W*$", re.IGNORECASE)
# "Filed under: Politics |", "Tags: …": taxonomy lines.
_TAXONOMY_LINE = re.compile(
    r"^\W*(?:filed under|tags|tagged|tagged with|topics|categories|category|schlagworte|themen|étiquettes|etiquetas|argomenti)\s*:",
    re.IGNORECASE,
)
# "5 min read", "Reading time: 4 minutes", "Tempo de leitura: 1 minuto".
_READING_TIME = re.compile(
    r"""^\W*(?:
        (?:estimated\ )?(?:reading\ time|read\ time|time\ to\ read|lesezeit|lesedauer|temps\ de\ lecture|tiempo\ de\ lectura|tempo\ de\ leitura|tempo\ di\ lettura)
            \s*:?\s*(?:about\ |approx\.?\ |ca\.?\ |less\ than\ |under\ )?\d+(?:\s*[-–]\s*\d+)?\s*\w*\.?
      | (?:about\ )?\d+(?:\s*[-–]\s*\d+)?\s*(?:min|mins|minute|minutes|minuten|minutos|minuti)\.?\s*(?:read|reading|de\ lecture|lesezeit|lesen|de\ lectura|de\ leitura|di\ lettura)
    )\W*$""",
    re.IGNORECASE | re.VERBOSE,
)
# "Updated at 1:23 p.m.", "Published 18 March 2021, 10:12": a time stamp line.
_STAMP_LINE = re.compile(
    r"^\W*(?:last\ )?(?:updated|published|posted|first\ published|modified|aktualisiert|veröffentlicht|"
    r"mis\ à\ jour|publié|actualizado|publicado|aggiornato|pubblicato|atualizado)\b\W*(?:at|on|am|um|le|el|il|em|:)?\b.{0,60}\d",
    re.IGNORECASE | re.VERBOSE,
)
STAMP_MAX_WORDS = 12
# Month and weekday names (and their usual English short forms) in the
# languages above, folded as fold_line folds them.
_MONTH_AND_WEEKDAY_NAMES = frozenset(
    "jan feb mar apr may jun jul aug sep sept oct nov dec january february march april june july august "
    "september october november december monday tuesday wednesday thursday friday saturday sunday mon tue wed "
    "thu fri sat sun "
    "januar februar märz mai juni juli oktober dezember montag dienstag mittwoch donnerstag freitag samstag "
    "sonntag "
    "janvier février mars avril juin juillet août septembre octobre novembre décembre lundi mardi mercredi "
    "jeudi vendredi samedi dimanche "
    "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre lunes martes "
    "miércoles jueves viernes sábado domingo "
    "janeiro fevereiro março maio junho julho setembro outubro novembro dezembro segunda terça quarta quinta "
    "sexta sábado domingo "
    "gennaio febbraio aprile maggio giugno luglio settembre ottobre dicembre lunedì martedì mercoledì giovedì "
    "venerdì sabato domenica".split()
)
# Every word a date-and-time line may hold: the names and the small words and
# zones around them ("am", "um … Uhr", "de", "às").
_DATE_WORDS = _MONTH_AND_WEEKDAY_NAMES | set(
    "am pm a m p m at on the of gmt utc bst cet cest est edt pst pdt ist "
    "um uhr "
    "le à h "
    "de del a las "
    "feira às "
    "alle ore".split()
)
# "By Maren Holt", "By MAREN HOLT and Jo Lin, Reuters", "Von Max Muster": a byline.
_BYLINE = re.compile(r"^\s*(?:by|von|par|por|di|door|av|af)\s+(?P<names>\S.{0,120})$", re.IGNORECASE)
_NAME_JOINERS = {"and", "und", "et", "y", "e", "og", "en", "&", "with", "mit", "avec", "con", "com"}
BYLINE_MAX_WORDS = 12
# "Headline of another story [VIDEO]": a teaser link with a media-type tag.
_TAGGED_TEASER = re.compile(r"^[^.!?]{10,160}\s\[[A-Z][A-Z ]{2,20}\]\W*$")
TEASER_MAX_WORDS = 20
# "[button link=…]Send us YOUR review[/button]": unrendered CMS shortcode.
_SHORTCODE = re.compile(r"^\[(\w+)\b[^\]]*\].*\[/\1\]$")

_TITLE_SEPARATORS = (" | ", " – ", " — ", " - ", " :: ", " · ", " • ", " « ", " » ", " : ", ": ")
_SITE_SUFFIX_MAX_WORDS = 5

# "Seoul / Pyongyang (dpa) – ", "WASHINGTON (Reuters) - ", "Berlin, 18 March (AFP) — ",
# "LONDON — " (upper-case place, no agency).  Each word of the place is taken
# whole (possessive *+, ++): the separator may be a bare word boundary, so
# "A.a.a.a…" could otherwise be cut into up to eight words in every way
# before the match failed, ~n^7 steps.
_DATELINE = re.compile(
    r"""^(?P<dateline>
        (?P<place>[^\W\d_][\w.'’]*+(?:[ \t]*+(?:[/,]|\b)[ \t]*+[\w.'’]++){0,7}?)
        [ \t]*(?:\((?P<agency>[^\W\d_][\w/&.+ -]{0,24})\))?
    )[ \t]*[–—-]{1,2}[ \t]+(?=\S)""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class CleanedArticle(ExtractedArticle):
    """An extracted article after cleaning: title and text cleaned, and the
    wire dateline split off the text."""

    dateline: str | None = None
    agency: str | None = None


@lru_cache(maxsize=4096)  # each rule below folds the same lines again
def fold_line(line: str) -> str:
    """A line reduced for comparison: case, accents kept, punctuation and spacing folded."""
    line = unicodedata.normalize("NFKC", line).casefold()
    line = re.sub(r"[^\w\s]", " ", line)
    return " ".join(line.split())


_FOLDED_BOILERPLATE = {fold_line(phrase) for phrase in BOILERPLATE_LINES}
_FOLDED_TRAILERS = {fold_line(phrase) for phrase in TRAILER_HEADINGS}


def clean_title(
    title: str | None,
    site_name: str | None = None,
    *,
    host: str | None = None,
    feed_title: str | None = None,
) -> str | None:
    """Drop a site name glued to either end of a title ("… | Free press").

    The site is known by its og:site_name, the feed's title and the host the
    page came from ("harbour-gazette.co.uk", "Harbour Gazette" or "HarbourGazette"
    for harbour-gazette.co.uk); a short part after " | " goes too.  A title is
    never cut to nothing or down to the site name."""
    if not title:
        return title
    title = " ".join(title.split())
    sites = _site_names(site_name, host, feed_title)
    cleaned = _strip_site(title, sites)
    if not cleaned or any(_same_site(cleaned, site) for site in sites):
        return title
    return cleaned


def _site_names(site_name: str | None, host: str | None, feed_title: str | None) -> list[str]:
    names = [fold_line(name) for name in (site_name, feed_title) if name and fold_line(name)]
    if host:
        host = host.lower().split("@")[-1].split(":")[0].strip(".")
        if host.startswith("www."):
            host = host[4:]
        labels = [label for label in host.split(".") if label]
        if len(labels) >= 2 and not host.replace(".", "").isdigit():
            names.append(fold_line(host))
            # the registered name: "harbour-gazette" of harbour-gazette.co.uk
            core = labels[-3] if len(labels) >= 3 and len(labels[-2]) <= 3 and len(labels[-1]) == 2 else labels[-2]
            if len(core) >= 3:
                names.append(fold_line(core.replace("-", " ")))
    return [name for name in dict.fromkeys(names) if name]


def _same_site(part: str, folded_site: str) -> bool:
    folded = fold_line(part)
    return bool(folded) and (folded == folded_site or folded.replace(" ", "") == folded_site.replace(" ", ""))


def _strip_site(title: str, sites: list[str]) -> str:
    for separator in _TITLE_SEPARATORS:
        if separator not in title:
            continue
        head, _, tail = title.rpartition(separator)
        first, _, rest = title.partition(separator)
        if head.strip() and _is_site_name(tail, sites):
            return _strip_site(head, sites)
        if rest.strip() and _is_site_name(first, sites):
            return _strip_site(rest, sites)
        if head.strip() and separator == " | " and _short(tail):
            return _strip_site(head, sites)
    return title


def _is_site_name(part: str, sites: list[str] | str) -> bool:
    if isinstance(sites, str):
        sites = [sites] if sites else []
    if any(_same_site(part, site) for site in sites):
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


def strip_boilerplate(text: str, title: str | None = None, headings: tuple[str, ...] | list[str] = ()) -> str:
    """Remove furniture lines: a repeated heading, related-link blocks, whole
    furniture lines anywhere, and bylines, calls to action and credits at the edges."""
    lines = [line.strip() for line in text.splitlines()]
    lines = [line for line in lines if line]
    if lines and _repeats_heading(lines[0], title, headings):
        lines = lines[1:]
    lines = _cut_trailer(lines)
    lines = _cut_link_blocks(lines)
    lines = [line for line in lines if not _is_furniture(line)]
    return "\n".join(_trim_edges(lines))


def _repeats_heading(line: str, title: str | None, headings) -> bool:
    folded = fold_line(line)
    if not folded:
        return False
    for heading in (title, *headings):
        if heading and folded == fold_line(heading):
            return True
    return False


# Longer than any line _is_furniture can match (but a shortcode): a paragraph.
FURNITURE_MAX_WORDS = 40
FURNITURE_MAX_CHARS = 260


def _is_furniture(line: str) -> bool:
    if len(line) > FURNITURE_MAX_CHARS and len(line.split()) > FURNITURE_MAX_WORDS and not line.startswith("["):
        return False
    folded = fold_line(line)
    if folded in _FOLDED_BOILERPLATE:
        return True
    if folded.startswith(("copyright", "©")) or line.lstrip().startswith("©"):
        return len(folded.split()) <= 12
    words = len(line.split())
    unbracketed = line[1:-1] if line.startswith("[") and line.endswith("]") else line
    if (_LEAD_IN_LINE.match(unbracketed) or _ALSO_ON_SITE.match(line)) and not unbracketed.rstrip().endswith(
        (".", "!", "?", "\"")
    ):
        return True
    if _READING_TIME.match(line) or _SHORTCODE.match(line):
        return True
    if words <= TEASER_MAX_WORDS and _TAGGED_TEASER.match(line):
        return True
    if _TAXONOMY_LINE.match(line) and words <= 30:
        return True
    # A line that opens with a call to action ("Sign up for our newsletter …").
    return words <= 40 and bool(_CALL_TO_ACTION.match(line))


def _is_date_line(line: str) -> bool:
    """A line made only of a date and time ("sexta-feira, 22 de outubro de 2010 às 20:13")."""
    tokens = re.findall(r"[^\W_]+", line.casefold())
    if not tokens or not any(t.isdigit() for t in tokens):
        return False
    has_word = any(not t.isdigit() for t in tokens)
    has_year = bool(re.search(r"\b(19|20)\d{2}\b", line))
    return has_word and has_year and all(t.isdigit() or t in _DATE_WORDS for t in tokens)


def _sentences(line: str) -> list[str]:
    return [part for part in re.split(r"(?<=[.!?…])\s+", line) if part]


def _is_edge_furniture(line: str) -> bool:
    """Lines that are furniture at the start or end of a body: mostly calls to
    action, a wire staff credit, a short source credit, a time stamp."""
    words = len(line.split())
    if words > CALL_TO_ACTION_MAX_WORDS:
        return False
    sentences = _sentences(line)
    if 2 * sum(bool(_CALL_TO_ACTION.match(sentence)) for sentence in sentences) > len(sentences):
        return True
    if words <= STAMP_MAX_WORDS and (_STAMP_LINE.match(line) or _is_date_line(line)):
        return True
    return bool(_WIRE_CREDIT.match(line) or _SOURCE_LINE.match(line))


def _is_byline(line: str) -> bool:
    match = _BYLINE.match(line)
    if not match or len(line.split()) > BYLINE_MAX_WORDS or line.rstrip().endswith(("!", "?")):
        return False
    names = re.split(r"\s*[,;|·•/]\s*|\s+[–—-]\s+", match.group("names"))
    words = [w for part in names for w in part.split() if w.casefold() not in _NAME_JOINERS]
    return bool(words) and all(w[0].isupper() or w[0] in "@(" for w in words)


def _trim_edges(lines: list[str]) -> list[str]:
    start = 0
    while start < len(lines) and (
        _is_edge_furniture(lines[start]) or (start < 2 and _is_byline(lines[start]))
    ):
        start += 1
    end = len(lines)
    while end > start and _is_edge_furniture(lines[end - 1]):
        end -= 1
    return lines[start:end]


def _cut_trailer(lines: list[str]) -> list[str]:
    for index, line in enumerate(lines):
        if index == 0 or fold_line(line) not in _FOLDED_TRAILERS:
            continue
        rest = lines[index + 1:]
        if all(len(item.split()) <= TRAILER_LINK_MAX_WORDS for item in rest):
            return lines[:index]
    return lines


def _is_link_headline(line: str) -> bool:
    return len(line.split()) <= TRAILER_LINK_MAX_WORDS and not line.rstrip().endswith((".", "!", "?", ":", "\""))


def _cut_link_blocks(lines: list[str]) -> list[str]:
    """A "Related"/"Don't miss" heading inside the body goes with the short
    headline lines right after it (up to the next sentence)."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        if index > 0 and fold_line(line) in _FOLDED_TRAILERS:
            run = index + 1
            while run < len(lines) and _is_link_headline(lines[run]):
                run += 1
            if run > index + 1:
                index = run
                continue
        out.append(line)
        index += 1
    return out


def clean_article(article: ExtractedArticle, *, feed_title: str | None = None) -> CleanedArticle:
    """The article with its title and text cleaned and its wire dateline split off."""
    try:
        host = urlsplit(article.canonical_link or article.url or "").hostname
    except ValueError:  # "http://[x": no usable host
        host = None
    title = clean_title(article.title, article.site_name, host=host, feed_title=feed_title)
    headings = tuple(article.headings)
    headings += tuple(clean_title(h, article.site_name, host=host, feed_title=feed_title) or "" for h in headings)
    text = strip_boilerplate(article.text, title, headings)
    dateline, agency, text = split_dateline(text)
    return CleanedArticle(**vars(article) | {"title": title, "text": text, "dateline": dateline, "agency": agency})


# ---------------------------------------------------------------- learned per site
#
# A line that recurs on many pages of one site ("This article was translated
# from German.", a standing credit or promo) is that site's furniture even
# when no phrase list knows it.  Each stored article adds one to the support
# of each of its lines; a line whose support reaches the threshold is removed
# from that site's articles from then on.  Bump SITE_RULES_VERSION whenever
# line folding or hashing changes: rows of another version are ignored, so
# every site learns again from the pages stored after the change.
#
# Version 2: numbers and month/weekday names are keyed as placeholders, so a
# line carrying the page's date ("… print edition of Tuesday 7 May 2024.") is
# one line across pages.

SITE_RULES_VERSION = 2
# Lines longer than this are article prose, not furniture, however often a
# site repeats them (a standing paragraph about an ongoing trial, say).
SITE_RULE_MAX_WORDS = 60
# Numbers and dates are keyed as placeholders only in a line with at least this
# many other words: the shared wording is what makes two dated lines one line.
# Shorter lines ("Day 3 of the trial", "Score: 2-1", "The FTSE 100 closed at
# 8,213") keep their numbers, so short data lines never merge on them.
DATED_LINE_MIN_OTHER_WORDS = 5
_DIGIT_RUN = re.compile(r"\d+")


def _keyed_form(line: str) -> str:
    """The folded line, with digit runs and month/weekday names as "#" when
    enough other words remain ("#" never survives fold_line, so it cannot
    collide with a line's own text)."""
    tokens = fold_line(line).split()
    placeholders = [token in _MONTH_AND_WEEKDAY_NAMES or bool(_DIGIT_RUN.search(token)) for token in tokens]
    if len(tokens) - sum(placeholders) < DATED_LINE_MIN_OTHER_WORDS:
        return " ".join(tokens)
    return " ".join(
        ("#" if token in _MONTH_AND_WEEKDAY_NAMES else _DIGIT_RUN.sub("#", token)) if placeholder else token
        for token, placeholder in zip(tokens, placeholders)
    )


def line_key(line: str) -> int:
    """A stable signed 64-bit key of a folded line (fits a PostgreSQL bigint);
    lines that differ only in their numbers or dates share it."""
    digest = hashlib.blake2b(_keyed_form(line).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def site_lines(text: str) -> list[tuple[int, str]]:
    """(key, line) of each distinct line of a cleaned text that could be furniture."""
    seen: dict[int, str] = {}
    for line in text.splitlines():
        line = line.strip()
        words = len(line.split())
        if 0 < words <= SITE_RULE_MAX_WORDS and fold_line(line):
            seen.setdefault(line_key(line), line)
    return list(seen.items())


# A learned line shaped like article prose (pipeline.text.prose_shaped) is
# removed only on stronger evidence than a page count:
# it must also be on SITE_RULE_MIN_SHARE of the site's pages since it was
# first seen, counted over at least SITE_RULE_SHARE_MIN_PAGES pages.  Chrome
# is on most of a site's pages; a paragraph an outlet reuses (a developing
# story at new URLs, a series' background, an explainer box) is on a few.
SITE_RULE_MIN_SHARE = 0.5
SITE_RULE_SHARE_MIN_PAGES = 10
# Learned rules never take more than this share of an article's text: when
# they would, they are all withheld on that page and the page says so.
LEARNED_MAX_SHARE = 0.3


@dataclass(frozen=True)
class LearnedLines:
    """One site's learned furniture: the keys of ``lines`` seen on enough of
    its pages, and of them the ``common`` ones, also on a large enough share
    of its pages (pipeline.store.site_lines.learned_site_lines)."""

    lines: frozenset[int] = frozenset()
    common: frozenset[int] = frozenset()


@dataclass(frozen=True)
class LearnedRemoval:
    """The text after the site's learned lines, the lines removed, and the
    lines withheld: those the rules would have removed past LEARNED_MAX_SHARE
    of the text (then nothing is removed)."""

    text: str
    removed: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()


def apply_learned_lines(text: str, learned: LearnedLines | None) -> LearnedRemoval:
    """Drop whole lines that are the site's learned furniture: a short line
    on a page count, a prose-shaped one only when it is common on the site;
    and none at all when together they would take more than
    LEARNED_MAX_SHARE of the text."""
    if not learned or not learned.lines:
        return LearnedRemoval(text)
    kept: list[str] = []
    removed: list[str] = []
    for line in text.splitlines():
        key = line_key(line)
        if key in learned.lines and (key in learned.common or not prose_shaped(line)):
            removed.append(line)
        else:
            kept.append(line)
    if not removed:
        return LearnedRemoval(text)
    if sum(len(line) for line in removed) > LEARNED_MAX_SHARE * len(text):
        return LearnedRemoval(text, withheld=tuple(removed))
    return LearnedRemoval("\n".join(kept), removed=tuple(removed))


def remove_learned_lines(text: str, learned: LearnedLines | None) -> str:
    """The text without the site's learned furniture lines (apply_learned_lines)."""
    return apply_learned_lines(text, learned).text


__all__ = [
    "CleanedArticle", "clean_article", "clean_title", "split_dateline", "strip_boilerplate",
    "fold_line", "line_key", "site_lines", "remove_learned_lines", "apply_learned_lines", "prose_shaped",
    "LearnedLines", "LearnedRemoval", "SITE_RULES_VERSION",
]
