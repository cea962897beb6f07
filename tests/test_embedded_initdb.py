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


@pytest.fixture
def pgdata():
    # Not pytest's tmp_path: as root, PostgreSQL runs as another user, who
    # must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="newsflow-initdb-"))
    os.chmod(folder, 0o755)
    yield folder / "pg"
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
