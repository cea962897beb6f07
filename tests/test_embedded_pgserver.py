"""The embedded database from the pgserver wheel (Python 3.11-3.12): it waits
out a server that another newsflow process is stopping."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(sys.version_info >= (3, 13), reason="no pgserver wheel for Python 3.13 and newer"),
]

ROOT = Path(__file__).resolve().parents[1]

# A newsflow process that only starts the embedded database and uses it.
START_AND_QUERY = """
import sys
from pathlib import Path
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool
from pipeline.store.engine import sqlalchemy_url, start_embedded

url = start_embedded(Path(sys.argv[1]), "pgserver")
with create_engine(sqlalchemy_url(url), poolclass=NullPool).connect() as conn:
    print(conn.execute(text("SELECT current_database()")).scalar())
"""


@pytest.fixture
def pgdata():
    pytest.importorskip("pgserver")
    # Not pytest's tmp_path: as root, PostgreSQL runs as another user, who
    # must be able to reach the folder.
    folder = Path(tempfile.mkdtemp(prefix="newsflow-pgserver-"))
    os.chmod(folder, 0o755)
    yield folder / "pg"
    shutil.rmtree(folder, ignore_errors=True)


def start_and_query(pgdata: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", START_AND_QUERY, str(pgdata)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_a_server_being_stopped_is_waited_out_then_started_again(pgdata):
    pgdata.mkdir()
    first = start_and_query(pgdata)  # initdb, start, query; stopped when it exits
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert out.strip() == "newsflow"
    assert not (pgdata / "postmaster.pid").exists()

    # What a server that is shutting down leaves for the next process to
    # read: a postmaster.pid whose process is alive, with the status "stopping".
    stopping = subprocess.Popen(["sleep", "60"])
    pid_file = pgdata / "postmaster.pid"
    pid_file.write_text("\n".join([
        str(stopping.pid), str(pgdata), str(int(time.time())), "5432", str(pgdata), "", "0 0", "stopping",
    ]) + "\n")
    try:
        started = time.monotonic()
        second = start_and_query(pgdata)
        time.sleep(2.0)  # several attempts fail meanwhile
        assert second.poll() is None, second.communicate()[1]
        pid_file.unlink()  # the other process's server has stopped
    finally:
        stopping.kill()
        stopping.wait()
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    assert out.strip() == "newsflow"
    assert time.monotonic() - started >= 2.0


def test_a_data_folder_whose_path_a_shell_would_split_works_through_a_link(tmp_path):
    # macOS keeps user data under "~/Library/Application Support": pgserver
    # hands the folder to pg_ctl's shell unquoted.
    pytest.importorskip("pgserver")
    folder = Path(tempfile.mkdtemp(prefix="newsflow-pgserver-"))
    try:
        os.chmod(folder, 0o755)
        spaced = folder / "Application Support" / "newsflow's pg"
        spaced.parent.mkdir()
        os.chmod(spaced.parent, 0o755)
        env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache")}
        for _ in range(2):  # the second start reuses the cluster and its link
            run = subprocess.run([sys.executable, "-c", START_AND_QUERY, str(spaced)], cwd=ROOT, env=env,
                                 capture_output=True, text=True, timeout=120)
            assert run.returncode == 0, run.stderr[-2000:]
            assert run.stdout.strip() == "newsflow"
        assert (spaced / "PG_VERSION").exists()  # the cluster lives where it was asked for
        links = list((tmp_path / "cache" / "newsflow").iterdir())
        assert len(links) == 1 and links[0].resolve() == spaced.resolve()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
