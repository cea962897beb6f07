"""What an installed newsflow carries (a wheel, the Docker image): built
from a copy of the checkout's tracked files, as a user's build would be."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    return [name for name in listed.decode().split("\0") if name and (ROOT / name).is_file()]


def test_the_wheel_carries_every_data_file_the_code_reads_and_the_build_says_nothing_of_them(tmp_path):
    source = tmp_path / "newsflow"
    for name in tracked_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
         "--disable-pip-version-check", "--wheel-dir", str(tmp_path / "dist"), str(source)],
        capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr
    # setuptools warns of a data folder that is not declared as a package,
    # and drops it from some builds.
    assert "is absent from the `packages` configuration" not in built.stderr + built.stdout
    wheel, = (tmp_path / "dist").glob("newsflow-*.whl")
    carried = set(zipfile.ZipFile(wheel).namelist())
    data_files = [
        *sorted(str(p.relative_to(source)) for p in (source / "pipeline/enrich/words").glob("*.txt")),
        *sorted(str(p.relative_to(source)) for p in (source / "flows/web/templates").glob("*.html")),
        *sorted(str(p.relative_to(source)) for p in (source / "flows/web/static").iterdir()),
        *sorted(str(p.relative_to(source)) for p in (source / "pipeline/store/migrations/versions").glob("*.py")),
        "pipeline/store/migrations/script.py.mako",
    ]
    assert len(data_files) > 30
    assert [name for name in data_files if name not in carried] == []
