"""Where the benchmarks find the data sets that newsflow does not ship, and what they say without them.

The data directory holds ``extraction-benchmark/`` (the article-extraction
benchmark: ``ground-truth.json`` and ``html/``) and ``conll2003/``. A
benchmark takes it from ``--data DIR``, else from ``$NEWSFLOW_BENCH_DATA``,
else from ``bench/data/`` in the checkout (ignored by git). A benchmark whose
data is not there prints one line, ``skipped: … not found at …``, and exits 0.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ENV = "NEWSFLOW_BENCH_DATA"
DEFAULT_ROOT = Path(__file__).resolve().parent / "data"
EXTRACTION_BENCHMARK = "extraction-benchmark"
WHERE = (f"the benchmark data directory, holding {EXTRACTION_BENCHMARK}/ and conll2003/, "
         f"comes from --data DIR, ${ENV} or bench/data/")


def root(option: str | Path | None = None) -> Path:
    """The data directory: the option, else the environment, else bench/data/."""
    if option:
        return Path(option)
    from_env = os.environ.get(ENV)
    return Path(from_env) if from_env else DEFAULT_ROOT


def extraction_benchmark(option: str | Path | None = None) -> Path:
    return root(option) / EXTRACTION_BENCHMARK


def add_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data", metavar="DIR",
        help=f"the benchmark data: a directory holding {EXTRACTION_BENCHMARK}/ (and conll2003/); "
             f"default ${ENV}, else bench/data/ in the checkout",
    )


def extraction_benchmark_missing(option: str | Path | None = None, *, pages: bool = False) -> str | None:
    """The line to print when the extraction benchmark (with its ``html/``
    pages if ``pages``) is not there, or None when it is."""
    folder = extraction_benchmark(option)
    wanted = [folder / "ground-truth.json"] + ([folder / "html"] if pages else [])
    absent = [path for path in wanted if not path.exists()]
    if not absent:
        return None
    return f"skipped: {EXTRACTION_BENCHMARK}/{absent[0].name} not found at {folder} ({WHERE})"
