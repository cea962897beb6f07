"""Shared, expensive fixtures, one per session: the database, the Prefect
test server, the HTTP servers for the corpus, the fixture files and the
generated syndication corpora."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from hypothesis import strategies as st

if TYPE_CHECKING:
    from bench.dedup import Page


# In CI a skipped test fails (tests/no_skips.py).
pytest_plugins = ["tests.no_skips"]

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
CORPUS = ROOT / "seeds" / "demo"
# The document the project was started from (a dpa story): the demo's seed
# page reproduces it byte for byte.
SEED_DOCUMENT = FIXTURES / "seed-story-dpa.txt"
SEED_PAGE = CORPUS / "freepress" / "2021" / "03" / "18" / "gleam-china-must-influence-north-korea.html"

# Prefect reads its settings at import: quiet and offline for the tests.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_SERVER_LEVEL", "CRITICAL")
os.environ.setdefault("PREFECT_UI_ENABLED", "false")
# The user's .env must not leak into the tests.
os.environ.setdefault("NEWSFLOW_DATA_DIR", tempfile.mkdtemp(prefix="newsflow-test-data-"))


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


# What a feed or a feed list may give as a link: any text, odd schemes, broken
# hosts, and a host that NFKC turns into a path separator ("／").
HOSTILE_LINKS = st.one_of(
    st.text(max_size=30),
    st.text(alphabet="htps:/[]@?#.exampl%\uff0f ", max_size=30),
    st.sampled_from(["http://", "https://", "http:x", "https:/x", "//cdn.example.org/a", "mailto:a@b",
                     "javascript:alert(1)", "/a.html", "http://[::1/a", "http://ex\uff0fample.org/"]),
)


@pytest.fixture(scope="session")
def database_url() -> str:
    """DATABASE_URL when given (CI creates a fresh database), otherwise an
    embedded PostgreSQL in a temporary folder."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    from pipeline.store.engine import start_embedded

    pgdata = Path(tempfile.mkdtemp(prefix="newsflow-test-pg-"))
    return start_embedded(pgdata / "pg")


@pytest.fixture(scope="session")
def engine(database_url):
    from pipeline.config import reset_settings_cache
    from pipeline.store.engine import get_engine
    from pipeline.store.migrate import upgrade
    from pipeline.config import get_settings

    os.environ["DATABASE_URL"] = database_url
    reset_settings_cache()
    engine = get_engine(get_settings())
    upgrade(engine)
    return engine


def truncate_all(engine) -> None:
    """Empty every table the pipeline writes, ingest_runs included, restart
    their ids and end the pool's sessions: for module fixtures and tests that
    start over mid-way."""
    from sqlalchemy import text

    from pipeline.query import TABLES

    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {', '.join(TABLES)}, ingest_runs RESTART IDENTITY CASCADE"))
    # Tests start runs on pooled connections, whose sessions keep the runs'
    # holds (pipeline/store/runs.py): end those sessions, as a run's end would.
    engine.dispose()


@pytest.fixture
def clean_db(engine):
    """An empty schema for the test that asks for it."""
    truncate_all(engine)
    return engine


@pytest.fixture(scope="session")
def corpus_server():
    from flows.demo import serve_directory

    with serve_directory(CORPUS) as base_url:
        yield base_url


@pytest.fixture(scope="session")
def fixture_server():
    from flows.demo import serve_directory

    with serve_directory(FIXTURES) as base_url:
        yield base_url


@dataclass(frozen=True)
class SyndicationSite:
    """A generated syndication corpus (tests/syndication.py) and where it is served."""

    feeds_path: Path  # the feed list: one feed per outlet
    base_url: str
    feed_urls: list[str]  # in the feed list's order
    pages: list[Page]


@pytest.fixture(scope="session")
def syndication_site(tmp_path_factory) -> Iterator[Callable[..., SyndicationSite]]:
    """``syndication_site(originals=, outlets=, seed=)``: that corpus, built
    once a session under a temporary folder and served on 127.0.0.1 until the
    session ends.  Runs write nothing into it: logs and data go elsewhere."""
    from flows.demo import serve_directory
    from tests.syndication import build_syndication_corpus

    sites: dict[tuple[int, int, int], SyndicationSite] = {}
    with contextlib.ExitStack() as servers:

        def site(*, originals: int, outlets: int, seed: int) -> SyndicationSite:
            key = (originals, outlets, seed)
            if key not in sites:
                folder = tmp_path_factory.mktemp(f"syndication-{originals}x{outlets}-{seed}")
                root = folder / "site"
                root.mkdir()
                base_url = servers.enter_context(serve_directory(root))
                built = build_syndication_corpus(root, base_url, originals=originals, outlets=outlets, seed=seed)
                feeds_path = folder / "feeds.yaml"
                feeds_path.write_text(
                    "feeds:\n" + "".join(f"  - url: {url}\n    name: {name}\n" for url, name in built.feeds)
                )
                sites[key] = SyndicationSite(feeds_path, base_url, [url for url, _ in built.feeds], built.pages)
            return sites[key]

        yield site


@contextlib.contextmanager
def settings_from(monkeypatch, **variables: str) -> Iterator[None]:
    """Settings read inside the block see these environment variables; on
    leaving it, monkeypatch's changes are undone and the settings read afresh."""
    from pipeline.config import reset_settings_cache

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    reset_settings_cache()
    try:
        yield
    finally:
        monkeypatch.undo()
        reset_settings_cache()


@pytest.fixture(scope="session")
def allow_test_servers(corpus_server, fixture_server):
    """Let the pipeline fetch from the two test servers and nothing else private."""
    from pipeline.config import reset_settings_cache

    hosts = ",".join(url.removeprefix("http://") for url in (corpus_server, fixture_server))
    os.environ["NEWSFLOW_ALLOW_PRIVATE_HOSTS"] = hosts
    reset_settings_cache()
    return hosts


@pytest.fixture(scope="session")
def prefect_server():
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=60):
        yield


def child_ingest_env(
    base_url: str, data_dir: Path, database_url: str | None = None, **settings: str
) -> dict[str, str]:
    """The environment of a `newsflow ingest` child process: this session's
    database (or ``database_url``) and Prefect test server, the given server's host allowed, no
    politeness delay (one local host), the user's NEWSFLOW_* settings dropped;
    ``settings`` add NEWSFLOW_<NAME> values."""
    from prefect.settings import PREFECT_API_URL

    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("NEWSFLOW_")},
        "DATABASE_URL": database_url or os.environ["DATABASE_URL"],
        "PREFECT_API_URL": PREFECT_API_URL.value(),
        "NEWSFLOW_DATA_DIR": str(data_dir),
        "NEWSFLOW_ALLOW_PRIVATE_HOSTS": base_url.removeprefix("http://"),
        "NEWSFLOW_PER_HOST_DELAY": "0",
        **{f"NEWSFLOW_{name.upper()}": value for name, value in settings.items()},
    }


def processes_with_env(name: str, value: str) -> list[int]:
    """The processes whose environment has ``name=value`` (Linux /proc)."""
    wanted = f"{name}={value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "environ").read_bytes().split(b"\0"):
                    found.append(int(entry.name))
            except OSError:  # gone meanwhile, or not ours to read
                continue
    return found


@pytest.fixture
def tmp_corpus(tmp_path):
    """A writable copy of the demo corpus, for tests that change it."""
    target = tmp_path / "corpus"
    shutil.copytree(CORPUS, target)
    return target


@pytest.fixture(scope="module")
def web_demo(engine, corpus_server, allow_test_servers, prefect_server) -> Iterator[str]:
    """The demo corpus ingested afresh, and `newsflow web`'s app serving it
    on 127.0.0.1 through the read-only engine; yields the app's base URL."""
    from flows.ingest import ingest
    from flows.web.app import create_app
    from flows.web.server import serving
    from pipeline.config import get_settings
    from pipeline.store.engine import get_read_engine

    truncate_all(engine)
    ingest(feeds_path=str(CORPUS / "feeds.yaml"), base_url=corpus_server)
    read_engine = get_read_engine(get_settings())
    with serving(create_app(read_engine)) as base_url:
        yield base_url
    read_engine.dispose()
