"""Two ingest processes loading copies of one wire story at the same moment
end with one story (stories are assigned under one advisory lock)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import SEED_PAGE, child_ingest_env

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[1]


def _outlet(folder: Path, name: str, page_html: str, copies: int) -> None:
    """An outlet with one feed listing ``copies`` pages carrying the story."""
    (folder / name).mkdir()
    items = []
    for number in range(copies):
        (folder / name / f"story-{number}.html").write_text(page_html.replace(
            "gleam-china-must-influence-north-korea.html", f"{name}-story-{number}.html"), encoding="utf-8")
        items.append(f"<item><title>Story {number}</title><link>/{name}/story-{number}.html</link>"
                     f"<pubDate>Thu, 18 Mar 2021 1{number}:00:00 GMT</pubDate></item>")
    (folder / name / "rss.xml").write_text(
        f"<?xml version='1.0'?><rss version='2.0'><channel><title>{name}</title><link>/</link>"
        f"<description>x</description>{''.join(items)}</channel></rss>", encoding="utf-8")
    (folder / f"{name}.yaml").write_text(f"feeds:\n  - url: /{name}/rss.xml\n    name: {name}\n")


def test_two_processes_loading_copies_at_once_make_one_story(clean_db, prefect_server, tmp_path):
    from flows.demo import serve_directory

    html = SEED_PAGE.read_text(encoding="utf-8")
    # Outlet B's copy is near, not exact: last paragraph cut, an ad line added.
    near = html.replace(
        "<p>Former US President Donald Trump had started talks with ruler Kim Jong-un about North Korea’s "
        "nuclear program and also met him in person. Little progress has been made on this point.</p>", ""
    ).replace("<p>North Korea had previously", "<p>Advertisement</p><p>North Korea had previously")
    assert near != html and "Advertisement" in near
    _outlet(tmp_path, "outlet-a", html, copies=3)
    _outlet(tmp_path, "outlet-b", near, copies=3)
    with serve_directory(tmp_path) as base_url:
        for name in ("outlet-a", "outlet-b"):
            listing = tmp_path / f"{name}.yaml"
            listing.write_text(listing.read_text().replace("url: /", f"url: {base_url}/"))
        env = child_ingest_env(base_url, tmp_path / "data")
        runs = [
            subprocess.Popen(
                [sys.executable, "-m", "flows.cli", "ingest", "--feeds", str(tmp_path / f"{name}.yaml"), "--json"],
                env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for name in ("outlet-a", "outlet-b")
        ]
        outputs = [run.communicate(timeout=300) for run in runs]
    for run, (stdout, stderr) in zip(runs, outputs, strict=True):
        assert run.returncode == 0, stderr
    with clean_db.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.canonical_url, a.story_id, a.match_kind, s.article_count"
            " FROM articles a JOIN stories s ON s.id = a.story_id ORDER BY a.canonical_url"
        )).all()
        story_count = conn.execute(text("SELECT count(*) FROM stories")).scalar()
    assert len(rows) == 6
    assert story_count == 1
    assert {row.article_count for row in rows} == {6}
    kinds = sorted(row.match_kind for row in rows)
    # One article started the story; its exact copies and the near ones joined.
    assert kinds.count("new") == 1 and "near" in kinds and "exact" in kinds
