"""Each benchmark that needs data newsflow does not ship says where to put it, and skips cleanly without it."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

from bench import benchdata

ROOT = Path(__file__).resolve().parents[1]
# bench/entities.py reads the same directory and is checked with its own tests.
NEEDS_DATA = ["extraction", "dedup", "throughput", "site_boilerplate", "peers", "query"]


def _main(name: str, argv: list[str], monkeypatch) -> int:
    """The benchmark's main() as `python bench/NAME.py ARGV` runs it, in this process."""
    module = importlib.import_module(f"bench.{name}")
    monkeypatch.setattr(sys, "argv", [f"bench/{name}.py", *argv])
    try:
        return module.main()
    except SystemExit as exit_:  # --help
        return exit_.code


@pytest.mark.parametrize("name", NEEDS_DATA)
def test_without_the_data_it_says_where_it_looked_in_one_line_and_exits_0(name, monkeypatch, capsys, tmp_path):
    monkeypatch.setenv(benchdata.ENV, str(tmp_path / "from-env"))
    assert _main(name, [], monkeypatch) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 and lines[0].startswith("skipped: "), lines
    assert f"not found at {tmp_path / 'from-env' / benchdata.EXTRACTION_BENCHMARK} " in lines[0]
    assert "--data DIR" in lines[0] and benchdata.ENV in lines[0]
    # --data wins over the environment.
    assert _main(name, ["--data", str(tmp_path / "from-option")], monkeypatch) == 0
    assert f"not found at {tmp_path / 'from-option'}" in capsys.readouterr().out


@pytest.mark.parametrize("name", NEEDS_DATA)
def test_its_help_says_where_the_data_goes(name, monkeypatch, capsys):
    assert _main(name, ["--help"], monkeypatch) == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "--data DIR" in help_text and f"${benchdata.ENV}" in help_text
    assert "extraction- benchmark/" in help_text or "extraction-benchmark/" in help_text


def test_the_data_directory_comes_from_the_option_then_the_environment_then_bench_data(monkeypatch, tmp_path):
    monkeypatch.setenv(benchdata.ENV, str(tmp_path / "from-env"))
    assert benchdata.root(tmp_path / "from-option") == tmp_path / "from-option"
    assert benchdata.root() == tmp_path / "from-env"
    monkeypatch.delenv(benchdata.ENV)
    assert benchdata.root() == ROOT / "bench" / "data"
    (tmp_path / "from-option" / "extraction-benchmark").mkdir(parents=True)
    (tmp_path / "from-option" / "extraction-benchmark" / "ground-truth.json").write_text("{}")
    assert benchdata.extraction_benchmark_missing(tmp_path / "from-option") is None
    assert "html not found" in benchdata.extraction_benchmark_missing(tmp_path / "from-option", pages=True)
