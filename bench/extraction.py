#!/usr/bin/env python3
"""Score article-body extraction on the Scrapinghub article-extraction benchmark.

Usage::

    python bench/extraction.py [--data DIR] [--extractor NAME ...]
                               [--per-page CSV] [--jobs N] [--worst N]
    python bench/extraction.py --selftest

The benchmark's folder, ``extraction-benchmark/`` in the benchmark data
directory (``--data DIR``, else ``$NEWSFLOW_BENCH_DATA``, else ``bench/data/``;
see bench/benchdata.py), holds ``html/<key>.html.gz`` (the page as crawled)
and ``ground-truth.json`` (``{key: {"articleBody": str, "url": str}}``); see
its README.md. Without it the script says where it looked and exits 0.

The metric is the benchmark's own (its evaluate.py), re-implemented here:

* tokens are the matches of ``\\w+`` (Unicode, case kept);
* each text becomes a multiset of 4-token shingles (consecutive 4-grams). A text
  with fewer than 4 tokens (but at least one) gives exactly one, shorter,
  shingle made of all its tokens; a text with no token gives no shingle. This is
  what the reference implementation does (its n-gram loop runs at least once and
  drops an empty tuple);
* per page and per shingle: tp = min(true, pred), fp = max(0, pred - true),
  fn = max(0, true - pred), summed over shingles, then scaled so tp+fp+fn = 1
  (so long pages do not weigh more);
* page precision = tp / (tp + fp), defined only when tp + fp > 0 (i.e. the
  prediction has a shingle); page recall = tp / (tp + fn), defined only when
  tp + fn > 0 (the truth has a shingle); a page with fp = fn = 0 scores 1 on
  both;
* P and R are the means of the defined page values, F1 = 2PR / (P + R) of those
  means (not a mean of page F1s).

So an empty prediction is left out of P (not counted as 0) but scores R = 0.

readability-lxml and jusText, the second opinions production does not run,
come with newsflow's ``bench`` extra (in requirements-dev.lock); without it
the script says so and exits 2 (unless neither they nor the cross-validation
are asked for).

Extractors: ``trafilatura-default``, ``trafilatura-precision`` and ``newsflow``
(the project's own ``pipeline.process.extract_page``, as ``newsflow extract`` runs it). An extractor that
cannot be imported is skipped with a one-line message; a page on which an
extractor raises is scored as an empty prediction and counted in ``errors``.
"""

from __future__ import annotations

import argparse
import csv
import gc
import gzip
import json
import math
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from bench import benchdata  # noqa: E402

SHINGLE_SIZE = 4

# ---------------------------------------------------------------------------
# Metric
# ---------------------------------------------------------------------------

_WORD_RE = re.compile(r"\w+")  # str patterns are Unicode-aware in Python 3


def tokenize(text: Optional[str]) -> list[str]:
    """Words of *text* as the benchmark sees them: ``\\w+`` matches, case kept."""
    return _WORD_RE.findall(text or "")


def shingles(text: Optional[str], n: int = SHINGLE_SIZE) -> Counter:
    """Counted n-token shingles of *text*.

    Fewer than *n* tokens: one shingle of all the tokens (none for an empty
    text), as in the reference evaluate.py.
    """
    tokens = tokenize(text)
    if not tokens:
        return Counter()
    if len(tokens) < n:
        return Counter([tuple(tokens)])
    return Counter(tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1))


def tp_fp_fn(true_text: Optional[str], pred_text: Optional[str],
             n: int = SHINGLE_SIZE) -> tuple[float, float, float]:
    """The page's (tp, fp, fn) over counted shingles, scaled to sum to 1
    (all zero when neither text has a shingle)."""
    true_sh = shingles(true_text, n)
    pred_sh = shingles(pred_text, n)
    tp = fp = fn = 0
    for sh in true_sh.keys() | pred_sh.keys():
        t, p = true_sh.get(sh, 0), pred_sh.get(sh, 0)
        tp += min(t, p)
        fp += max(0, p - t)
        fn += max(0, t - p)
    total = tp + fp + fn
    if total == 0:
        return 0.0, 0.0, 0.0
    return tp / total, fp / total, fn / total


def page_scores(tp: float, fp: float, fn: float) -> tuple[Optional[float], Optional[float]]:
    """(precision, recall) of one page from its normalised counts; None where
    the value is undefined and must be left out of the mean."""
    precision = recall = None
    if tp + fp > 0:
        precision = 1.0 if fp == fn == 0 else tp / (tp + fp)
    if tp + fn > 0:
        recall = 1.0 if fp == fn == 0 else tp / (tp + fn)
    return precision, recall


def score(true_text: str, pred_text: str) -> tuple[Optional[float], Optional[float]]:
    """(precision, recall) of *pred_text* against *true_text* on one page.

    precision is None when the prediction has no shingle (excluded from the
    mean), recall is None when the truth has none.
    """
    return page_scores(*tp_fp_fn(true_text, pred_text))


def f1_of(precision: Optional[float], recall: Optional[float]) -> Optional[float]:
    if precision is None or recall is None:
        return None
    if precision + recall == 0:
        return 0.0
    return 2 * precision * recall / (precision + recall)


def _mean(values: Iterable[Optional[float]]) -> Optional[float]:
    kept = [v for v in values if v is not None]
    return math.fsum(kept) / len(kept) if kept else None


def aggregate(pages: Iterable[tuple[Optional[float], Optional[float]]]
              ) -> tuple[Optional[float], Optional[float], Optional[float]]:
    """(F1, P, R) over pages of (precision, recall): P and R are means of the
    defined page values, F1 is computed from those two means."""
    pages = list(pages)
    precision = _mean(p for p, _ in pages)
    recall = _mean(r for _, r in pages)
    return f1_of(precision, recall), precision, recall


def page_f1(precision: Optional[float], recall: Optional[float]) -> float:
    """A single number to rank pages by (undefined parts count as 0)."""
    return f1_of(precision or 0.0, recall or 0.0) or 0.0


# ---------------------------------------------------------------------------
# Extractors: name -> loader; a loader imports lazily and returns
# f(html_bytes, url) -> text.
# ---------------------------------------------------------------------------

def _load_trafilatura_default() -> Callable[[bytes, str], str]:
    import trafilatura

    def run(html: bytes, url: str) -> str:
        return trafilatura.extract(html, url=url) or ""
    return run


def _load_trafilatura_precision() -> Callable[[bytes, str], str]:
    import trafilatura

    def run(html: bytes, url: str) -> str:
        return trafilatura.extract(html, url=url, favor_precision=True,
                                   include_comments=False) or ""
    return run


def _load_newsflow() -> Callable[[bytes, str], str]:
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    # The function behind `newsflow extract` and the ingest flow: bytes are
    # decoded by pipeline.encoding, then extracted and cleaned.
    from pipeline.process import extract_page

    def run(html: bytes, url: str) -> str:
        return extract_page(html, url).text
    return run


def _load_second_opinion(name: str) -> Callable[[], Callable[[bytes, str], str]]:
    """One of the extractors that vote beside trafilatura (pipeline/opinions.py), alone."""
    def load() -> Callable[[bytes, str], str]:
        from pipeline.encoding import decode_html
        from pipeline.opinions import SECOND_OPINIONS

        def run(html: bytes, url: str) -> str:
            return "\n".join(SECOND_OPINIONS[name](decode_html(html).text, url, None))
        return run
    return load


EXTRACTORS: dict[str, Callable[[], Callable[[bytes, str], str]]] = {
    "trafilatura-default": _load_trafilatura_default,
    "trafilatura-precision": _load_trafilatura_precision,
    "readability": _load_second_opinion("readability"),
    "resiliparse": _load_second_opinion("resiliparse"),
    "justext": _load_second_opinion("justext"),
    "newsflow": _load_newsflow,
}

_loaded: dict[str, Callable[[bytes, str], str]] = {}


def get_extractor(name: str) -> Callable[[bytes, str], str]:
    if name not in _loaded:
        _loaded[name] = EXTRACTORS[name]()
    return _loaded[name]


# ---------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------

@dataclass
class Page:
    key: str
    url: str
    truth: str
    html: bytes


@dataclass
class PageResult:
    key: str
    prediction: str
    error: Optional[str]
    seconds: float
    precision: Optional[float] = None
    recall: Optional[float] = None


@dataclass
class Run:
    extractor: str
    seconds: float  # wall time of the extraction phase
    results: list[PageResult] = field(default_factory=list)

    @property
    def errors(self) -> int:
        return sum(r.error is not None for r in self.results)

    def summary(self) -> tuple[Optional[float], Optional[float], Optional[float]]:
        return aggregate((r.precision, r.recall) for r in self.results)


def load_pages(data_dir: Path) -> list[Page]:
    truth = json.loads((data_dir / "ground-truth.json").read_text(encoding="utf-8"))
    pages = []
    for key in sorted(truth):
        path = data_dir / "html" / f"{key}.html.gz"
        pages.append(Page(key=key, url=truth[key].get("url", ""),
                          truth=truth[key].get("articleBody", "") or "",
                          html=gzip.decompress(path.read_bytes())))
    return pages


def _extract_one(task: tuple[str, str, str, bytes]) -> tuple[str, str, Optional[str], float]:
    name, key, url, html = task
    fn = get_extractor(name)
    start = time.perf_counter()
    try:
        text, error = fn(html, url) or "", None
    except Exception as exc:  # a failing page scores as an empty prediction
        text, error = "", f"{type(exc).__name__}: {exc}"
    return key, text, error, time.perf_counter() - start


def _warm(names: list[str]) -> None:
    """Pool initializer: import the extractors before any page is timed."""
    for name in names:
        get_extractor(name)


def run_extractor(name: str, pages: list[Page], jobs: int = 1) -> Run:
    tasks = [(name, p.key, p.url, p.html) for p in pages]
    if jobs > 1:
        import multiprocessing
        with multiprocessing.Pool(jobs, initializer=_warm, initargs=([name],)) as pool:
            start = time.perf_counter()
            raw = list(pool.imap(_extract_one, tasks, chunksize=1))  # ordered
            wall = time.perf_counter() - start
    else:
        start = time.perf_counter()
        raw = [_extract_one(t) for t in tasks]
        wall = time.perf_counter() - start
    run = Run(extractor=name, seconds=wall)
    by_key = {p.key: p for p in pages}
    for key, text, error, secs in raw:
        res = PageResult(key=key, prediction=text, error=error, seconds=secs)
        res.precision, res.recall = score(by_key[key].truth, text)
        run.results.append(res)
    return run


def _fmt(x: Optional[float], digits: int = 3) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def print_table(runs: list[Run], out=sys.stdout) -> None:
    header = f"{'extractor':<24} {'F1':>6} {'P':>6} {'R':>6} {'pages':>6} {'errors':>6} {'seconds':>8}"
    print(header, file=out)
    print("-" * len(header), file=out)
    for run in runs:
        f1, p, r = run.summary()
        print(f"{run.extractor:<24} {_fmt(f1):>6} {_fmt(p):>6} {_fmt(r):>6} "
              f"{len(run.results):>6} {run.errors:>6} {run.seconds:>8.2f}", file=out)


def write_per_page(runs: list[Run], path: Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["key", "extractor", "P", "R"])
        for run in runs:
            for res in sorted(run.results, key=lambda r: r.key):
                w.writerow([res.key, run.extractor,
                            "" if res.precision is None else f"{res.precision:.4f}",
                            "" if res.recall is None else f"{res.recall:.4f}"])


def print_worst(runs: list[Run], n: int, out=sys.stdout) -> None:
    for run in runs:
        print(f"\nworst {n} pages for {run.extractor} (page F1, P, R, key):", file=out)
        ranked = sorted(run.results, key=lambda r: (page_f1(r.precision, r.recall), r.key))
        for res in ranked[:n]:
            note = f"  ERROR {res.error}" if res.error else ""
            print(f"  {page_f1(res.precision, res.recall):.3f} {_fmt(res.precision)} "
                  f"{_fmt(res.recall)} {res.key}{note}", file=out)



# ---------------------------------------------------------------------------
# Cross-validation: which vote configuration, judged on pages it was not
# chosen on
# ---------------------------------------------------------------------------

FOLDS = 4
BASELINE = "trafilatura-precision"  # "trafilatura alone": its best plain configuration


def fold_of(pages: list[Page]) -> dict[str, int]:
    """Fixed folds: the pages in key order, dealt round-robin (the keys are
    hashes, so this is an arbitrary but stable split)."""
    return {page.key: index % FOLDS for index, page in enumerate(sorted(pages, key=lambda p: p.key))}


def _cpu(run: Callable[[], object]) -> tuple[object, float]:
    """run() and the CPU seconds it took: on a machine shared with other
    work, CPU time measures a page's cost where wall time measures the queue.
    The garbage of the runs before is collected first, so that no run pays
    for another's."""
    gc.collect()
    start = time.process_time()
    try:
        result = run()
    except Exception:  # as everywhere here: an error is an empty prediction
        result = None
    return result, time.process_time() - start


def _candidate_task(task: tuple[str, str, bytes]) -> dict:
    """One page: its text under every candidate configuration (each extractor
    run once), trafilatura alone's text, and the CPU time of trafilatura alone,
    of trafilatura with its own metadata step (which newsflow no longer runs:
    a reference), of newsflow as production runs it and of each second
    opinion, back to back in the same process."""
    import trafilatura

    from pipeline.encoding import decode_html
    from pipeline.extract import TRAFILATURA_OPTIONS
    from pipeline.opinions import SECOND_OPINIONS
    from pipeline.process import extract_page, extract_page_votes
    from pipeline.vote import CANDIDATES

    key, url, html = task
    baseline_text, baseline_seconds = _cpu(lambda: get_extractor(BASELINE)(html, url))
    _, metadata_seconds = _cpu(lambda: trafilatura.bare_extraction(html, url=url, **(TRAFILATURA_OPTIONS | {
        "with_metadata": True})))
    _, newsflow_seconds = _cpu(lambda: extract_page(html, url))
    decoded = decode_html(html).text
    voter_seconds = {name: _cpu(lambda: opinion(decoded, url, None))[1] for name, opinion in SECOND_OPINIONS.items()}
    try:
        texts = {vote.name: article.text for vote, article in zip(CANDIDATES, extract_page_votes(html, url, CANDIDATES))}
        error = None
    except Exception as exc:  # every candidate scores the page as empty
        texts, error = {vote.name: "" for vote in CANDIDATES}, f"{type(exc).__name__}: {exc}"
    return {"key": key, "texts": texts, "error": error, "baseline_text": baseline_text or "",
            "baseline": baseline_seconds, "metadata": metadata_seconds, "newsflow": newsflow_seconds,
            "voters": voter_seconds}


def _warm_candidates(tasks: tuple[tuple[str, str, bytes], ...]) -> None:
    from pipeline.extract import load_models

    _warm([BASELINE, "newsflow"])
    load_models()  # as a production worker does on start
    for task in tasks:
        _candidate_task(task)


@dataclass
class CrossValidation:
    candidates: list[str]  # configuration names, in CANDIDATES order
    scores: dict[str, dict[str, tuple[Optional[float], Optional[float]]]]  # config -> key -> (P, R)
    baseline: dict[str, tuple[Optional[float], Optional[float]]]  # key -> (P, R) of trafilatura alone
    folds: dict[str, int]
    production: str
    baseline_seconds: float  # CPU seconds over all pages: trafilatura alone (text only)
    metadata_seconds: float  # trafilatura with its own metadata step (newsflow reads the metadata itself)
    newsflow_seconds: float  # newsflow as production runs it
    voter_seconds: dict[str, float]  # each second opinion alone
    voters: dict[str, tuple[str, ...]]  # configuration -> its second opinions
    errors: int

    def cost(self, config: str) -> float:
        """A configuration's CPU time over trafilatura alone's: production's
        measured time with its own voters' time swapped for this one's."""
        seconds = (self.newsflow_seconds - math.fsum(self.voter_seconds[v] for v in self.voters[self.production])
                   + math.fsum(self.voter_seconds[v] for v in self.voters[config]))
        return seconds / self.baseline_seconds if self.baseline_seconds else float("inf")

    def affordable(self) -> list[str]:
        """The configurations within the cost target; when none is, those that
        cost least (within 0.1x of the cheapest): what production could run."""
        within = [name for name in self.candidates if self.cost(name) <= TARGET_COST]
        if within:
            return within
        cheapest = min(self.cost(name) for name in self.candidates)
        return [name for name in self.candidates if self.cost(name) <= cheapest + 0.1]

    def summary(self, config: str, keys: Iterable[str]) -> tuple[Optional[float], Optional[float], Optional[float]]:
        return aggregate(self.scores[config][key] for key in keys)

    def choose(self, keys: list[str]) -> str:
        """The affordable candidate with the best F1 on ``keys`` (then
        precision, then the earlier in CANDIDATES)."""
        def rank(config: str):
            f1, precision, _ = self.summary(config, keys)
            return (round(f1 or 0.0, 6), round(precision or 0.0, 6), -self.candidates.index(config))
        return max(self.affordable(), key=rank)

    def fold_keys(self, fold: int) -> list[str]:
        return sorted(key for key, f in self.folds.items() if f == fold)

    def per_fold(self) -> list[tuple[int, str, tuple, tuple]]:
        """(fold, configuration chosen on the other folds, its (F1, P, R) on
        this fold, trafilatura's (F1, P, R) on this fold)."""
        rows = []
        for fold in range(FOLDS):
            held_out = self.fold_keys(fold)
            chosen = self.choose(sorted(key for key, f in self.folds.items() if f != fold))
            rows.append((fold, chosen, self.summary(chosen, held_out), aggregate(self.baseline[k] for k in held_out)))
        return rows

    def mean(self) -> tuple[float, float, float]:
        rows = self.per_fold()
        return tuple(math.fsum(row[2][i] or 0.0 for row in rows) / FOLDS for i in range(3))  # type: ignore[return-value]

    def worst_against_baseline(self, config_of: Callable[[str], str]) -> tuple[float, str, float, float]:
        """(page F1 minus trafilatura's, key, page F1, trafilatura's page F1) of
        the page that loses most against trafilatura alone."""
        rows = []
        for key in self.baseline:
            ours = page_f1(*self.scores[config_of(key)][key])
            theirs = page_f1(*self.baseline[key])
            rows.append((ours - theirs, key, ours, theirs))
        return min(rows)


def cross_validate(pages: list[Page], jobs: int = 1) -> CrossValidation:
    from pipeline.vote import CANDIDATES, DEFAULT_VOTE

    tasks = [(p.key, p.url, p.html) for p in pages]
    # Each process first loads the models (pipeline.extract.load_models, as a
    # production worker does) and extracts one page untimed: one-off costs
    # (the language model, dateparser's and regex's compiled tables) belong
    # to a worker's start, not to any page.
    warm_up = (tasks[0],)
    if jobs > 1:
        import multiprocessing
        with multiprocessing.Pool(jobs, initializer=_warm_candidates, initargs=(warm_up,)) as pool:
            raw = list(pool.imap(_candidate_task, tasks, chunksize=1))
    else:
        _warm_candidates(warm_up)
        raw = [_candidate_task(t) for t in tasks]
    by_key = {p.key: p for p in pages}
    names = [vote.name for vote in CANDIDATES]
    scores: dict[str, dict[str, tuple]] = {name: {} for name in names}
    for row in raw:
        for name in names:
            scores[name][row["key"]] = score(by_key[row["key"]].truth, row["texts"][name])
    return CrossValidation(
        candidates=names, scores=scores, folds=fold_of(pages), production=DEFAULT_VOTE.name,
        baseline={row["key"]: score(by_key[row["key"]].truth, row["baseline_text"]) for row in raw},
        baseline_seconds=math.fsum(row["baseline"] for row in raw),
        metadata_seconds=math.fsum(row["metadata"] for row in raw),
        newsflow_seconds=math.fsum(row["newsflow"] for row in raw),
        voter_seconds={name: math.fsum(row["voters"][name] for row in raw) for name in raw[0]["voters"]},
        voters={vote.name: vote.voters for vote in CANDIDATES},
        errors=sum(row["error"] is not None for row in raw),
    )


# Issue 20's targets, checked on every run.
TARGET_CV_F1 = 0.980
TARGET_CV_PRECISION = 0.975
TARGET_WORST_PAGE = -0.05  # no page more than this F1 below trafilatura alone
TARGET_COST = 1.5  # newsflow's time per page over trafilatura's, same run


def print_cross_validation(cv: CrossValidation, n_pages: int, out=sys.stdout) -> bool:
    """The candidates, the per-fold choice and score, the mean of the four, the
    in-sample figure, the worst page against trafilatura and the cost; returns
    whether every target holds."""
    every = list(cv.baseline)
    print(f"\nvote configurations on all {n_pages} pages (in-sample; trafilatura is the base and one vote;"
          " cost: CPU time over trafilatura alone's):", file=out)
    print(f"{'configuration':<66} {'F1':>6} {'P':>6} {'R':>6} {'cost':>6}", file=out)
    for name in cv.candidates:
        f1, p, r = cv.summary(name, every)
        mark = "  <- production (DEFAULT_VOTE)" if name == cv.production else ""
        print(f"{name:<66} {_fmt(f1):>6} {_fmt(p):>6} {_fmt(r):>6} {cv.cost(name):>5.2f}x{mark}", file=out)
    print("chosen among (the affordable): " + "; ".join(cv.affordable()), file=out)

    print(f"\ncross-validation: {FOLDS} fixed folds; each fold's configuration is chosen on the other three", file=out)
    print(f"{'fold':>4} {'pages':>5}  {'chosen on the other folds':<52} {'F1':>6} {'P':>6} {'R':>6}   "
          f"{'trafilatura F1/P/R':>20}", file=out)
    for fold, chosen, (f1, p, r), (tf1, tp, tr) in cv.per_fold():
        print(f"{fold + 1:>4} {len(cv.fold_keys(fold)):>5}  {chosen:<52} {_fmt(f1):>6} {_fmt(p):>6} {_fmt(r):>6}   "
              f"{_fmt(tf1)}/{_fmt(tp)}/{_fmt(tr)}", file=out)
    cv_f1, cv_p, cv_r = cv.mean()
    rows = cv.per_fold()
    t_mean = [math.fsum(row[3][i] or 0.0 for row in rows) / FOLDS for i in range(3)]
    print(f"{'mean of the 4 folds':<60} {cv_f1:>6.3f} {cv_p:>6.3f} {cv_r:>6.3f}   "
          f"{t_mean[0]:.3f}/{t_mean[1]:.3f}/{t_mean[2]:.3f}", file=out)
    chosen_all = cv.choose(every)
    f1, p, r = cv.summary(chosen_all, every)
    tf1, tp, tr = aggregate(cv.baseline.values())
    print(f"in-sample, chosen on all {n_pages}: {chosen_all}: F1 {_fmt(f1)} P {_fmt(p)} R {_fmt(r)} "
          f"(trafilatura alone: F1 {_fmt(tf1)} P {_fmt(tp)} R {_fmt(tr)})", file=out)
    if chosen_all != cv.production:
        print(f"note: production runs {cv.production}, not the in-sample choice", file=out)

    fold_choice = {fold: chosen for fold, chosen, _, _ in rows}
    cv_worst = cv.worst_against_baseline(lambda key: fold_choice[cv.folds[key]])
    prod_worst = cv.worst_against_baseline(lambda key: cv.production)
    print("\nworst page against trafilatura alone (page F1 minus trafilatura's page F1):", file=out)
    for label, (delta, key, ours, theirs) in (("cross-validated", cv_worst), ("production", prod_worst)):
        print(f"  {label:<16} {delta:+.3f}  {key}  ({ours:.3f} against {theirs:.3f})", file=out)

    ratio = cv.cost(cv.production)
    print(f"\nCPU time per page, same run, back to back: newsflow {1000 * cv.newsflow_seconds / n_pages:.1f} ms, "
          f"trafilatura alone {1000 * cv.baseline_seconds / n_pages:.1f} ms ({ratio:.2f}x); "
          f"trafilatura with its own metadata step {1000 * cv.metadata_seconds / n_pages:.1f} ms "
          f"({cv.metadata_seconds / cv.baseline_seconds:.2f}x); "
          + ", ".join(f"{name} {1000 * seconds / n_pages:.1f} ms" for name, seconds in cv.voter_seconds.items()),
          file=out)

    checks = [
        (f"cross-validated F1 >= {TARGET_CV_F1}", cv_f1 >= TARGET_CV_F1, f"{cv_f1:.3f}"),
        (f"cross-validated precision >= {TARGET_CV_PRECISION}", cv_p >= TARGET_CV_PRECISION, f"{cv_p:.3f}"),
        (f"no page more than {-TARGET_WORST_PAGE} F1 below trafilatura (cross-validated and production)",
         min(cv_worst[0], prod_worst[0]) >= TARGET_WORST_PAGE, f"{min(cv_worst[0], prod_worst[0]):+.3f}"),
        (f"CPU cost at most {TARGET_COST}x trafilatura alone", ratio <= TARGET_COST, f"{ratio:.2f}x"),
    ]
    print("\ntargets (issue 20):", file=out)
    for label, holds, value in checks:
        print(f"  {'holds' if holds else 'MISSED':<6} {label}: {value}", file=out)
    return all(holds for _, holds, _ in checks)


# ---------------------------------------------------------------------------
# Self checks (python bench/extraction.py --selftest)
# ---------------------------------------------------------------------------

def _selftest() -> None:
    close = lambda a, b: a is not None and abs(a - b) < 1e-9  # noqa: E731
    body = "The quick brown fox jumps over the lazy dog near the river bank today."

    # identical texts: perfect on both
    assert score(body, body) == (1.0, 1.0)
    # tokenisation ignores punctuation and whitespace, keeps case
    assert score("Hello,   world -- again; and again!", "Hello world again and again") == (1.0, 1.0)
    assert score("Über straße café naïve", "Über straße café naïve") == (1.0, 1.0)
    assert tokenize("Über-straße café") == ["Über", "straße", "café"]
    assert score("Alpha beta gamma delta", "alpha beta gamma delta") == (0.0, 0.0)

    # empty prediction: precision undefined (left out of the mean), recall 0
    assert score(body, "") == (None, 0.0)
    assert score(body, None) == (None, 0.0)  # type: ignore[arg-type]
    # empty truth and empty prediction: both undefined; truth empty, pred not: P=0
    assert score("", "") == (None, None)
    assert score("", body) == (0.0, None)

    # extra junk in the prediction: P < 1, R = 1
    p, r = score(body, "Read more stories like this. " + body + " Share this article")
    assert p is not None and p < 1 and r == 1.0, (p, r)
    # body: 14 tokens -> 11 shingles, all predicted; prediction: 5 + 14 + 3 = 22
    # tokens -> 19 shingles, so tp = 11, fp = 8
    assert close(p, 11 / 19), p
    # missing part of the body: P = 1, R < 1
    p, r = score(body, body[:40])
    assert p == 1.0 and r is not None and r < 1

    # counted shingles: a repeated phrase must be matched as many times as it occurs
    phrase = "one two three four"
    assert shingles(phrase + " " + phrase)[("one", "two", "three", "four")] == 2
    # truth says it twice (8 tokens -> 5 shingles: the phrase x2 plus 3 that
    # bridge the repeat), prediction once: tp = 1, fn = 4
    tp, fp, fn = tp_fp_fn(phrase + " " + phrase, phrase)
    assert close(tp, 1 / 5) and fp == 0 and close(fn, 4 / 5), (tp, fp, fn)
    assert score(phrase + " " + phrase, phrase) == (1.0, 0.2)
    # prediction repeats it, truth says it once: the duplicate is a false positive
    assert score(phrase, phrase + " " + phrase) == (0.2, 1.0)
    # a set-based metric would give P=R=1 here; a counted one must not
    assert score("a b c d a b c d a b c d", "a b c d a b c d") != (1.0, 1.0)

    # short texts (< 4 tokens): one shingle of all the tokens
    assert shingles("just three words") == Counter({("just", "three", "words"): 1})
    assert score("just three words", "just three words") == (1.0, 1.0)
    assert score("just three words", "just three") == (0.0, 0.0)
    assert shingles("") == Counter() and shingles("!!! ...") == Counter()

    # normalised counts sum to 1
    assert close(sum(tp_fp_fn(body, "junk words here " + body[:30])), 1.0)

    # aggregation: means over defined pages, F1 from the means
    f1, P, R = aggregate([(1.0, 1.0), (None, 0.0), (0.5, 1.0)])
    assert close(P, 0.75) and close(R, 2 / 3)
    assert close(f1, 2 * 0.75 * (2 / 3) / (0.75 + 2 / 3))
    assert aggregate([]) == (None, None, None)
    assert aggregate([(None, 0.0)]) == (None, None, 0.0)

    # the extractor wrapper turns exceptions into an empty prediction + error
    EXTRACTORS["_boom"] = lambda: (lambda html, url: 1 / 0)
    try:
        key, text, error, _ = _extract_one(("_boom", "k", "u", b"<html/>"))
        assert key == "k" and text == "" and error and error.startswith("ZeroDivisionError")
    finally:
        EXTRACTORS.pop("_boom")
        _loaded.pop("_boom", None)

    print("selftest: all checks passed")


# ---------------------------------------------------------------------------

def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    benchdata.add_option(ap)
    ap.add_argument("--extractor", nargs="+", choices=sorted(EXTRACTORS), metavar="NAME",
                    help=f"extractors to run (default: all of {', '.join(EXTRACTORS)})")
    ap.add_argument("--per-page", metavar="CSV", type=Path,
                    help="write key,extractor,P,R per page to this CSV")
    ap.add_argument("--jobs", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--worst", type=int, default=0, metavar="N",
                    help="also list the N worst pages by page F1 per extractor")
    ap.add_argument("--no-cv", action="store_true",
                    help="skip the cross-validation of newsflow's vote configurations (run with newsflow)")
    ap.add_argument("--selftest", action="store_true", help="run the metric's self checks and exit")
    args = ap.parse_args(argv)

    if args.selftest:
        _selftest()
        return 0

    from pipeline.opinions import bench_extra_missing

    wanted = set(args.extractor or EXTRACTORS)
    needs_extra = not args.no_cv and "newsflow" in wanted or wanted & {"readability", "justext"}
    if needs_extra and (missing := bench_extra_missing()):
        # The vote's candidates and these extractors need them: say so rather than score without them.
        print(f"{', '.join(missing)} not installed: they come with newsflow's bench extra"
              " (pip install -e '.[bench]'; make install installs it from requirements-dev.lock)", file=sys.stderr)
        return 2

    if skipped := benchdata.extraction_benchmark_missing(args.data, pages=True):
        print(skipped)
        return 0
    data_dir = benchdata.extraction_benchmark(args.data)
    pages = load_pages(data_dir)

    runs: list[Run] = []
    for name in args.extractor or list(EXTRACTORS):
        try:
            get_extractor(name)  # import now, outside the timed part
        except Exception as exc:
            print(f"skipping {name}: cannot load it ({type(exc).__name__}: {exc})", file=sys.stderr)
            continue
        runs.append(run_extractor(name, pages, jobs=max(1, args.jobs)))

    print(f"{len(pages)} pages from {data_dir}")
    print_table(runs)
    if args.worst:
        print_worst(runs, args.worst)
    if args.per_page:
        write_per_page(runs, args.per_page)
    if not args.no_cv and (not args.extractor or "newsflow" in args.extractor):
        print_cross_validation(cross_validate(pages, jobs=max(1, args.jobs)), len(pages))
    return 0 if runs else 1


if __name__ == "__main__":
    sys.exit(main())
