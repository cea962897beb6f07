"""Unit tests for pipeline.opinions: the second opinions, and production
without the bench extra (readability-lxml is no runtime dependency)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from pipeline.opinions import SECOND_OPINIONS, bench_extra_missing
from pipeline.vote import DEFAULT_VOTE
from tests.conftest import SEED_PAGE

ROOT = Path(__file__).resolve().parents[1]

# Runs with readability-lxml made unimportable, as in the production image.
WITHOUT_THE_EXTRA = """
import sys
sys.modules["readability"] = None
from pipeline.process import extract_page
from pipeline.opinions import BenchExtraMissing, readability_paragraphs
article = extract_page(open(sys.argv[1], "rb").read(), "http://127.0.0.1:8000/freepress/2021/03/18/story.html")
print("extracted", len(article.text))
try:
    readability_paragraphs("<html><body><p>A paragraph.</p></body></html>")
except BenchExtraMissing as exc:
    print("raised", exc)
from bench.extraction import main
print("bench exit", main(["--data", sys.argv[2]]))
"""


def test_production_extracts_without_the_bench_extra_and_the_bench_says_it_is_missing(tmp_path):
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_THE_EXTRA, str(SEED_PAGE), str(tmp_path)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("extracted ") and int(lines[0].split()[1]) > 1000
    # A voter that is missing raises: an abstention would hide it.
    assert lines[1].startswith("raised readability-lxml is not installed") and "bench extra" in lines[1]
    assert lines[2] == "bench exit 2"
    assert "readability-lxml not installed: they come with newsflow's bench extra" in done.stderr


def test_production_votes_with_resiliparse_alone_and_the_dev_install_has_the_extra():
    assert DEFAULT_VOTE.voters == ("resiliparse",)
    assert bench_extra_missing() == []
    page = SEED_PAGE.read_text(encoding="utf-8")
    for name in ("resiliparse", "readability", "justext"):
        assert any("Blinken" in line for line in SECOND_OPINIONS[name](page, None, "en")), name
