"""The embedded database from local initdb/pg_ctl: the fallback where the
pgserver wheel is missing (Python 3.13 and newer)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from pipeline.store.engine import InitdbCluster, sqlalchemy_url

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not (shutil.which("initdb") and shutil.which("pg_ctl")),
                       reason="no initdb/pg_ctl on PATH"),
]


@pytest.fixture(params=["pg", "Application Support/new's pg"], ids=["plain", "spaces-and-quote"])
def pgdata(request):
    # Not pytest's tmp_path: as root, PostgreSQL runs as another user, who
    # must be able to reach the folder.  A data folder as macOS names it
    # ("~/Library/Application Support/...") holds a space.
    folder = Path(tempfile.mkdtemp(prefix="newsflow-initdb-"))
    os.chmod(folder, 0o755)
    (folder / request.param).parent.mkdir(parents=True, exist_ok=True)
    os.chmod((folder / request.param).parent, 0o755)
    yield folder / request.param
    shutil.rmtree(folder, ignore_errors=True)


def test_cluster_starts_creates_the_database_restarts_and_stops(pgdata):
    pgdata.mkdir()
    for _ in range(2):  # the second round reuses the initialised cluster
        cluster = InitdbCluster(pgdata)
        cluster.start()
        try:
            engine = create_engine(sqlalchemy_url(cluster.url), poolclass=NullPool)
            with engine.connect() as conn:
                assert conn.execute(text("SELECT current_database()")).scalar() == "newsflow"
        finally:
            cluster.stop()
        assert not (pgdata / "data" / "postmaster.pid").exists()
    assert (pgdata / "data" / "PG_VERSION").exists()


# A long-running newsflow process (as `newsflow serve`'s flow runs are): it
# holds a connection, says "ready", and uses the database again, on that
# connection and on a new one, once told to.
LONG_USER = """
import sys
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from pipeline.config import get_settings
from pipeline.store.engine import database_url, get_engine

with get_engine(get_settings()).connect() as held:
    held.execute(text("SELECT 1"))
    print("ready", flush=True)
    sys.stdin.readline()
    again = held.execute(text("SELECT 'held'")).scalar()
    with create_engine(database_url(get_settings()), poolclass=NullPool).connect() as new:
        print(again, new.execute(text("SELECT 'new'")).scalar(), flush=True)
"""


def test_a_short_command_leaves_the_cluster_running_for_a_process_that_still_uses_it(pgdata):
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("NEWSFLOW_", "PREFECT_")) and key != "DATABASE_URL"}
    env.update(NEWSFLOW_DATA_DIR=str(pgdata.parent), NEWSFLOW_EMBEDDED_BACKEND="initdb")
    postmaster = pgdata.parent / "postgres" / "data" / "postmaster.pid"
    long_user = subprocess.Popen([sys.executable, "-c", LONG_USER], env=env, cwd=root, text=True,
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert long_user.stdout.readline() == "ready\n", long_user.stderr.read()
        short = subprocess.run([sys.executable, "-m", "flows.cli", "db", "upgrade"], env=env, cwd=root,
                               capture_output=True, text=True, timeout=120)
        assert short.returncode == 0, short.stdout + short.stderr
        assert postmaster.exists()
        out, err = long_user.communicate("go on\n", timeout=60)
        assert (long_user.returncode, out) == (0, "held new\n"), err
    finally:
        if long_user.poll() is None:
            long_user.kill()
    # The last user stopped the cluster it had started.
    assert not postmaster.exists()
