"""Where the database is: an external server from DATABASE_URL, or an
embedded PostgreSQL started for the user under their data directory."""

from __future__ import annotations

import shutil
import warnings
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from pipeline.config import Settings

EMBEDDED_DATABASE = "newsflow"


class DatabaseUnavailable(RuntimeError):
    """No database could be reached or started; the message says what to do."""


def sqlalchemy_url(url: str) -> str:
    """Accept the libpq form people write (postgresql://) and pick psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def database_url(settings: Settings) -> str:
    """The configured server, or the embedded one (started on first use)."""
    if settings.database_url:
        return sqlalchemy_url(settings.database_url)
    return sqlalchemy_url(start_embedded(settings.data_dir / "postgres"))


@lru_cache(maxsize=4)
def start_embedded(pgdata: Path) -> str:
    """Start (or reuse) the embedded PostgreSQL and return its URL.

    It stops when the last process using it exits.
    """
    try:
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR on servers; pgserver does not use it.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        pgserver = None
    if pgserver is None:
        if shutil.which("initdb") and shutil.which("pg_ctl"):
            raise DatabaseUnavailable(
                "the embedded PostgreSQL (pgserver) is not available for this Python; "
                "local initdb/pg_ctl were found: start a server with them and set "
                "DATABASE_URL=postgresql://USER@127.0.0.1:5432/newsflow, "
                "or run `docker compose up -d db`"
            )
        raise DatabaseUnavailable(
            "no database: set DATABASE_URL=postgresql://USER@HOST:5432/DB, or run "
            "`docker compose up -d db` and set DATABASE_URL=postgresql://newsflow:newsflow@127.0.0.1:5432/newsflow"
        )
    pgdata.mkdir(parents=True, exist_ok=True)
    try:
        server = pgserver.get_server(pgdata, cleanup_mode="stop")
    except Exception as exc:  # pgserver raises plain exceptions with postgres' log
        raise DatabaseUnavailable(f"the embedded PostgreSQL in {pgdata} did not start: {exc}") from exc
    exists = server.psql(
        f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';"
    )
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
    # Keep a reference so the server lives as long as this process.
    _EMBEDDED_SERVERS.append(server)
    return server.get_uri(EMBEDDED_DATABASE)


_EMBEDDED_SERVERS: list = []


@lru_cache(maxsize=8)
def _engine(url: str) -> Engine:
    return create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


def get_engine(settings: Settings) -> Engine:
    """One engine (connection pool) per database URL per process."""
    return _engine(database_url(settings))


def describe(engine: Engine) -> str:
    """Where the engine points, without a password, for messages."""
    url = make_url(str(engine.url))
    host = url.query.get("host") or url.host or "localhost"
    return f"{url.database} on {host}" + (f":{url.port}" if url.port else "")


def check_connection(engine: Engine) -> None:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        raise DatabaseUnavailable(f"cannot connect to {describe(engine)}: {exc}") from exc
