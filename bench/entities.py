#!/usr/bin/env python3
"""Measure entity quality: raw spaCy against newsflow's normalisation, and what each rule adds.

Usage::

    python bench/entities.py [--conll DIR] [--extraction-benchmark DIR] [--model M] [--json FILE] [--errors]
                             [--no-tuning]
    python bench/entities.py --gold tests/fixtures/entities-gold.json
    python bench/entities.py --gold tests/fixtures/entities-gold-heldout.json [--extraction-benchmark DIR]

**Two held-out sets (the default run).**  The rules are judged on text
nobody looked at while writing them, of two kinds:

- CoNLL-2003 English: Reuters stories of 1996, mostly sport and politics,
  rebuilt as pages (``bench/conll.py``), the prose ones kept (the rest are
  results tables).  The training file's stories are the *tuning* set: rules
  are written looking at their errors (``--errors``).  The development
  file's are *held back*: their errors are never printed, and they say
  whether a change holds on text it was not made for.  Each story's (name,
  type) pairs are compared with the gold, as readers count them: types
  PERSON, ORG and PLACE (spaCy's GPE, LOC and FAC), names without case, a
  leading "the" or a trailing possessive; an entity stored under one name
  with an alias the gold uses ("United Kingdom", alias "Britain") counts
  under that alias (``resolved``); micro P/R/F1 over the stories, per type
  and overall.
- ``tests/fixtures/entities-gold-heldout.json``: 10 news pages of 2019 from
  ten outlets, out of the extraction benchmark (politics, business, sport,
  science, local news), hand-labelled with spaCy's labels under the demo set's
  conventions; scored on exact (name, label) pairs, overall and per type
  (PLACE: GPE, LOC and FAC, each still exact).

Each text is parsed with the model (``load_nlp``: the pipeline production
loads, NER only) as stored and, where the true_case rule changes it, as that
rule gives it to the model (``parse``), then scored as raw spaCy
(``(ent.text, ent.label_)``), as newsflow stores it (``normalise_doc`` with
every rule: what ``extract_entities_with_models`` returns), with no rule at
all, and with every rule but one (ablation: what each rule adds).  A rule
*stays* when what it adds, weighted by each held-out set's gold pairs, is
above zero over the two sets together: a rule whose words never occur in 1996
wire copy (it adds +0.0000 there) is judged by the pages where they do, and a
rule may cost a little on one set only if it gains more on the other.

**The demo set (for context).**  ``tests/fixtures/entities-gold.json`` holds
11 demo articles (``seeds/demo/``), labelled with spaCy's labels; the rules
were written while looking at its errors, so it measures fit, not
generalisation.  The default run shows its figures beside the held-out ones;
``--gold FILE`` runs a hand-labelled set alone, article by article, with the
seed story check (no PERSON of the seed story under a place label; exit 1 if
it fails).

**Where the data goes.**  The CoNLL files and the extraction benchmark are
licensed for research use and never copied into the repository.  Set
``NEWSFLOW_BENCH_DATA`` to a directory holding ``conll2003/`` (``dev.txt``)
and ``extraction-benchmark/`` (``ground-truth.json``), or pass ``--conll DIR``
/ ``--extraction-benchmark DIR``.  Without them the benchmark prints one line,
"skipped: ... not found at ...", and exits 0.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.conll import SPACY_TYPES, TYPES, Story, comparable, read_stories  # noqa: E402
from pipeline.enrich.models import (  # noqa: E402
    EnrichInput, load_nlp, model_for_language, model_text, model_version,
)
from pipeline.enrich.labels import LabelVote, labels_across_articles  # noqa: E402
from pipeline.enrich.normalise import RULES, SKIPPED_LABELS, normalise_doc  # noqa: E402
from bench import benchdata  # noqa: E402

DEMO_GOLD = ROOT / "tests" / "fixtures" / "entities-gold.json"
HELDOUT_GOLD = ROOT / "tests" / "fixtures" / "entities-gold-heldout.json"
DEMO = ROOT / "seeds" / "demo"
SEED_PATH = "freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
PLACE_LABELS = {"GPE", "LOC", "FAC"}
# The spaCy labels each type of the per-type scores counts on a hand-labelled set.
LABELS_OF_TYPE = {"PERSON": {"PERSON"}, "ORG": {"ORG"}, "PLACE": PLACE_LABELS}
BASE_URL = "http://127.0.0.1:48123/"
HALVES = ("tuning", "held-back")
WHERE_TO_PUT_IT = f"{benchdata.WHERE}; --conll DIR / --extraction-benchmark DIR name one set's folder"


# The one rule that reads a set of articles, not one: a thin article's type
# decided by the others (pipeline.enrich.labels), as the store files it.
ACROSS_ARTICLES = "across_articles"
SCORED_RULES = (*RULES, ACROSS_ARTICLES)


class DataMissing(Exception):
    """A data set the benchmark needs is not where it was told to look."""


def data_dir(given: Path | None, name: str, data: str | None = None) -> Path:
    """``given``, else ``<the benchmark data directory>/<name>``."""
    return given if given is not None else benchdata.root(data) / name


def require(path: Path | None, what: str, env_part: str) -> Path:
    """``path`` if it is a file; else DataMissing with the one line to print."""
    if path is not None and path.is_file():
        return path
    where = path if path is not None else env_part
    raise DataMissing(f"skipped: {what} not found at {where}; {WHERE_TO_PUT_IT}")


# ------------------------------------------------------------------ scoring


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": f}


def micro(predicted: Sequence[Collection], gold: Sequence[Collection]) -> dict:
    """Micro P/R/F1 of (predicted, gold) set pairs, one pair per article."""
    tp = fp = fn = 0
    for found, expected in zip(predicted, gold, strict=True):
        found, expected = set(found), set(expected)
        tp, fp, fn = tp + len(found & expected), fp + len(found - expected), fn + len(expected - found)
    return prf(tp, fp, fn)


def by_type(predicted: Sequence[set], gold: Sequence[set],
            labels_of: dict[str, Collection[str]] | None = None) -> dict:
    """Overall and per-type micro scores of (name, type) sets; ``labels_of``
    gives the labels each type counts when the pairs carry spaCy's labels."""
    scores = {"all": micro(predicted, gold)}
    for kind in TYPES:
        labels = labels_of[kind] if labels_of else {kind}
        scores[kind] = micro([{p for p in found if p[1] in labels} for found in predicted],
                             [{g for g in expected if g[1] in labels} for expected in gold])
    return scores


Candidate = tuple[tuple[str, ...], str]  # (the entity's name and aliases, its label)


def resolved(candidates: Collection[Candidate], gold: Collection[tuple[str, str]],
             kind_of: Callable[[str], str | None], name_of: Callable[[str], str] = str) -> set[tuple[str, str]]:
    """(name, type) pairs of one article's entities as scored against its gold
    pairs: an entity stored as "United Kingdom" with the alias "Britain"
    counts as "Britain" where the gold says "Britain" (a reader finds it under
    either); else as its name.  ``kind_of`` gives the type a label scores as
    (None: not scored); ``name_of`` how names compare."""
    pairs = set()
    for names, label in candidates:
        kind = kind_of(label)
        if kind is None:
            continue
        keys = [(name_of(name), kind) for name in names]
        matched = {key for key in keys if key in gold}
        pairs |= matched or {keys[0]}
    return pairs


def conll_type(label: str) -> str | None:
    return SPACY_TYPES.get(label)


def raw_candidates(doc) -> set[Candidate]:
    return {((ent.text,), ent.label_) for ent in doc.ents if ent.label_ not in SKIPPED_LABELS}


def stored_candidates(entities) -> set[Candidate]:
    return {((e.name, *e.aliases), e.label) for e in entities}


def filed_across_articles(per_article: Sequence[Sequence]) -> list[set[Candidate]]:
    """Each article's entities under the label the set of articles decides
    for them (``labels_across_articles``), as the store files them."""
    decided = labels_across_articles(
        LabelVote((i, e.name), e.name, e.label, e.mentions, e.label_by_rule)
        for i, entities in enumerate(per_article) for e in entities)
    return [{((e.name, *e.aliases), decided[(i, e.name)]) for e in entities}
            for i, entities in enumerate(per_article)]


def variants(plain_docs, cased_docs, titles: Sequence[str | None]) -> dict[str, Callable[[], list[set]]]:
    """Each way of reading the parsed documents, by name: raw spaCy, newsflow
    (every rule), no rule, and every rule but one.  ``plain_docs`` are the
    texts as stored, ``cased_docs`` the same with the true_case rule applied
    before the model read them (the one rule that acts on the model's input)."""
    def normalised(disabled: Collection[str]) -> Callable[[], list[set]]:
        docs = plain_docs if "true_case" in disabled else cased_docs
        per_document = set(disabled) - {ACROSS_ARTICLES}

        def found() -> list[set]:
            per_article = [normalise_doc(doc, title, disabled=per_document)
                           for doc, title in zip(docs, titles, strict=True)]
            if ACROSS_ARTICLES in disabled:
                return [stored_candidates(entities) for entities in per_article]
            return filed_across_articles(per_article)
        return found

    found = {"raw": lambda: [raw_candidates(doc) for doc in plain_docs], "newsflow": normalised(()),
             "no rules": normalised(SCORED_RULES)}
    for rule in SCORED_RULES:
        found[f"without {rule}"] = normalised({rule})
    return found


def parse(nlp, items: Sequence[EnrichInput]) -> tuple[list, list]:
    """Each item parsed as stored and as the true_case rule gives it to the model."""
    plain = list(nlp.pipe(model_text(item, true_case=False) for item in items))
    cased_texts = [model_text(item) for item in items]
    # Most texts do not change: parse only those that do.
    changed = [i for i, (doc, text) in enumerate(zip(plain, cased_texts, strict=True)) if doc.text != text]
    cased = list(plain)
    for i, doc in zip(changed, nlp.pipe(cased_texts[i] for i in changed), strict=True):
        cased[i] = doc
    return plain, cased


def names_under_two_types(found: Sequence[Collection[Candidate]]) -> int:
    """Articles in which one name (as the score compares names) is given under
    two types: raw spaCy's entities, or the names newsflow stores."""
    def two(candidates):
        types: dict[str, set] = {}
        for names, label in candidates:
            if (kind := conll_type(label)) is not None:
                types.setdefault(comparable(names[0]), set()).add(kind)
        return any(len(kinds) > 1 for kinds in types.values())
    return sum(1 for candidates in found if two(candidates))


# --------------------------------------------------------------- CoNLL-2003


def conll_sets(dev: Path, train: Path | None) -> tuple[dict[str, list[Story]], dict]:
    """The prose stories of each set: the training file's tune the rules, the
    development file's are held back and judge them."""
    counts = {}
    sets: dict[str, list[Story]] = {}
    for name, path in (("tuning", train), ("held-back", dev)):
        if path is None:
            continue
        stories = read_stories(path)
        sets[name] = [story for story in stories if story.prose]
        counts[name] = {"file": path.name, "stories": len(stories), "prose_stories": len(sets[name])}
    return sets, counts


def run_conll(dev: Path, train: Path | None, nlp) -> dict:
    sets, counts = conll_sets(dev, train)
    report: dict = {"data": str(dev.parent), "sets": counts, "halves": {}}
    seconds = 0.0
    for half, members in sets.items():
        items = [EnrichInput(story.title, story.text, "en") for story in members]
        started = time.perf_counter()
        plain, cased = parse(nlp, items)
        seconds += time.perf_counter() - started
        gold = [{(comparable(name), kind) for name, kind in story.gold} for story in members]
        scored = {}
        predicted_by_variant = {}
        two_types = {}
        for name, predict in variants(plain, cased, [item.title for item in items]).items():
            found = predict()
            predicted = [resolved(candidates, expected, conll_type, comparable)
                         for candidates, expected in zip(found, gold, strict=True)]
            predicted_by_variant[name] = predicted
            scored[name] = by_type(predicted, gold)
            if name in ("raw", "newsflow"):
                two_types[name] = names_under_two_types(found)
        report["halves"][half] = {
            "stories": [story.index for story in members],
            "gold_pairs": sum(len(g) for g in gold),
            "scores": scored,
            "names_under_two_types": two_types,
            "errors": [
                {"story": story.index, "title": story.title,
                 "missed": sorted(expected - found), "false": sorted(found - expected)}
                for story, found, expected in zip(members, predicted_by_variant["newsflow"], gold, strict=True)
            ] if half == "tuning" else [],
        }
    report["ner_seconds"] = round(seconds, 2)
    return report


# ----------------------------------------------------- hand-labelled sets


def load_gold(path: Path, extraction_dir: Path | None) -> list[dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    truth = None
    articles = []
    for article in data["articles"]:
        if "key" in article:
            # A held-out article: the ground-truth body of the extraction benchmark.
            if truth is None:
                ground_truth = require(extraction_dir / "ground-truth.json" if extraction_dir else None,
                                       "the extraction benchmark", "extraction-benchmark/ground-truth.json")
                truth = json.loads(ground_truth.read_text(encoding="utf-8"))
            body = truth[article["key"]]["articleBody"]
            if hashlib.sha256(body.encode("utf-8")).hexdigest() != article["sha256"]:
                raise SystemExit(f"{extraction_dir}: the body of {article['key']} is not the one labelled")
            item = EnrichInput(None, body, "en")
            ident = article["key"]
            slug = max(article["url"].split("?")[0].split("/")[3:], key=len)  # the URL's headline words
            name = f"{article['topic']} {article['key'][:8]} {slug[:40]}"
        else:
            from pipeline.process import extract_page

            cleaned = extract_page((DEMO / article["path"]).read_bytes(), BASE_URL + article["path"])
            item = EnrichInput(cleaned.title, cleaned.text, "en")
            ident = article["path"]
            name = article["path"].rsplit("/", 1)[-1].removesuffix(".html")
        articles.append({"path": ident, "name": name, "input": item,
                         "gold": {(e["name"], e["label"]) for e in article["entities"]}})
    return articles


def run_gold(gold_path: Path, nlp, extraction_dir: Path | None) -> dict:
    """A hand-labelled set: exact (name, spaCy label) pairs, article by article."""
    articles = load_gold(gold_path, extraction_dir)
    plain, cased = parse(nlp, [a["input"] for a in articles])
    gold = [a["gold"] for a in articles]
    predicted = {
        name: [resolved(found, expected, lambda label: None if label in SKIPPED_LABELS else label)
               for found, expected in zip(predict(), gold, strict=True)]
        for name, predict in variants(plain, cased, [a["input"].title for a in articles]).items()}
    report = {
        "gold": str(gold_path.relative_to(ROOT) if gold_path.is_relative_to(ROOT) else gold_path),
        "articles": len(articles),
        "gold_pairs": sum(len(g) for g in gold),
        "scores": {name: micro(found, gold) for name, found in predicted.items()},
        "by_type": {name: by_type(found, gold, LABELS_OF_TYPE) for name, found in predicted.items()},
        "per_article": [
            {"name": a["name"], "gold": len(g), "raw": micro([r], [g]), "newsflow": micro([n], [g]),
             "missed": sorted(g - n), "false": sorted(n - g)}
            for a, r, n, g in zip(articles, predicted["raw"], predicted["newsflow"], gold, strict=True)
        ],
    }
    paths = [a["path"] for a in articles]
    if SEED_PATH in paths:
        index = paths.index(SEED_PATH)
        people = {name for name, label in gold[index] if label == "PERSON"}
        surnames = {name.split()[-1] for name in people}
        report["seed_people_under_place_labels"] = sorted(
            (name, label) for name, label in predicted["newsflow"][index]
            if label in PLACE_LABELS and (name in people or name in surnames))
    return report


# ------------------------------------------------------------------ output


def _f(value: float) -> str:
    return f"{value:.3f}"


def _delta(value: float) -> str:
    return f"{value:+.4f}"


def adds(scores: dict, rule: str, kind: str = "all") -> float:
    """The F1 a rule adds: every rule's F1 minus every rule but this one's."""
    return scores["newsflow"][kind]["f1"] - scores[f"without {rule}"][kind]["f1"]


def gold_adds(gold_set: dict, rule: str) -> float:
    """The F1 a rule adds on a hand-labelled set."""
    return gold_set["scores"]["newsflow"]["f1"] - gold_set["scores"][f"without {rule}"]["f1"]


def held_out(report: dict) -> dict[str, tuple[int, Callable[[str], float]]]:
    """Each held-out set: its gold pairs and what a rule adds on it."""
    conll = report["conll"]["halves"]["held-back"]
    pages = report["heldout_pages"]
    return {"CoNLL held-back": (conll["gold_pairs"], lambda rule: adds(conll["scores"], rule)),
            "held-out pages": (pages["gold_pairs"], lambda rule: gold_adds(pages, rule))}


def net_adds(report: dict, rule: str) -> float:
    """What a rule adds over the held-out sets together, each weighted by its gold pairs."""
    sets = held_out(report).values()
    return sum(pairs * added(rule) for pairs, added in sets) / sum(pairs for pairs, _ in sets)


def verdicts(report: dict) -> dict[str, str]:
    """A rule stays while it adds something over the two held-out sets together."""
    return {rule: "keep" if net_adds(report, rule) > 0 else "adds nothing" for rule in SCORED_RULES}


def conll_markdown(report: dict) -> list[str]:
    conll = report["conll"]
    halves = conll["halves"]
    lines = ["CoNLL-2003: "
             + ", ".join(f"{half} = `{c['file']}`, {c['prose_stories']} prose stories of {c['stories']}, "
                         f"{halves[half]['gold_pairs']} gold pairs" for half, c in conll["sets"].items())
             + f"; model `{report['model']}` ({report['model_version']}), NER {conll['ner_seconds']} s.", ""]
    lines += ["| half | type | raw P | raw R | raw F1 | newsflow P | newsflow R | newsflow F1 | F1 gain |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for half, h in halves.items():
        for kind in ("all", *TYPES):
            raw, ours = h["scores"]["raw"][kind], h["scores"]["newsflow"][kind]
            lines.append(f"| {half} | {kind} | {_f(raw['precision'])} | {_f(raw['recall'])} | {_f(raw['f1'])} | "
                         f"{_f(ours['precision'])} | {_f(ours['recall'])} | {_f(ours['f1'])} | "
                         f"{ours['f1'] - raw['f1']:+.3f} |")
    lines += ["", "No rule at all (numbers skipped, names cleaned, one label per name): F1 "
              + ", ".join(f"{half} {_f(h['scores']['no rules']['all']['f1'])}" for half, h in halves.items()) + ".",
              "Articles holding one name under two types: "
              + ", ".join(f"{half} raw {h['names_under_two_types']['raw']}, newsflow "
                          f"{h['names_under_two_types']['newsflow']}" for half, h in halves.items()) + "."]
    return lines


def ablation_markdown(report: dict) -> list[str]:
    held_back = report["conll"]["halves"]["held-back"]["scores"]
    tuning = report["conll"]["halves"].get("tuning", {}).get("scores")
    pages = report["heldout_pages"]
    demo = report.get("demo")
    verdict = verdicts(report)
    sets = held_out(report)
    lines = ["F1 each rule adds (every rule minus every rule but that one) on the two held-out sets, "
             "and over both weighted by their gold pairs ("
             + ", ".join(f"{name} {pairs}" for name, (pairs, _) in sets.items())
             + "); a rule stays while that is above zero:", "",
             "| rule | CoNLL held-back | held-out pages | both, weighted | CoNLL PERSON | CoNLL ORG | CoNLL PLACE "
             "| CoNLL tuning | demo set | verdict |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for rule in SCORED_RULES:
        demo_delta = _delta(gold_adds(demo, rule)) if demo else "n/a"
        lines.append(f"| {rule} | {_delta(adds(held_back, rule))} | {_delta(gold_adds(pages, rule))} | "
                     f"{_delta(net_adds(report, rule))} | "
                     + " | ".join(_delta(adds(held_back, rule, kind)) for kind in TYPES)
                     + f" | {_delta(adds(tuning, rule)) if tuning else 'n/a'} | {demo_delta} | {verdict[rule]} |")
    return lines


def pages_markdown(pages: dict) -> list[str]:
    """Raw spaCy against newsflow on the held-out pages, overall and per type."""
    lines = [f"Held-out pages `{pages['gold']}` ({pages['articles']} articles of the extraction benchmark, "
             f"{pages['gold_pairs']} pairs, exact spaCy labels; PLACE counts GPE, LOC and FAC):", "",
             "| type | raw P | raw R | raw F1 | newsflow P | newsflow R | newsflow F1 | F1 gain |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for kind in ("all", *TYPES):
        raw, ours = pages["by_type"]["raw"][kind], pages["by_type"]["newsflow"][kind]
        lines.append(f"| {kind} | {_f(raw['precision'])} | {_f(raw['recall'])} | {_f(raw['f1'])} | "
                     f"{_f(ours['precision'])} | {_f(ours['recall'])} | {_f(ours['f1'])} | "
                     f"{ours['f1'] - raw['f1']:+.3f} |")
    lines += ["", f"No rule at all: F1 {_f(pages['scores']['no rules']['f1'])}."]
    return lines


def demo_markdown(demo: dict) -> list[str]:
    raw, ours, none = (demo["scores"][name] for name in ("raw", "newsflow", "no rules"))
    lines = [f"Gold set `{demo['gold']}` ({demo['articles']} articles, {demo['gold_pairs']} pairs, "
             "exact spaCy labels): micro P / R / F1 raw "
             f"{_f(raw['precision'])} / {_f(raw['recall'])} / {_f(raw['f1'])}, newsflow "
             f"{_f(ours['precision'])} / {_f(ours['recall'])} / {_f(ours['f1'])}, no rule {_f(none['f1'])}."]
    seed = demo.get("seed_people_under_place_labels")
    if seed is not None:
        lines.append("Seed story: " + ("no PERSON stored under a place label." if not seed
                                       else f"PEOPLE UNDER PLACE LABELS: {seed}"))
    return lines


def gold_markdown(demo: dict) -> list[str]:
    lines = ["| article | gold | raw P | raw R | raw F1 | newsflow P | newsflow R | newsflow F1 |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for a in demo["per_article"]:
        r, n = a["raw"], a["newsflow"]
        lines.append(f"| {a['name']} | {a['gold']} | {r['precision']:.2f} | {r['recall']:.2f} | {r['f1']:.2f} | "
                     f"{n['precision']:.2f} | {n['recall']:.2f} | {n['f1']:.2f} |")
    lines += ["", *demo_markdown(demo), "", "| rule | micro F1 without | F1 it adds |", "|---|---:|---:|"]
    for rule in SCORED_RULES:
        without = demo["scores"][f"without {rule}"]["f1"]
        lines.append(f"| {rule} | {_f(without)} | {_delta(demo['scores']['newsflow']['f1'] - without)} |")
    lines += ["", "Remaining errors:", ""]
    lines += [f"- `{a['name']}`: missed {a['missed']}; false {a['false']}"
              for a in demo["per_article"] if a["missed"] or a["false"]]
    return lines


def errors_markdown(report: dict) -> list[str]:
    # The tuning set only: reading the held-back set's errors would make it a second tuning set.
    lines = ["Remaining errors on the tuning set:", ""]
    for e in report["conll"]["halves"].get("tuning", {}).get("errors", []):
        if e["missed"] or e["false"]:
            lines.append(f"- {e['story']} `{e['title'][:60]}`: missed {e['missed']}; false {e['false']}")
    return lines


# -------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=f"Data: {WHERE_TO_PUT_IT}. The files are for research use: keep them outside the repository.")
    parser.add_argument("--conll", type=Path, metavar="DIR",
                        help=f"directory holding the CoNLL-2003 dev.txt (default: DATA/conll2003)")
    parser.add_argument("--extraction-benchmark", type=Path, metavar="DIR",
                        help=f"directory holding the extraction benchmark's ground-truth.json, whose pages "
                             f"tests/fixtures/entities-gold-heldout.json labels (default: DATA/extraction-benchmark)")
    benchdata.add_option(parser)
    parser.add_argument("--gold", type=Path, help="run a hand-labelled gold set alone, article by article")
    parser.add_argument("--model", default=None, help="spaCy model (default: the one NEWSFLOW_NER_MODELS gives English)")
    parser.add_argument("--json", type=Path, help="write the report as JSON to this file")
    parser.add_argument("--errors", action="store_true", help="list the remaining errors on the tuning set")
    parser.add_argument("--no-tuning", action="store_true",
                        help="score the held-back set only (skip the training file: minutes of NER)")
    args = parser.parse_args(argv)

    conll_dir = data_dir(args.conll, "conll2003", args.data)
    extraction_dir = data_dir(args.extraction_benchmark, benchdata.EXTRACTION_BENCHMARK, args.data)
    try:
        # Before the model loads: a missing data set costs one line, not seconds.
        if args.gold is None:
            dev = require(conll_dir / "dev.txt" if conll_dir else None, "CoNLL-2003 development set",
                          "conll2003/dev.txt")
            require(extraction_dir / "ground-truth.json" if extraction_dir else None,
                    "the extraction benchmark", "extraction-benchmark/ground-truth.json")
        elif any("key" in a for a in json.loads(args.gold.read_text(encoding="utf-8"))["articles"]):
            require(extraction_dir / "ground-truth.json" if extraction_dir else None,
                    "the extraction benchmark", "extraction-benchmark/ground-truth.json")
    except DataMissing as missing:
        print(missing)
        return 0

    model = args.model
    if model is None:
        from pipeline.config import Settings

        # Every set here is English: the model NEWSFLOW_NER_MODELS gives English.
        model = model_for_language(Settings().ner_models, "en")
        if model is None:
            parser.error("NEWSFLOW_NER_MODELS has no model for English; pass --model")
    nlp = load_nlp(model)
    report: dict = {"model": model, "model_version": model_version(nlp), "rules": list(SCORED_RULES)}
    if args.gold is not None:
        report["gold_set"] = run_gold(args.gold, nlp, extraction_dir)
        lines = gold_markdown(report["gold_set"])
    else:
        train = dev.with_name("train.txt")
        report["conll"] = run_conll(dev, None if args.no_tuning or not train.is_file() else train, nlp)
        report["heldout_pages"] = run_gold(HELDOUT_GOLD, nlp, extraction_dir)
        report["demo"] = run_gold(DEMO_GOLD, nlp, extraction_dir)
        report["net_adds"] = {rule: net_adds(report, rule) for rule in SCORED_RULES}
        report["verdicts"] = verdicts(report)
        lines = [*conll_markdown(report), "", *pages_markdown(report["heldout_pages"]), "",
                 *demo_markdown(report["demo"]), "", *ablation_markdown(report)]
        if args.errors:
            lines += ["", *errors_markdown(report)]
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(report, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    checked = report.get("demo") or report["gold_set"]
    if checked.get("seed_people_under_place_labels"):
        print("a PERSON of the seed story is stored under a place label", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
