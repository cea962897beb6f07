"""`newsflow web`'s JSON API and pages over real HTTP, on the demo corpus
ingested into a real PostgreSQL, read through the read-only engine."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import text

pytestmark = pytest.mark.integration

SEED_TITLE = "Gleam: China must influence North Korea"
# A title as a hostile feed could give it: it must reach every page as text.
INJECTED = '<script>alert("newsflow")</script><img src=x onerror=alert(1)> Harbour reopens'


@pytest.fixture(scope="module")
def site(web_demo, engine):
    """The served demo with one article's title replaced by markup."""
    with engine.begin() as conn:
        injected_id = conn.execute(text(
            "UPDATE articles SET title = :title WHERE id = (SELECT min(id) FROM articles WHERE title NOT LIKE 'Gleam%')"
            " RETURNING id"), {"title": INJECTED}).scalar_one()
    return web_demo, injected_id


@pytest.fixture(scope="module")
def client(site):
    with httpx.Client(base_url=site[0], timeout=30) as client:
        yield client


def get_json(client: httpx.Client, path: str, **params) -> dict:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()


def seed_story(client: httpx.Client) -> dict:
    stories = get_json(client, "/api/stories", min_outlets=2)["items"]
    return next(story for story in stories if story["title"] == SEED_TITLE)


def every_page(client: httpx.Client, path: str, **params) -> list[dict]:
    """Every item of a listing, a page at a time through ``next``."""
    items, after, pages = [], None, 0
    while True:
        page = get_json(client, path, **params, **({"after": after} if after else {}))
        items += page["items"]
        pages += 1
        assert pages < 1000
        after = page["next"]
        if after is None:
            return items


def test_the_story_list_shows_the_seed_story_with_its_two_outlets(client):
    story = seed_story(client)
    assert sorted(story["outlets"]) == ["Free press", "The Daily Courier"]
    assert story["outlet_count"] == 2
    assert story["first_published"] <= story["last_published"]
    assert "North Korea" in {entity["name"] for entity in story["entities"]}


def test_story_list_filters(client):
    everything = every_page(client, "/api/stories", limit=100)
    feeds = get_json(client, "/api/feeds")["items"]
    courier = next(feed["id"] for feed in feeds if feed["name"] == "The Daily Courier")
    from_courier = get_json(client, "/api/stories", feed=courier, limit=100)["items"]
    assert SEED_TITLE in {story["title"] for story in from_courier}
    assert 0 < len(from_courier) < len(everything)
    assert all(story["outlet_count"] >= 2 for story in get_json(client, "/api/stories", min_outlets=2)["items"])
    assert get_json(client, "/api/stories", language="xx")["items"] == []
    assert get_json(client, "/api/stories", since="2999-01-01")["items"] == []
    assert len(get_json(client, "/api/stories", until="2999-01-01T00:00:00Z", limit=100)["items"]) == len(everything)


def test_a_story_and_its_members(client):
    story_id = seed_story(client)["id"]
    story = get_json(client, f"/api/stories/{story_id}")
    assert story["canonical"]["title"] == SEED_TITLE
    assert "North Korea" in story["canonical"]["text"]
    members = get_json(client, f"/api/stories/{story_id}/members")["items"]
    assert sorted(member["site_name"] for member in members) == ["Free press", "The Daily Courier"]
    assert [member["is_canonical"] for member in members] == [True, False]
    assert members[1]["match_kind"] in {"exact", "near"}
    article = get_json(client, f"/api/articles/{members[1]['id']}")
    assert article["story_id"] == story_id and article["text"]


def test_search_finds_the_seed_story_once(client):
    hits = get_json(client, "/api/search", q="North Korea")["items"]
    assert [hit["title"] for hit in hits].count(SEED_TITLE) == 1
    story_id = next(hit["story_id"] for hit in hits if hit["title"] == SEED_TITLE)
    copies = get_json(client, "/api/search", q="Blinken North Korea", all_copies="true")["items"]
    assert [hit["story_id"] for hit in copies].count(story_id) == 2
    assert get_json(client, "/api/search", q="zzzqqqxxnotaword")["items"] == []


def test_entities_their_pages_and_timelines(client):
    entities = every_page(client, "/api/entities", limit=7)
    korea = next(entity for entity in entities if entity["name"] == "North Korea")
    assert korea["articles"] >= 2
    places = get_json(client, "/api/entities", label=korea["label"], limit=100)["items"]
    assert {entity["label"] for entity in places} == {korea["label"]}
    detail = get_json(client, f"/api/entities/{korea['id']}")
    assert SEED_TITLE in {story["title"] for story in detail["stories"]}
    assert detail["cooccurring"] and korea["id"] not in {other["id"] for other in detail["cooccurring"]}
    timeline = get_json(client, f"/api/entities/{korea['id']}/timeline")["items"]
    assert sum(day["articles"] for day in timeline) == korea["articles"]
    assert all(day["mentions"] >= day["articles"] for day in timeline)


def test_feeds_and_runs(client):
    feeds = get_json(client, "/api/feeds")["items"]
    assert sorted(feed["name"] for feed in feeds) == sorted(
        ["Free press", "The Daily Courier", "Rhein Post English", "Metro Wire"])
    assert all(feed["last_success_at"] for feed in feeds)
    runs = get_json(client, "/api/runs")["items"]
    assert runs[0]["status"] == "completed" and runs[0]["articles_new"] > 0


@pytest.mark.parametrize("path", ["/api/articles", "/api/stories", "/api/entities", "/api/runs"])
def test_paging_reaches_the_end_without_repeats(client, path):
    whole = get_json(client, path, limit=100)
    assert whole["next"] is None or path == "/api/entities"
    paged = every_page(client, path, limit=2)
    ids = [item["id"] for item in paged]
    assert len(ids) == len(set(ids))
    assert ids == [item["id"] for item in every_page(client, path, limit=100)]
    assert len(ids) >= 1


def test_articles_page_newest_first(client):
    articles = every_page(client, "/api/articles", limit=3)
    keys = [(article["time"], article["id"]) for article in articles]
    assert keys == sorted(keys, reverse=True)
    assert all("text" not in article for article in articles)


def test_a_matching_etag_gets_304_and_a_changed_answer_does_not(client):
    first = client.get("/api/stories")
    etag, last_modified = first.headers["etag"], first.headers["last-modified"]
    again = client.get("/api/stories", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    assert client.get("/api/stories", headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.get("/api/stories?limit=1", headers={"If-None-Match": etag}).status_code == 200
    assert client.get("/api/stories", headers={"If-Modified-Since": last_modified}).status_code == 304
    assert client.get("/api/stories", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"}).status_code == 200


@pytest.mark.parametrize(("path", "parameter"), [
    ("/api/stories?limit=0", "limit"),
    ("/api/stories?limit=101", "limit"),
    ("/api/stories?limit=ten", "limit"),
    ("/api/stories?since=yesterday", "since"),
    ("/api/stories?min_outlets=0", "min_outlets"),
    ("/api/stories?feed=-1", "feed"),
    ("/api/stories?after=not-a-cursor", "after"),
    ("/api/stories?after=WzEsMl0", "after"),  # a JSON list, but not a (time, id) key
    ("/api/articles?language=e%00n", "language"),
    ("/api/entities?after=%FF", "after"),
    ("/api/search", "q"),
    ("/api/search?q=a%00b", "q"),
    ("/api/search?q=" + "x" * 201, "q"),
    ("/api/stories/0", "story_id"),
    ("/api/stories/99999999999999999999", "story_id"),
    ("/api/entities/abc", "entity_id"),
    ("/api/entities/1/timeline?days=0", "days"),
])
def test_bad_parameters_get_422_naming_them(client, path, parameter):
    response = client.get(path)
    assert response.status_code == 422, response.text
    problems = response.json()["detail"]
    assert parameter in {problem["parameter"] for problem in problems}
    assert all(problem["message"] for problem in problems)


@pytest.mark.parametrize("path", ["/stories/abc", "/?min_outlets=-3", "/?since=soon", "/entities?after=zz", "/search?q=%00"])
def test_bad_page_parameters_get_a_422_page(client, path):
    response = client.get(path)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("text/html")
    assert "Bad parameters" in response.text


def test_missing_things_are_404(client):
    for path in ("/api/stories/999999", "/api/stories/999999/members", "/api/articles/999999",
                 "/api/entities/999999", "/api/entities/999999/timeline", "/stories/999999", "/entities/999999"):
        assert client.get(path).status_code == 404, path


def test_an_injected_title_is_text_everywhere(client, site):
    _, injected_id = site
    article = get_json(client, f"/api/articles/{injected_id}")
    assert article["title"] == INJECTED  # the API returns the stored text as it is: JSON, not HTML
    pages = ["/", f"/stories/{article['story_id']}", "/search?q=Harbour+reopens"]
    for path in pages:
        html = client.get(path).text
        assert "&lt;script&gt;alert(&#34;newsflow&#34;)&lt;/script&gt;" in html, path
        assert "<script" not in html and "<img" not in html, path


def test_every_answer_has_a_strict_content_security_policy(client):
    for path in ("/", "/api/stories", "/api/docs", "/static/style.css", "/nowhere"):
        policy = client.get(path).headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy, path
        assert "frame-ancestors 'none'" in policy


def test_every_page_renders(client):
    story_id = seed_story(client)["id"]
    korea = next(entity for entity in every_page(client, "/api/entities", limit=100) if entity["name"] == "North Korea")
    for path, expected in [
        ("/", SEED_TITLE), (f"/stories/{story_id}", "The Daily Courier"), ("/search?q=North+Korea", SEED_TITLE),
        ("/search", "Type words to find"), (f"/entities/{korea['id']}", "<svg"), ("/entities", "Articles"),
        ("/entities?label=GPE", "North Korea"), ("/feeds", "Rhein Post English"), ("/runs", "completed"),
        ("/api/docs", "/api/stories/{story_id}/members"),
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert response.headers["content-type"].startswith("text/html")
        assert expected in response.text, path


def test_the_openapi_schema_lists_every_endpoint_and_nothing_writes(client):
    schema = get_json(client, "/api/openapi.json")
    assert set(schema["paths"]) == {
        "/api/articles", "/api/articles/{article_id}", "/api/stories", "/api/stories/{story_id}",
        "/api/stories/{story_id}/members", "/api/search", "/api/entities", "/api/entities/{entity_id}",
        "/api/entities/{entity_id}/timeline", "/api/feeds", "/api/runs",
    }
    assert {method for operations in schema["paths"].values() for method in operations} == {"get"}
    assert client.post("/api/stories").status_code == 405
    assert client.delete("/api/stories/1").status_code == 405


def test_the_apps_database_sessions_cannot_write(site):
    from sqlalchemy.exc import DBAPIError

    from pipeline.config import get_settings
    from pipeline.store.engine import get_read_engine

    with get_read_engine(get_settings()).connect() as conn:
        assert conn.execute(text("SELECT current_user")).scalar() == "newsflow_reader"
        with pytest.raises(DBAPIError, match="read-only transaction|permission denied"):
            conn.execute(text("UPDATE feeds SET name = 'x'"))


def test_a_database_that_cannot_answer_is_503_not_500():
    from flows.web.app import create_app
    from flows.web.server import serving
    from pipeline.config import Settings
    from pipeline.store.engine import get_read_engine

    # Nothing listens on port 9 (discard) here: every connection is refused.
    unreachable = get_read_engine(Settings(database_url="postgresql://newsflow@127.0.0.1:9/newsflow"))
    with serving(create_app(unreachable)) as base_url, httpx.Client(base_url=base_url, timeout=30) as client:
        api = client.get("/api/feeds")
        assert api.status_code == 503
        assert "try again later" in api.json()["detail"][0]["message"]
        page = client.get("/")
        assert page.status_code == 503 and "Not available now" in page.text
    unreachable.dispose()
