"""Where the database is: an external server from DATABASE_URL, or an
embedded PostgreSQL started for the user under their data directory."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import pwd
import re
import shlex
import shutil
import subprocess
import time
import warnings
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import psycopg
import psycopg.sql
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import NullPool

from pipeline.config import Settings
from pipeline.retry import Backoff, GaveUp, retry

EMBEDDED_DATABASE = "newsflow"
T = TypeVar("T")


class DatabaseUnavailable(RuntimeError):
    """The database could not do the work: it could not be reached or
    started, or (the subclasses) it refused a statement.  The message says
    what happened, in one line.  ``kind`` names the case for summaries."""

    kind = "unavailable"


class DatabaseRefused(DatabaseUnavailable):
    """The server answered, with an error that waiting and trying again
    would not cure: not retried."""

    kind = "refused"


class StatementTimeout(DatabaseRefused):
    """A statement ran past the statement timeout (or a lock timeout) and
    PostgreSQL cancelled it (SQLSTATE 57014, 55P03).  Not retried: what made
    it slow (a lock held by another session, a huge table, an overloaded
    server) is most likely still there a second later, and a retry would hold
    the batch up for another full timeout."""

    kind = "statement-timeout"


class DatabaseDiskFull(DatabaseRefused):
    """PostgreSQL could not extend a file (SQLSTATE 53100).  Not retried:
    space does not come back by itself within seconds."""

    kind = "disk-full"


def sqlalchemy_url(url: str) -> str:
    """Accept the libpq form people write (postgresql://) and pick psycopg 3."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


def redacted_url(url: str) -> str:
    """``url`` with its password, if it has one, as ``***``: the form to show
    in a message or a log, also of a URL that does not parse."""
    url = re.sub(r"(://[^:/?#@]*:)[^?#]*@", r"\1***@", url)  # to the last @: a password may hold one
    return re.sub(r"([?&]password=)[^&#]*", r"\1***", url, flags=re.IGNORECASE)


def database_url(settings: Settings) -> str:
    """The configured server, or the embedded one (started on first use)."""
    if settings.database_url:
        url = sqlalchemy_url(settings.database_url)
        try:
            backend = make_url(url).get_backend_name()
        except (ArgumentError, ValueError):
            backend = None
        if backend != "postgresql":
            raise DatabaseUnavailable(
                f"DATABASE_URL is not a PostgreSQL URL (postgresql://USER:PASSWORD@HOST:PORT/DB): "
                f"{redacted_url(settings.database_url)}"
            )
        return url
    return sqlalchemy_url(start_embedded(settings.data_dir / "postgres", settings.embedded_backend))


def psql_connection(url: str) -> tuple[str, dict[str, str]]:
    """How psql reaches the database at ``url``: the connection string to pass
    as its argument, and what to add to its environment.  The password goes
    into the environment (PGPASSWORD): every user of the machine can read a
    process's arguments (``ps``), only its owner its environment."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    parameters = conninfo_to_dict(url.replace("postgresql+psycopg://", "postgresql://", 1))
    password = parameters.pop("password", None)
    return make_conninfo(**parameters), {"PGPASSWORD": password} if password else {}


@lru_cache(maxsize=4)
def start_embedded(pgdata: Path, backend: str = "auto") -> str:
    """Start (or reuse) the embedded PostgreSQL in ``pgdata`` and return its URL.

    ``backend`` is "pgserver" (the wheel, Python <= 3.12), "initdb" (the
    PostgreSQL binaries on PATH) or "auto" (the first that is there).  The
    server stops when the last newsflow process using it exits.
    """
    pgdata.mkdir(parents=True, exist_ok=True)
    pgserver = _import_pgserver() if backend in {"auto", "pgserver"} else None
    if pgserver is not None:
        return _start_pgserver(pgserver, pgdata)
    if backend in {"auto", "initdb"} and shutil.which("initdb") and shutil.which("pg_ctl"):
        return _start_initdb(pgdata)
    raise DatabaseUnavailable(
        "no database: the embedded PostgreSQL needs the pgserver wheel (Python 3.11-3.12) "
        "or PostgreSQL's initdb and pg_ctl on PATH. Otherwise set "
        "DATABASE_URL=postgresql://USER@HOST:5432/DB, for example after "
        "`docker compose up -d db`: DATABASE_URL=postgresql://newsflow:$APP_DB_PASSWORD@127.0.0.1:5432/newsflow"
    )


def _import_pgserver():
    try:
        with warnings.catch_warnings():
            # platformdirs warns about XDG_RUNTIME_DIR on servers; pgserver does not use it.
            warnings.simplefilter("ignore")
            import pgserver
    except ImportError:
        return None
    return pgserver


def _start_pgserver(pgserver, pgdata: Path) -> str:
    # A server that another newsflow process is stopping right now (it stops
    # when its last user exits) looks running but not ready: wait it out.
    # pgserver.get_server remembers a handle before its server is up and
    # hands that same broken handle back on every later call, so each attempt
    # after the first builds a new one with pgserver's public constructor
    # (what get_server calls) instead.
    pgdata = pgdata.expanduser().resolve()
    alias = _shell_safe_alias(pgdata)
    deadline = time.monotonic() + 30
    # get_server resolves the path it is given, the alias too: with an alias,
    # only the constructor (which keeps it) will do.
    attempt = pgserver.get_server if alias == pgdata else pgserver.PostgresServer
    pgdata = alias
    while True:
        try:
            server = attempt(pgdata, cleanup_mode="stop")
            break
        except Exception as exc:  # pgserver raises plain exceptions carrying postgres' log
            attempt = pgserver.PostgresServer
            if time.monotonic() > deadline:
                raise DatabaseUnavailable(
                    f"the embedded PostgreSQL in {pgdata} did not start: {exc}"
                ) from exc
            time.sleep(0.5)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DATABASE}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {EMBEDDED_DATABASE};")
    # Keep a reference so the server lives as long as this process.
    _EMBEDDED_SERVERS.append(server)
    return server.get_uri(EMBEDDED_DATABASE)


# A path a shell reads as one word, as it is.
_SHELL_SAFE_PATH = re.compile(r"[\w/.+,:@%=-]+")


def _shell_safe_alias(pgdata: Path) -> Path:
    """``pgdata``, or a link to it whose path holds no character a shell
    would split or interpret: pgserver hands the data folder to pg_ctl's
    shell unquoted, and macOS keeps user data under "Application Support".
    The link lives in the user's cache folder (or the temporary one), named
    after the folder it points to, and is made again whenever it is missing."""
    if _SHELL_SAFE_PATH.fullmatch(str(pgdata)):
        return pgdata
    import hashlib
    import tempfile

    import platformdirs

    name = "pg-" + hashlib.sha256(str(pgdata).encode()).hexdigest()[:12]
    for folder in (platformdirs.user_cache_path("newsflow"), Path(tempfile.gettempdir()) / f"newsflow-{os.getuid()}"):
        link = folder / name
        if not _SHELL_SAFE_PATH.fullmatch(str(link)):
            continue
        folder.mkdir(parents=True, exist_ok=True)
        if not (link.is_symlink() and link.resolve() == pgdata):
            link.unlink(missing_ok=True)
            link.symlink_to(pgdata, target_is_directory=True)
        return link
    return pgdata


def _start_initdb(pgdata: Path) -> str:
    cluster = InitdbCluster(pgdata)
    cluster.start()
    atexit.register(cluster.stop)
    return cluster.url


class InitdbCluster:
    """A private cluster from the local PostgreSQL binaries, reached by a Unix
    socket in ``pgdata/run``.  PostgreSQL will not run as root; as root, the
    binaries run as the system's ``postgres`` user, like pgserver does with its own.

    Several newsflow processes share one cluster (`newsflow serve` and the
    commands run beside it), so, as pgserver does, each process that uses it
    is counted in ``pgdata/users.json``: ``stop`` stops the cluster only when
    the last of them leaves, and only a cluster that newsflow started (not
    one the user started by hand)."""

    def __init__(self, pgdata: Path):
        self.pgdata = pgdata
        self.data = pgdata / "data"
        self.socket_dir = pgdata / "run"
        # The socket folder as a URL's query value: a data folder may hold
        # spaces ("Application Support" on macOS) or quotes.
        self._host = quote(str(self.socket_dir), safe="/")
        self.url = f"postgresql://postgres@/{EMBEDDED_DATABASE}?host={self._host}"
        self._prefix: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                raise DatabaseUnavailable(
                    "PostgreSQL refuses to run as root and there is no postgres user: "
                    "run newsflow as a normal user or set DATABASE_URL"
                ) from None
            self._prefix = ["runuser", "-u", "postgres", "--"]

    def _run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([*self._prefix, *command], capture_output=True, text=True, timeout=120)
        if check and result.returncode != 0:
            raise DatabaseUnavailable(
                f"{command[0]} failed for the embedded PostgreSQL in {self.pgdata}: "
                f"{(result.stderr or result.stdout).strip()[-800:]}"
            )
        return result

    @contextlib.contextmanager
    def _users(self) -> Iterator[dict]:
        """The record of who uses the cluster ({"started": newsflow started
        it, "pids": the processes using it, the exited ones left out}), held
        under an exclusive lock (also against a start and a stop at once), and
        written back at the end of the block."""
        self.pgdata.mkdir(parents=True, exist_ok=True)
        record = self.pgdata / "users.json"
        with open(self.pgdata / "users.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                users = json.loads(record.read_text())
            except (OSError, ValueError):
                users = {"started": False, "pids": []}
            users["pids"] = [pid for pid in users["pids"] if _process_exists(pid)]
            yield users
            record.write_text(json.dumps(users))

    def start(self) -> None:
        """Start the cluster unless it runs, and count this process as a user."""
        with self._users() as users:
            self._start()
            users["started"] = users["started"] or self._started
            users["pids"].append(os.getpid())

    def _start(self) -> None:
        self._started = False
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        if self._prefix:
            for path in (self.pgdata, self.socket_dir):
                shutil.chown(path, "postgres", "postgres")
        if not (self.data / "PG_VERSION").exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-instructions")
        if self._run("pg_ctl", "-D", str(self.data), "status", check=False).returncode != 0:
            # pg_ctl hands these to a shell.
            options = f"-c listen_addresses='' -k {shlex.quote(str(self.socket_dir))}"
            self._run("pg_ctl", "-D", str(self.data), "-l", str(self.pgdata / "postgres.log"),
                      "-o", options, "-w", "start")
            self._started = True
        admin = sqlalchemy_url(f"postgresql://postgres@/postgres?host={self._host}")
        admin_engine = create_engine(admin, isolation_level="AUTOCOMMIT", poolclass=NullPool)
        with admin_engine.connect() as conn:
            exists = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": EMBEDDED_DATABASE}
            ).scalar()
            if not exists:
                conn.execute(text(f"CREATE DATABASE {EMBEDDED_DATABASE}"))

    def stop(self) -> None:
        """This process no longer uses the cluster: stop it if newsflow
        started it and no other newsflow process uses it."""
        with self._users() as users:
            if os.getpid() in users["pids"]:
                users["pids"].remove(os.getpid())
            if users["pids"] or not users["started"]:
                return
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop", check=False)
            users["started"] = False


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


_EMBEDDED_SERVERS: list = []


def psql_path() -> str | None:
    """psql from PATH, or the one that ships inside the pgserver wheel."""
    found = shutil.which("psql")
    if found:
        return found
    pgserver = _import_pgserver()
    if pgserver is not None:
        bundled = Path(pgserver.__file__).parent / "pginstall" / "bin" / "psql"
        if bundled.exists():
            return str(bundled)
    return None


@lru_cache(maxsize=8)
def _engine(url: str, statement_timeout_ms: int) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)

    @event.listens_for(engine, "connect")
    def set_statement_timeout(dbapi_connection, _record) -> None:
        # A session setting, committed at once: the pool's rollback on
        # check-in must not undo it.  Set on every connection, 0 included, so
        # that NEWSFLOW_STATEMENT_TIMEOUT_SECONDS wins over a role's default.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            dbapi_connection.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
        finally:
            dbapi_connection.autocommit = autocommit

    return engine


def get_engine(settings: Settings) -> Engine:
    """One engine (connection pool) per database URL and statement timeout
    per process.  Every statement on its connections is cancelled by
    PostgreSQL after ``settings.statement_timeout_seconds`` (0: never);
    migrations lift the limit for their own transaction (pipeline/store/migrate.py)."""
    return _engine(database_url(settings), round(settings.statement_timeout_seconds * 1000))


def get_read_engine(settings: Settings) -> Engine:
    """An engine whose sessions can only read: connected through
    ``settings.read_database_url`` (a role that may only read) when set,
    otherwise through the database of ``database_url`` acting as the
    read-only role newsflow_reader (SET ROLE drops the login role's own
    rights, superuser included).  Every transaction is read-only as well,
    and statements are cancelled after ``web_statement_timeout_seconds``."""
    from pipeline.store.roles import READER_ROLE

    if settings.read_database_url:
        url, role = database_url(Settings(database_url=settings.read_database_url)), None
    else:
        url, role = database_url(settings), READER_ROLE
    return _read_engine(url, role, round(settings.web_statement_timeout_seconds * 1000))


@lru_cache(maxsize=4)
def _read_engine(url: str, role: str | None, statement_timeout_ms: int) -> Engine:
    engine = create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)

    @event.listens_for(engine, "connect")
    def read_only_session(dbapi_connection, _record) -> None:
        # Session settings, committed at once so that the pool's rollback on
        # check-in keeps them.
        autocommit = dbapi_connection.autocommit
        dbapi_connection.autocommit = True
        try:
            if role is not None:
                dbapi_connection.execute(psycopg.sql.SQL("SET ROLE {}").format(psycopg.sql.Identifier(role)))
            dbapi_connection.execute("SET default_transaction_read_only = on")
            dbapi_connection.execute(f"SET statement_timeout = {int(statement_timeout_ms)}")
        finally:
            dbapi_connection.autocommit = autocommit
        # psycopg prepares a statement run 5 times on a connection, and
        # PostgreSQL may then plan it once for any parameters; the read
        # queries are written for plans made with their values (the search's
        # constant tsquery, a page's limit), as each CLI command gets them.
        dbapi_connection.prepare_threshold = None

    return engine


# Connection trouble worth waiting out: the server restarting, failing over or
# refusing connections for now (class 08, 57P01-57P03, 53300), and transactions
# PostgreSQL rolled back to resolve a conflict (class 40: serialization failure,
# deadlock), which normally succeed when run again.
_RETRIED_STATES = {"57P01", "57P02", "57P03", "53300"}
_RETRIED_CLASSES = {"08", "40"}


# SQLAlchemy's wrappers, and psycopg's own errors from code that uses the
# driver's connection directly (COPY in pipeline/store/bulk.py).
_DATABASE_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def _driver_error(exc: Exception) -> Exception:
    return exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error, from SQLAlchemy's wrapper or the
    driver's own; None when the client lost the server."""
    return getattr(_driver_error(exc), "sqlstate", None)


# Errors that belong to the rows of a statement, not to the connection or the
# server: a value PostgreSQL will not take (class 22, data exception; 23,
# integrity) or a limit one row breaks (54, e.g. a tsvector over 1 MiB).
_ROW_ERROR_CLASSES = {"22", "23", "54"}


def database_error_line(exc: BaseException) -> str:
    """A database error in one line, with its SQLSTATE."""
    error = _driver_error(exc)
    reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
    state = sqlstate(exc)
    return f"database error {state}: {reason}" if state else reason


def is_row_error(exc: BaseException) -> bool:
    state = sqlstate(exc)
    if state is None:  # the driver's own refusal of a value, e.g. a NUL in text
        return isinstance(_driver_error(exc), psycopg.DataError)
    return state[:2] in _ROW_ERROR_CLASSES


def _is_retried(exc: Exception) -> bool:
    """A lost or refused connection (no SQLSTATE: the client lost the server;
    or a state above), not an error the server raised for the statement."""
    if not isinstance(exc, _DATABASE_ERRORS):
        return False
    state = getattr(_driver_error(exc), "sqlstate", None)
    if getattr(exc, "connection_invalidated", False) or state is None:
        return True
    return state in _RETRIED_STATES or state[:2] in _RETRIED_CLASSES


def _refusal(exc: Exception) -> DatabaseRefused:
    """The one-line error for a statement the server would not complete."""
    error = _driver_error(exc)
    state = getattr(error, "sqlstate", None)
    reason = str(error).strip().splitlines()[0]
    diag = getattr(error, "diag", None)
    statement = getattr(exc, "statement", None) or (diag and diag.context) or ""
    statement = " ".join(statement.split())
    where = f" (while running: {statement[:100]}{'…' if len(statement) > 100 else ''})" if statement else ""
    if state == "53100":
        return DatabaseDiskFull(f"database disk is full: {reason}; nothing of this transaction was stored{where}")
    if state in {"57014", "55P03"} and "timeout" in reason:
        return StatementTimeout(
            f"statement timeout: {reason} (NEWSFLOW_STATEMENT_TIMEOUT_SECONDS; usually a lock held by "
            f"another session or an overloaded server); nothing of this transaction was stored{where}"
        )
    if state == "57014":  # pg_cancel_backend(): someone stopped it on purpose
        return DatabaseRefused(f"statement cancelled: {reason}; nothing of this transaction was stored{where}")
    return DatabaseRefused(f"database error {state}: {reason}{where}")


def retry_database(operation: Callable[[], T], *, attempts: int = 4, first_wait: float = 0.5) -> T:
    """Run ``operation`` (one whole transaction, idempotent) again when the
    connection fails (a restart, a failover, a dropped connection), waiting
    0.5, 1, 2 s between attempts; then raise DatabaseUnavailable with the
    reason in one line.  An error the server raised for a statement — a
    statement timeout, a full disk — is not retried: it raises
    StatementTimeout, DatabaseDiskFull or DatabaseRefused at once (the
    transaction was rolled back, nothing of it was stored)."""
    try:
        return retry(operation, Backoff(attempts, first_wait), transient=_is_retried)
    except GaveUp as stop:
        reason = str(_driver_error(stop.error)).strip().splitlines()[0]
        raise DatabaseUnavailable(f"database unavailable after {stop.attempts} attempts: {reason}") from None
    except _DATABASE_ERRORS as exc:
        raise _refusal(exc) from None


def describe(engine: Engine) -> str:
    """Where the engine points, without a password, for messages."""
    url = make_url(str(engine.url))
    host = url.query.get("host") or url.host or "localhost"
    return f"{url.database} on {host}" + (f":{url.port}" if url.port else "")
