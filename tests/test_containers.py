"""docker-compose.yml keeps its secrets out of the file, and its database roles have least privilege.

There is no Docker engine on the machines these tests run on, so the role
script (docker/initdb/10-roles.sh) runs against the local PostgreSQL instead
of the postgres image, with a throwaway, cluster-unique prefix on every role
and database it creates. Local connections are trusted there: what is tested
is which role may do what, not the passwords.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg
import pytest
import yaml
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
ROLES_SCRIPT = ROOT / "docker" / "initdb" / "10-roles.sh"
BIN = Path(sys.executable).parent

# A value compose must take from a variable that has no default.
REQUIRED = re.compile(r"\$\{(?P<name>[A-Z][A-Z0-9_]*):\?[^}]+\}")
SECRET_KEY = re.compile(r"PASSWORD|AUTH_STRING|SECRET|TOKEN")


def example_values() -> dict[str, str]:
    pairs = (line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines()
             if line.strip() and not line.startswith("#"))
    return {name.strip(): value.strip() for name, value in pairs}


def environments(compose: dict) -> dict[str, dict[str, str]]:
    """Every environment mapping of the file: each service's, and the shared anchor's."""
    found = {name: dict(service.get("environment") or {}) for name, service in compose["services"].items()}
    found["x-app-environment"] = compose["x-app-environment"]
    return found


def test_every_secret_comes_from_a_required_variable():
    compose = yaml.safe_load(COMPOSE.read_text())
    required: set[str] = set()
    for where, environment in environments(compose).items():
        for key, value in environment.items():
            value = str(value)
            if SECRET_KEY.search(key):
                match = REQUIRED.fullmatch(value)
                assert match, f"{where}: {key} must be ${{VAR:?message}}, not {value!r}"
                required.add(match["name"])
            # A URL's password, likewise.
            if credentials := re.match(r"^[a-z+]+://[^:/@]+:(?P<password>[^@]*)@", value):
                match = REQUIRED.fullmatch(credentials["password"])
                assert match, f"{where}: {key} holds a literal password"
                required.add(match["name"])
    assert required == {"POSTGRES_PASSWORD", "APP_DB_PASSWORD", "PREFECT_DB_PASSWORD", "PREFECT_API_AUTH_STRING"}
    # Every variable the file requires is documented in .env.example, and no other.
    assert set(example_values()) == required
    # Nothing gives a secret a default: every use of such a variable is required.
    text = COMPOSE.read_text()
    for name in required:
        uses = re.findall(r"\$\{" + name + r"([^}]*)\}", text)
        assert uses and all(use.startswith(":?") for use in uses), (name, uses)
    assert "newsflow:newsflow" not in text


def test_the_prefect_server_requires_the_auth_string_its_clients_send():
    compose = yaml.safe_load(COMPOSE.read_text())
    server = compose["services"]["prefect-server"]["environment"]
    clients = compose["x-app-environment"]
    assert server["PREFECT_SERVER_API_AUTH_STRING"] == clients["PREFECT_API_AUTH_STRING"]
    for name in ("app", "worker"):  # the anchor's keys are merged into theirs
        assert compose["services"][name]["environment"]["PREFECT_API_AUTH_STRING"] == clients["PREFECT_API_AUTH_STRING"]


def test_no_service_connects_as_the_cluster_superuser():
    compose = yaml.safe_load(COMPOSE.read_text())
    assert compose["x-app-environment"]["DATABASE_URL"].startswith("postgresql://newsflow:${")
    assert compose["services"]["prefect-server"]["environment"]["PREFECT_SERVER_DATABASE_USER"] == "prefect"
    # The superuser's password is given to the database container alone.
    for name, service in compose["services"].items():
        assert (name == "db") == ("POSTGRES_PASSWORD" in yaml.safe_dump(service)), name
    assert "POSTGRES_USER" not in compose["services"]["db"]["environment"]  # the default, postgres


def _compose_command() -> list[str] | None:
    if shutil.which("docker") and subprocess.run(["docker", "compose", "version"], capture_output=True).returncode == 0:
        return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.skipif(_compose_command() is None, reason="no docker compose here: the file is checked as YAML above")
def test_docker_compose_refuses_to_start_without_each_secret(tmp_path):
    for path in ("docker-compose.yml", "Dockerfile", "docker"):
        source = ROOT / path
        (shutil.copytree if source.is_dir() else shutil.copy)(source, tmp_path / path)
    values = example_values()
    base = {key: value for key, value in os.environ.items() if key not in values}

    def config(env: dict[str, str]) -> subprocess.CompletedProcess:
        return subprocess.run([*_compose_command(), "config"], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=60)

    done = config({**base, **values})
    assert done.returncode == 0, done.stderr
    assert "${" not in done.stdout and values["APP_DB_PASSWORD"] in done.stdout
    for missing in values:
        done = config({**base, **{k: v for k, v in values.items() if k != missing}})
        assert done.returncode != 0 and missing in done.stderr, (missing, done.stderr)


# --- the role script on a real PostgreSQL ---------------------------------------


def _psql_supports_getenv() -> bool:
    if not shutil.which("psql"):
        return False
    version = subprocess.run(["psql", "--version"], capture_output=True, text=True).stdout
    match = re.search(r"(\d+)\.", version)
    return bool(match) and int(match[1]) >= 15


@pytest.fixture
def roles(database_url):
    """The role script run on this session's server as its superuser, with
    a fresh prefix; every role and database it made is dropped afterwards."""
    if not _psql_supports_getenv():
        pytest.skip("the role script needs psql 15 or newer (\\getenv)")
    server = make_url(database_url)
    prefix = f"nf_roles_{os.getpid()}_{secrets.token_hex(3)}"
    names = {"APP_DB_USER": f"{prefix}_app", "APP_DB_NAME": f"{prefix}_newsflow",
             "PREFECT_DB_USER": f"{prefix}_prefect", "PREFECT_DB_NAME": f"{prefix}_prefect"}
    env = {**os.environ, **names, "APP_DB_PASSWORD": secrets.token_hex(8), "PREFECT_DB_PASSWORD": secrets.token_hex(8),
           "POSTGRES_USER": server.username or "postgres", "POSTGRES_DB": server.database or "postgres",
           # The embedded server's socket directory is a query parameter of its URL.
           "PGHOST": server.host or server.query.get("host", ""), "PGPORT": str(server.port or 5432)}
    admin_url = server.set(drivername="postgresql")

    def connect(user: str | None = None, database: str | None = None) -> psycopg.Connection:
        url = admin_url.set(username=user or admin_url.username, database=database or admin_url.database)
        return psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)

    try:
        done = subprocess.run(["bash", str(ROLES_SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr
        yield names, connect, admin_url
    finally:
        with connect() as admin:
            for database in (names["APP_DB_NAME"], names["PREFECT_DB_NAME"]):
                admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            for role in (names["APP_DB_USER"], names["PREFECT_DB_USER"]):
                admin.execute(f'DROP ROLE IF EXISTS "{role}"')


@pytest.mark.integration
def test_the_roles_own_their_database_and_nothing_more(roles):
    names, connect, _ = roles
    with connect() as admin:
        rows = admin.execute(
            "SELECT rolname, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, rolcanlogin"
            " FROM pg_roles WHERE rolname = ANY(%s) ORDER BY rolname",
            ([names["APP_DB_USER"], names["PREFECT_DB_USER"]],),
        ).fetchall()
        assert [row[1:] for row in rows] == [(False, False, False, False, False, True)] * 2
        owners = dict(admin.execute(
            "SELECT datname, pg_get_userbyid(datdba) FROM pg_database WHERE datname = ANY(%s)",
            ([names["APP_DB_NAME"], names["PREFECT_DB_NAME"]],),
        ).fetchall())
    assert owners == {names["APP_DB_NAME"]: names["APP_DB_USER"], names["PREFECT_DB_NAME"]: names["PREFECT_DB_USER"]}
    # Neither may enter the other's database.
    for user, database in ((names["PREFECT_DB_USER"], names["APP_DB_NAME"]),
                           (names["APP_DB_USER"], names["PREFECT_DB_NAME"])):
        with pytest.raises(psycopg.OperationalError, match="CONNECT privilege"):
            connect(user, database).close()


@pytest.mark.integration
def test_the_app_role_runs_newsflows_migrations_and_can_hand_out_reading(roles, tmp_path):
    names, connect, server = roles
    app_url = server.set(username=names["APP_DB_USER"], password=None, database=names["APP_DB_NAME"])
    env = {**os.environ, "DATABASE_URL": app_url.render_as_string(hide_password=False),
           "NEWSFLOW_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([str(BIN / "newsflow"), "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    with connect(names["APP_DB_USER"], names["APP_DB_NAME"]) as app:
        owners = {owner for (owner,) in app.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
        assert owners == {names["APP_DB_USER"]}
        assert app.execute("SELECT has_table_privilege('newsflow_reader', 'v_stories', 'SELECT')").fetchone()[0]
        assert not app.execute("SELECT has_table_privilege('newsflow_reader', 'articles', 'INSERT')").fetchone()[0]
        # `newsflow web` as the app role (compose's web service) reads as newsflow_reader, and only reads.
        from sqlalchemy import text
        from sqlalchemy.exc import DBAPIError

        from pipeline.config import Settings
        from pipeline.store.engine import get_read_engine

        web_engine = get_read_engine(Settings(database_url=app_url.render_as_string(hide_password=False)))
        try:
            with web_engine.connect() as web:
                assert web.execute(text("SELECT current_user")).scalar() == "newsflow_reader"
                assert web.execute(text("SELECT count(*) FROM v_stories")).scalar() == 0
                with pytest.raises(DBAPIError, match="read-only transaction"):
                    web.execute(text("INSERT INTO feeds (url) VALUES ('http://example.org/feed')"))
        finally:
            web_engine.dispose()
        # `newsflow db grant-reader` without CREATEROLE: the admin option suffices.
        reader = f"{names['APP_DB_USER']}_reader"
        with connect() as admin:
            admin.execute(f'CREATE ROLE "{reader}" LOGIN')
        try:
            app.execute(f'GRANT newsflow_reader TO "{reader}"')
            app.execute(f'REVOKE newsflow_reader FROM "{reader}"')
        finally:
            with connect() as admin:
                admin.execute(f'DROP ROLE "{reader}"')


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.integration
def test_prefect_migrates_as_its_role_and_its_api_requires_the_auth_string(roles, tmp_path):
    names, connect, server = roles
    auth = f"admin:{secrets.token_hex(8)}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
    env.update(
        PREFECT_HOME=str(tmp_path / "prefect"), PREFECT_SERVER_ANALYTICS_ENABLED="false",
        PREFECT_SERVER_DATABASE_DRIVER="postgresql+asyncpg", PREFECT_SERVER_DATABASE_HOST=server.host or server.query.get("host", "127.0.0.1"),
        PREFECT_SERVER_DATABASE_PORT=str(server.port or 5432), PREFECT_SERVER_DATABASE_USER=names["PREFECT_DB_USER"],
        PREFECT_SERVER_DATABASE_NAME=names["PREFECT_DB_NAME"], PREFECT_SERVER_DATABASE_PASSWORD="unused-here",
        PREFECT_SERVER_API_AUTH_STRING=auth,
    )
    done = subprocess.run([str(BIN / "prefect"), "server", "database", "upgrade", "-y"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with connect(names["PREFECT_DB_USER"], names["PREFECT_DB_NAME"]) as prefect:
        assert prefect.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] > 20

    port = _free_port()
    api = f"http://127.0.0.1:{port}/api"
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen(
        [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port), "--no-ui",
         "--no-services"], env=env, cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{api}/health", timeout=2).status_code == 200:  # health needs no auth
                    break
            assert process.poll() is None and time.monotonic() < deadline, (tmp_path / "server.log").read_text()
            time.sleep(0.5)
        assert httpx.post(f"{api}/work_pools/filter", json={}, timeout=10).status_code == 401
        assert httpx.post(f"{api}/work_pools/filter", json={}, auth=("admin", "wrong"), timeout=10).status_code == 401
        user, password = auth.split(":", 1)
        assert httpx.post(f"{api}/work_pools/filter", json={}, auth=(user, password), timeout=10).status_code == 200
        # A Prefect client with PREFECT_API_AUTH_STRING gets in, as the app and workers do.
        client_env = {key: value for key, value in env.items() if not key.startswith("PREFECT_SERVER_")}
        client_env.update(PREFECT_API_URL=api, PREFECT_API_AUTH_STRING=auth)
        done = subprocess.run([str(BIN / "prefect"), "work-pool", "ls"], env=client_env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)
        log.close()
