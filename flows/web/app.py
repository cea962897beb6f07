"""The web application of `newsflow web`: pages for people, JSON under /api/
for programs, both over the questions of pipeline/query.py.

Read-only by construction: every route is a GET; the engine it is given can
only read (pipeline.store.engine.get_read_engine: the newsflow_reader role or
NEWSFLOW_READ_DATABASE_URL, read-only transactions).  Stored text reaches a
page only through Jinja2 with autoescaping on, and every response carries a
Content-Security-Policy that allows no script and nothing from another
origin.  A parameter that does not validate is a 422 that names it.

Listings are paged by key (``after``: an opaque cursor from the previous
page's ``next``), so polling a listing never repeats or skips a row.  The API
answers carry an ETag (a hash of the body: a 304 exactly when the answer has
not changed) and a Last-Modified (when an ingest run last started or ended).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParameter
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from pydantic import AfterValidator, BeforeValidator
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flows.web.chart import bar_chart
from pipeline import query

HERE = Path(__file__).resolve().parent

# No script at all, styles and images from newsflow itself only, forms only
# to itself, and no framing: a stored text that slipped past escaping could
# still run nothing.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
PAGE_SIZE, MAX_PAGE_SIZE = 20, 100
SEARCH_RESULTS = 10
BIGINT_MAX = 2**63 - 1


# ---------------------------------------------------------------------------
# Parameters: an empty form field means "not given"; the rest is checked
# here, so that nothing PostgreSQL would refuse reaches it (a 422, not a 500).
# ---------------------------------------------------------------------------

def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


def _text(max_length: int) -> Callable[[str | None], str | None]:
    def check(value: str | None) -> str | None:
        if value is None:
            return None
        if "\x00" in value:
            raise ValueError("must not contain a NUL character")
        if len(value) > max_length:
            raise ValueError(f"must be at most {max_length} characters")
        return value.strip()
    return check


def _between(low: int, high: int) -> Callable[[int | None], int | None]:
    def check(value: int | None) -> int | None:
        if value is not None and not low <= value <= high:
            raise ValueError(f"must be between {low} and {high}")
        return value
    return check


def _in_utc(value: datetime | None) -> datetime | None:
    """A time without a zone is taken as UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


OptionalText = Annotated[str | None, BeforeValidator(_blank_is_none), AfterValidator(_text(200))]
OptionalTime = Annotated[datetime | None, BeforeValidator(_blank_is_none), AfterValidator(_in_utc)]
OptionalId = Annotated[int | None, BeforeValidator(_blank_is_none), AfterValidator(_between(1, BIGINT_MAX))]
Since = Annotated[OptionalTime, Query(description="Only from this time on (ISO 8601; a date means its midnight UTC).")]
Until = Annotated[OptionalTime, Query(description="Only up to this time (ISO 8601).")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="At most this many items.")]
After = Annotated[OptionalText, Query(description="The `next` cursor of the previous page.")]
FeedId = Annotated[OptionalId, Query(alias="feed", description="Only this feed's (its id, see /api/feeds).")]
Language = Annotated[OptionalText, Query(description="Only this language (ISO 639-1 code, e.g. en).")]
MinOutlets = Annotated[
    int | None, BeforeValidator(_blank_is_none), AfterValidator(_between(1, 10_000)),
    Query(description="Only stories carried by at least this many outlets."),
]
Label = Annotated[OptionalText, Query(description="Only entities of this label: PERSON, ORG, GPE, …")]
ItemId = Annotated[int, PathParameter(ge=1, le=BIGINT_MAX)]


def _exists(found: Any, what: str, item_id: int) -> Any:
    """``found``, unless there is nothing: a 404 naming what was asked for."""
    if found is None or found == []:
        raise HTTPException(404, f"no {what} #{item_id}")
    return found


def _connection(request: Request) -> Iterator[Connection]:
    """One connection of the app's engine for the request."""
    with request.app.state.engine.connect() as conn:
        yield conn


Conn = Annotated[Connection, Depends(_connection)]


class BadParameter(ValueError):
    """A parameter that passed its type but not its meaning (a cursor that
    is not one of ours)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(message)
        self.name = name


def _encode_cursor(*key: Any) -> str:
    values = [value.isoformat() if isinstance(value, datetime) else value for value in key]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str | None, first: Callable[[Any], Any]) -> tuple[Any, int] | None:
    """A cursor's (key, id); ``first`` converts the key.  BadParameter when
    it is not a cursor this app made."""
    if cursor is None:
        return None
    try:
        key, row_id = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(row_id, int) or not 1 <= row_id <= BIGINT_MAX:
            raise ValueError(row_id)
        return first(key), row_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise BadParameter("after", "not a cursor of this listing: pass the `next` value of the previous page") from None


def _time_key(value: Any) -> datetime:
    if not isinstance(value, str):
        raise TypeError(value)
    return _in_utc(datetime.fromisoformat(value))


def _text_key(value: Any) -> str:
    if not isinstance(value, str) or "\x00" in value:
        raise TypeError(value)
    return value


def _next_cursor(rows: list[dict], limit: int, key: str) -> str | None:
    """The cursor past the last row, when the page is full (there may be more)."""
    return _encode_cursor(rows[-1][key], rows[-1]["id"]) if len(rows) == limit else None


# ---------------------------------------------------------------------------
# Responses
# ---------------------------------------------------------------------------

def _http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def _not_modified(request: Request, etag: str, last_modified: datetime | None) -> bool:
    """Whether the client's copy is current (RFC 9110 13.2.2: If-None-Match
    decides when sent, If-Modified-Since only without it)."""
    if_none_match = request.headers.get("if-none-match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    if_modified_since = request.headers.get("if-modified-since")
    if if_modified_since and last_modified is not None:
        try:
            since = parsedate_to_datetime(if_modified_since)
        except (TypeError, ValueError):
            return False  # a date that does not parse is ignored (RFC 9110 13.1.3)
        if since.tzinfo is None:
            return False
        return last_modified.replace(microsecond=0) <= since
    return False


def _json(request: Request, conn: Connection, payload: Any) -> Response:
    body = json.dumps(jsonable_encoder(payload), ensure_ascii=False, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    last_modified = query.last_write(conn)
    # no-cache: a cache may keep the answer but must ask (cheaply, with the
    # validators) before using it again.
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if last_modified is not None:
        headers["Last-Modified"] = _http_date(last_modified)
    if _not_modified(request, etag, last_modified):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


def _page_of(rows: list[dict], limit: int, key: str) -> dict:
    return {"items": rows, "next": _next_cursor(rows, limit, key)}


# ---------------------------------------------------------------------------
# Templates
# ---------------------------------------------------------------------------

def _when(moment: datetime | date | None) -> str:
    if moment is None:
        return "–"
    if isinstance(moment, datetime):
        return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return moment.isoformat()


def _highlighted(snippet: str) -> Markup:
    """A search snippet, its matches (between ** marks) as <mark>, every
    part escaped."""
    parts = snippet.split("**")
    return Markup("").join(Markup("<mark>{}</mark>").format(part) if index % 2 else escape(part)
                           for index, part in enumerate(parts))


def _web_url(url: str | None) -> str | None:
    """A stored URL fit for a link: http(s) only (no javascript: or data:)."""
    return url if url and url.lower().startswith(("http://", "https://")) else None


def joined(member: dict) -> str:
    """How an article joined its story, in words."""
    kind = member["match_kind"] or "new"
    if member["is_canonical"]:
        return "canonical" + ("" if kind == "new" else f" ({kind})")
    if kind == "near":
        score = f" (score {member['match_score']:.2f})" if member["match_score"] is not None else ""
        return f"near copy of #{member['matched_article_id']}{score}"
    if kind == "exact":
        return f"same text as #{member['matched_article_id']}"
    return kind


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"), autoescape=True, undefined=StrictUndefined,
        trim_blocks=True, lstrip_blocks=True,
    )
    environment.filters.update(when=_when, highlighted=_highlighted, web_url=_web_url, joined=joined)
    return environment


# ---------------------------------------------------------------------------
# The application
# ---------------------------------------------------------------------------

def create_app(engine: Engine) -> FastAPI:
    """The app over ``engine``, which should only be able to read
    (get_read_engine)."""
    app = FastAPI(
        title="newsflow", version="1", openapi_url="/api/openapi.json",
        # FastAPI's own docs pages load Swagger UI / ReDoc from a CDN, which
        # the Content-Security-Policy (and an offline machine) refuses:
        # /api/docs is a page of ours, rendered from the same schema.
        docs_url=None, redoc_url=None,
        description="Read-only JSON over newsflow's stored news. Listings are paged by key: pass a page's "
                    "`next` as `after`. Answers carry an ETag and a Last-Modified.",
    )
    templates = _environment()
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    app.state.engine = engine
    def page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        html = templates.get_template(template).render(request_path=request.url.path, **context)
        return HTMLResponse(html, status_code=status_code)

    def wants_json(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid_parameters(request: Request, exc: RequestValidationError):
        problems = [{"parameter": str(error["loc"][-1]), "in": str(error["loc"][0]),
                     "message": error["msg"].removeprefix("Value error, ")}
                    for error in exc.errors()]
        return _problem(request, 422, problems)

    @app.exception_handler(BadParameter)
    async def bad_parameter(request: Request, exc: BadParameter):
        return _problem(request, 422, [{"parameter": exc.name, "in": "query", "message": str(exc)}])

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _problem(request, exc.status_code, [{"message": str(exc.detail)}], headers=exc.headers)

    @app.exception_handler(DBAPIError)
    async def database_error(request: Request, exc: DBAPIError):
        # The database is down, or cancelled a statement (statement timeout):
        # not the request's fault, and worth trying again later.
        return _problem(request, 503, [{"message": "the database could not answer now; try again later"}])

    def _problem(request: Request, status: int, problems: list[dict], headers=None) -> Response:
        if wants_json(request):
            return JSONResponse({"detail": problems}, status_code=status, headers=headers)
        return page(request, "error.html", status_code=status, status=status, problems=problems)

    # -- pages ------------------------------------------------------------

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def stories_page(request: Request, conn: Conn, since: Since = None, until: Until = None,
                     min_outlets: MinOutlets = None, feed_id: FeedId = None, language: Language = None,
                     after: After = None):
        filters = {"since": since, "until": until, "min_outlets": min_outlets or 1, "feed_id": feed_id,
                   "language": language}
        rows = query.latest_stories(conn, after=_decode_cursor(after, _time_key), limit=PAGE_SIZE, **filters)
        form = {"since": since.date().isoformat() if since else "", "until": until.date().isoformat() if until else "",
                "min_outlets": min_outlets or "", "feed": feed_id or "", "language": language or ""}
        return page(request, "stories.html", stories=rows, form=form, feeds=query.feed_choices(conn),
                    next=_next_cursor(rows, PAGE_SIZE, "first_seen_at"))

    @app.get("/stories/{story_id}", response_class=HTMLResponse, include_in_schema=False)
    def story_page(request: Request, conn: Conn, story_id: ItemId):
        found = _exists(query.story(conn, story_id), "story", story_id)
        return page(request, "story.html", story=found, members=query.story_members(conn, story_id))

    @app.get("/search", response_class=HTMLResponse, include_in_schema=False)
    def search_page(request: Request, conn: Conn,
                    q: Annotated[OptionalText, Query(description="Words to find.")] = None):
        # As many results as `newsflow search` shows: each costs a highlighted snippet.
        hits = query.search_articles(conn, q, limit=SEARCH_RESULTS) if q else []
        return page(request, "search.html", q=q or "", hits=hits)

    @app.get("/entities", response_class=HTMLResponse, include_in_schema=False)
    def entities_page(request: Request, conn: Conn, label: Label = None, after: After = None):
        rows = query.entity_list(conn, label=label, after=_decode_cursor(after, _text_key), limit=50)
        return page(request, "entities.html", entities=rows, label=label or "", labels=query.entity_labels(conn),
                    next=_next_cursor(rows, 50, "sort_name"))

    @app.get("/entities/{entity_id}", response_class=HTMLResponse, include_in_schema=False)
    def entity_page(request: Request, conn: Conn, entity_id: ItemId):
        found = _exists(query.entity_detail(conn, entity_id), "entity", entity_id)
        timeline = query.entity_timeline(conn, entity_id)
        chart = bar_chart({row["day"]: row["mentions"] for row in timeline}, label="mentions")
        return page(request, "entity.html", entity=found, chart=chart, timeline=timeline)

    @app.get("/feeds", response_class=HTMLResponse, include_in_schema=False)
    def feeds_page(request: Request, conn: Conn):
        return page(request, "feeds.html", feeds=query.feed_health(conn))

    @app.get("/runs", response_class=HTMLResponse, include_in_schema=False)
    def runs_page(request: Request, conn: Conn, after: After = None):
        rows = query.recent_runs(conn, PAGE_SIZE, after=_decode_cursor(after, _time_key))
        return page(request, "runs.html", runs=rows, next=_next_cursor(rows, PAGE_SIZE, "started_at"))

    @app.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request):
        return page(request, "api_docs.html", schema=app.openapi())

    # -- the JSON API -----------------------------------------------------

    @app.get("/api/articles", tags=["articles"])
    def api_articles(request: Request, conn: Conn, since: Since = None, until: Until = None,
                     feed_id: FeedId = None, language: Language = None, after: After = None,
                     limit: Limit = PAGE_SIZE):
        """Articles newest first (published, else fetched), without their text: `{items, next}`."""
        rows = query.latest_articles(conn, after=_decode_cursor(after, _time_key), since=since, until=until,
                                     feed_id=feed_id, language=language, limit=limit)
        return _json(request, conn, _page_of(rows, limit, "time"))

    @app.get("/api/articles/{article_id}", tags=["articles"])
    def api_article(request: Request, conn: Conn, article_id: ItemId):
        """One article with its clean text and how it joined its story."""
        found = _exists(query.article(conn, article_id), "article", article_id)
        return _json(request, conn, found)

    @app.get("/api/stories", tags=["stories"])
    def api_stories(request: Request, conn: Conn, since: Since = None, until: Until = None,
                    min_outlets: MinOutlets = None, feed_id: FeedId = None, language: Language = None,
                    after: After = None, limit: Limit = PAGE_SIZE):
        """Stories newest first (first seen), with outlets, first and last article time and top
        entities: `{items, next}`."""
        rows = query.latest_stories(conn, after=_decode_cursor(after, _time_key), since=since, until=until,
                                    min_outlets=min_outlets or 1, feed_id=feed_id, language=language, limit=limit)
        return _json(request, conn, _page_of(rows, limit, "first_seen_at"))

    @app.get("/api/stories/{story_id}", tags=["stories"])
    def api_story(request: Request, conn: Conn, story_id: ItemId):
        """One story with its canonical article (and its text)."""
        found = _exists(query.story(conn, story_id), "story", story_id)
        return _json(request, conn, found)

    @app.get("/api/stories/{story_id}/members", tags=["stories"])
    def api_story_members(request: Request, conn: Conn, story_id: ItemId):
        """Every article of a story and how it joined (new, exact, near with its score)."""
        members = _exists(query.story_members(conn, story_id), "story", story_id)
        return _json(request, conn, {"items": members})

    @app.get("/api/search", tags=["search"])
    def api_search(
        request: Request, conn: Conn,
        q: Annotated[str, Query(min_length=1, max_length=200,
                                description='Words to find; "quoted phrases", or, and -excluded words work.')],
        since: Since = None,
        feed: Annotated[OptionalText, Query(description="Only this feed's articles (its name or URL).")] = None,
        entity: Annotated[OptionalText, Query(description="Only articles mentioning this entity (name or alias).")] = None,
        label: Label = None,
        all_copies: Annotated[bool, Query(description="Every copy, not one result per story.")] = False,
        limit: Annotated[int, Query(ge=1, le=50, description="At most this many results.")] = SEARCH_RESULTS,
    ):
        """`newsflow search`: best matches first, one per story: `{items}` (not paged: the ranking
        is over the newest 200 matches, see the CLI's search)."""
        if "\x00" in q:
            raise BadParameter("q", "must not contain a NUL character")
        hits = query.search_articles(conn, q, limit=limit, since=since, feed=feed, entity=entity, label=label,
                                     one_per_story=not all_copies)
        return _json(request, conn, {"items": [dataclasses.asdict(hit) for hit in hits]})

    @app.get("/api/entities", tags=["entities"])
    def api_entities(request: Request, conn: Conn, label: Label = None, after: After = None,
                     limit: Limit = PAGE_SIZE):
        """Entities by name, each with the number of articles mentioning it: `{items, next}`."""
        rows = query.entity_list(conn, label=label, after=_decode_cursor(after, _text_key), limit=limit)
        return _json(request, conn, _page_of(rows, limit, "sort_name"))

    @app.get("/api/entities/{entity_id}", tags=["entities"])
    def api_entity(request: Request, conn: Conn, entity_id: ItemId):
        """One entity: aliases, the stories mentioning it, the entities it co-occurs with."""
        found = _exists(query.entity_detail(conn, entity_id), "entity", entity_id)
        return _json(request, conn, found)

    @app.get("/api/entities/{entity_id}/timeline", tags=["entities"])
    def api_entity_timeline(
        request: Request, conn: Conn, entity_id: ItemId,
        days: Annotated[int, Query(ge=1, le=3660, description="Days up to its newest mention.")] = 60,
    ):
        """Articles, stories and mentions per day (UTC) of one entity; days without any left out."""
        _exists(query.entity_detail(conn, entity_id, stories=0, cooccurring=0), "entity", entity_id)
        return _json(request, conn, {"items": query.entity_timeline(conn, entity_id, days=days)})

    @app.get("/api/feeds", tags=["feeds"])
    def api_feeds(request: Request, conn: Conn):
        """Every feed's health: status, last success, failures, next fetch (`{items}`: every
        feed, the list is the configured one)."""
        return _json(request, conn, {"items": query.feed_health(conn)})

    @app.get("/api/runs", tags=["runs"])
    def api_runs(request: Request, conn: Conn, after: After = None, limit: Limit = PAGE_SIZE):
        """Ingest runs newest first, with their counts per stage and errors: `{items, next}`."""
        rows = query.recent_runs(conn, limit, after=_decode_cursor(after, _time_key))
        return _json(request, conn, _page_of(rows, limit, "started_at"))

    return app
