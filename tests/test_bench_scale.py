"""bench/scale.py: how articles are dealt to writers (unit), and the store
command end to end on a tiny corpus against this session's PostgreSQL."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bench.scale import deal

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Article:
    site: str
    published_at: datetime
    canonical_url: str


def _articles() -> list[Article]:
    start = datetime(2024, 5, 6, tzinfo=UTC)
    sizes = {"agency-0.example": 9, "paper-0.example": 4, "radio-0.example": 2,
             "agency-1.example": 7, "paper-1.example": 5, "radio-1.example": 3}
    return [Article(host, start + timedelta(minutes=7 * n + len(host)), f"http://{host}/{n}")
            for host, count in sizes.items() for n in range(count)]


def test_dealing_by_host_keeps_each_host_with_one_writer_balanced_in_publication_order():
    articles = _articles()
    shares = deal(articles, 3, "hosts")
    assert sorted(id(a) for share in shares for a in share) == sorted(id(a) for a in articles)
    writer_of = {}
    for number, share in enumerate(shares):
        for article in share:
            assert writer_of.setdefault(article.site, number) == number
        assert share == sorted(share, key=lambda a: (a.published_at, a.canonical_url))
    # Largest hosts first, each to the writer with the fewest articles so far.
    assert sorted(len(share) for share in shares) == [9, 10, 11]


def test_dealing_by_story_keeps_each_corpus_group_with_one_writer():
    shares = deal(_articles(), 2, "stories")
    assert sorted({article.site.rsplit("-", 1)[1] for article in share} for share in shares) == [
        {"0.example"}, {"1.example"}]


@pytest.mark.integration
def test_the_store_command_stores_the_corpus_alike_with_each_lock_and_writer_count(database_url, tmp_path):
    base, separator, query = database_url.partition("?")
    server = base.rsplit("/", 1)[0] + separator + query
    result = subprocess.run(
        [sys.executable, "bench/scale.py", "store", "--writers", "1,2", "--rounds", "1", "--originals", "4",
         "--groups", "2", "--batch", "10", "--json", str(tmp_path / "scale.json")],
        cwd=ROOT, env={**os.environ, "NEWSFLOW_BENCH_PG": server}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / "scale.json").read_text())
    assert report["same_stories"] is True
    cells = {(m["deal"], m["writers"], m["locks"]) for m in report["measurements"]}
    assert cells == {(deal_, n, locks) for deal_ in ("hosts", "stories") for n in (1, 2) for locks in ("keys", "single")}
    assert {m["articles"] for m in report["measurements"]} == {report["articles"]}
    # One writer has no one to wait for.
    assert all(m["lock_wait_share"] == 0 for m in report["measurements"] if m["writers"] == 1)
    assert "| writers |" in result.stdout
