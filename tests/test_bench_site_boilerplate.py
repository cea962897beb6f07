"""bench/site_boilerplate.py on a small corpus: learned per-site lines, as the
ingest flow learns and applies them in PostgreSQL, take each site's own chrome
out of its articles once the site has enough pages, and not before."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The benchmarks are scripts, not part of the installed package: import them
# from the checkout whichever way pytest was started.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import benchdata  # noqa: E402
from bench import site_boilerplate as bench  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(bool(benchdata.extraction_benchmark_missing()),
                       reason=benchdata.extraction_benchmark_missing() or ""),
]

MIN_PAGES = 3


@pytest.fixture(scope="module")
def pages():
    # Two sites (a wire with author boxes, a paper with a dated print line) × 9 articles.
    return bench.build_pages(2, 9, seed=4)


def test_learned_lines_remove_site_chrome_only_past_the_threshold(clean_db, pages):
    from pipeline.clean import fold_line

    plain = bench.run_plain(pages, "newsflow")
    learned, steady = bench.run_feed_order(clean_db, pages, MIN_PAGES, run_minutes=30)

    # The corpus carries chrome that extraction and the phrase rules keep.
    assert bench.summarise(pages, plain)["precision"] < 0.95
    # Before a site has MIN_PAGES pages stored, nothing is learned for it:
    # its pages come out exactly as without learned rules.
    early = [i for i, is_steady in enumerate(steady) if not is_steady]
    assert len(early) >= 2 * MIN_PAGES
    assert all(learned[i] == plain[i] for i in early)
    # Past it, the site's fixed chrome lines are gone, and precision rises.
    after = [i for i, is_steady in enumerate(steady) if is_steady]
    fixed = {chrome.kind for site in ("globalwire", "ledger") for chrome in bench.SITE_CHROME[site]
             if chrome.share == 1.0 and "{" not in chrome.text}
    assert fixed
    for i in after:
        for kind, line in pages[i].chrome:
            if kind in fixed:
                assert fold_line(line) not in fold_line(learned[i]), (pages[i].url, line)
    assert bench.summarise(pages, learned, steady)["precision"] > bench.summarise(pages, plain, steady)["precision"] + 0.05

    lines = bench.learned_lines(clean_db, MIN_PAGES)
    assert set(lines) == {"globalwire.example", "ledger.example"}
    truth = {fold_line(line) for page in pages for line in page.truth.splitlines()}
    assert not [line for texts in lines.values() for line in texts if fold_line(line) in truth]


def test_an_outlet_whose_articles_share_whole_paragraphs_loses_no_article_and_keeps_its_text(clean_db):
    # Issue 20: pages of six paragraphs of 25+ words, most of them on other
    # pages of the outlet too.  A page count alone learned them as furniture
    # and rejected whole articles; share, shape and the bound keep them.
    from pipeline.clean import fold_line

    pages = bench.build_reuse_pages(40, seed=4)
    texts, _ = bench.run_feed_order(clean_db, pages, 5, run_minutes=30)
    kept = bench.text_kept(pages, texts)
    assert kept["lost"] == 0
    assert kept["kept_mean"] >= 0.99
    # The shared paragraphs did reach the page count: the count alone would have removed them.
    learned = {fold_line(line) for line in bench.learned_lines(clean_db, 5).get("bayherald.example", [])}
    shared = {fold_line(line) for page in pages for line in page.truth.splitlines()} & learned
    assert len(shared) >= 10
    # The outlet's own chrome is still learned and removed once it is common.
    last = max(range(len(pages)), key=lambda i: pages[i].published)
    assert not any(fold_line(line) in fold_line(texts[last]) for _, line in pages[last].chrome)
