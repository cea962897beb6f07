"""bench/conll.py and bench/entities.py without the licensed data: stories
rebuilt from a CoNLL file written here, scored as readers count names, and a
clean one-line skip when the data is not there."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The benchmarks are scripts, not part of the installed package: import them
# from the checkout whichever way pytest was started.
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import benchdata, conll  # noqa: E402
from bench import entities as bench  # noqa: E402

# Made up for this test, one sentence a line, "token/LABEL" where the label is
# not O: a prose story with a byline, a results table whose dateline is cut
# in two, and a second prose story.
SENTENCES = """\
MINISTER MEETS ANNAN/B-PER IN GENEVA/B-LOC .
Jane/B-PER Reporter/I-PER
GENEVA/B-LOC 1996-08-30
The minister held a long meeting with Kofi/B-PER Annan/I-PER of the World/B-ORG Health/I-ORG Organization/I-ORG in Geneva/B-LOC on Friday .
Annan/B-PER said the Swiss/B-MISC talks would go on for a week in the city , and his wife agreed .
SOCCER - SWISS/B-MISC RESULTS .
ZURICH/B-LOC , Switzerland/B-LOC .
1996-08-31
Grasshoppers/B-ORG 2 Basel/B-ORG 1
Lugano/B-ORG 0 Sion/B-ORG 0
Kohl speaks in Bonn/B-LOC .
BONN/B-LOC 1996-09-01
The German/B-MISC government said it did n't know what Helmut/B-PER Kohl/I-PER and Hannelore/B-PER Kohl/I-PER wanted from Kohl/B-PER 's party .
"""


@pytest.fixture
def dev(tmp_path: Path) -> Path:
    lines = ["-DOCSTART- O", ""]
    for sentence in SENTENCES.splitlines():
        for word in sentence.split():
            token, _, label = word.partition("/")
            lines.append(f"{token} {label or 'O'}")
        lines.append("")
    path = tmp_path / "conll2003" / "dev.txt"
    path.parent.mkdir()
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def test_stories_are_cut_at_their_headlines_and_rebuilt_as_pages(dev):
    first, table, second = conll.read_stories(dev)
    assert first.title == "MINISTER MEETS ANNAN IN GENEVA."
    # The dateline leads the first paragraph; the byline is not in the text.
    assert first.text.startswith("GENEVA 1996-08-30 - The minister held a long meeting with Kofi Annan of")
    assert first.text.endswith("\nAnnan said the Swiss talks would go on for a week in the city, and his wife agreed.")
    assert "Reporter" not in first.text
    assert table.text.startswith("ZURICH, Switzerland. 1996-08-31 - Grasshoppers 2 Basel 1\nLugano")
    assert second.text.endswith("The German government said it didn't know what Helmut Kohl and Hannelore Kohl "
                                "wanted from Kohl's party.")
    assert [story.index for story in (first, table, second)] == [0, 1, 2]


def test_only_stories_of_running_text_are_prose(dev):
    assert [story.prose for story in conll.read_stories(dev)] == [True, False, True]


def test_gold_pairs_fold_a_surname_into_its_one_full_name_and_leave_misc_out(dev):
    first, table, second = conll.read_stories(dev)
    # "ANNAN" (headline, capitals) and "Annan" count as Kofi Annan; the byline's name is not counted.
    assert first.gold == {("Kofi Annan", "PERSON"), ("World Health Organization", "ORG"), ("GENEVA", "PLACE"),
                          ("Geneva", "PLACE")}
    assert ("Switzerland", "PLACE") in table.gold and ("Basel", "ORG") in table.gold
    # Two Kohls in the story: the surname alone stays itself.
    assert {name for name, kind in second.gold if kind == "PERSON"} == {"Helmut Kohl", "Hannelore Kohl", "Kohl"}


@pytest.mark.parametrize(
    ("name", "expected"),
    [("The United States", "united states"), ("Annan's", "annan"), ("Reuters’", "reuters"),
     ("  Kofi   Annan ", "kofi annan"), ("Theodore", "theodore")],
)
def test_names_compare_without_case_leading_the_or_possessive(name, expected):
    assert conll.comparable(name) == expected


def test_scores_per_type_map_spacy_labels_to_three_types():
    gold = [{("geneva", "PLACE"), ("kofi annan", "PERSON"), ("alps", "PLACE")}]
    found = {(("Geneva",), "GPE"), (("Annan",), "PERSON"), (("Swiss",), "NORP"), (("the Alps",), "LOC")}
    predicted = [bench.resolved(found, gold[0], bench.conll_type, conll.comparable)]
    scores = bench.by_type(predicted, gold)
    assert (scores["all"]["tp"], scores["all"]["fp"], scores["all"]["fn"]) == (2, 1, 1)
    assert scores["PLACE"]["f1"] == 1.0 and scores["PERSON"]["f1"] == 0.0
    assert scores["ORG"] == {"tp": 0, "fp": 0, "fn": 0, "precision": 1.0, "recall": 1.0, "f1": 1.0}


def test_an_entity_counts_under_the_alias_the_gold_uses_else_under_its_name():
    gold = {("britain", "PLACE"), ("u.n.", "ORG")}
    found = {(("United Kingdom", "Britain", "UK"), "GPE"), (("United Nations", "UN"), "ORG"), (("Iraq",), "GPE")}
    assert bench.resolved(found, gold, bench.conll_type, conll.comparable) == {
        ("britain", "PLACE"), ("united nations", "ORG"), ("iraq", "PLACE")}


def test_a_name_under_two_types_in_one_article_is_counted():
    one_each = [{(("Liverpool",), "GPE"), (("Everton",), "ORG")}]
    twice = [{(("Liverpool",), "GPE"), (("liverpool",), "ORG")}, {(("Iraq",), "GPE")}]
    assert bench.names_under_two_types(one_each) == 0
    assert bench.names_under_two_types(twice) == 1


def test_without_the_data_the_benchmark_says_where_to_put_it_and_exits_0(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(benchdata.ENV, raising=False)
    assert bench.main([]) == 0
    unset = capsys.readouterr().out
    monkeypatch.setenv(benchdata.ENV, str(tmp_path))
    assert bench.main([]) == 0
    empty = capsys.readouterr().out
    assert bench.main(["--gold", str(Path(__file__).parent / "fixtures" / "entities-gold-heldout.json")]) == 0
    no_extraction = capsys.readouterr().out
    for out in (unset, empty, no_extraction):
        assert out.startswith("skipped: ") and out.count("\n") == 1 and benchdata.ENV in out
    assert f"not found at {tmp_path / 'conll2003' / 'dev.txt'};" in empty
    assert f"not found at {tmp_path / 'extraction-benchmark' / 'ground-truth.json'};" in no_extraction


def test_the_default_run_needs_both_held_out_sets_and_skips_in_one_line_without_the_pages(
        tmp_path, monkeypatch, capsys, dev):
    monkeypatch.setenv(benchdata.ENV, str(tmp_path))
    assert bench.main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("skipped: the extraction benchmark not found at ") and out.count("\n") == 1
    assert str(tmp_path / "extraction-benchmark" / "ground-truth.json") in out


def scores(f1: float) -> dict:
    return {"f1": f1}


def test_a_rule_is_judged_on_both_held_out_sets_weighted_by_their_gold_pairs(monkeypatch):
    # CoNLL: 800 gold pairs; the pages: 200.  "quiet" never fires on either;
    # "pages" adds 0.02 on the pages and costs 0.004 on CoNLL (net +0.0008);
    # "costly" adds 0.02 on the pages and costs 0.006 on CoNLL (net -0.0008).
    conll = {"newsflow": {"all": scores(0.70)}, "without quiet": {"all": scores(0.70)},
             "without pages": {"all": scores(0.704)}, "without costly": {"all": scores(0.706)}}
    pages = {"newsflow": scores(0.75), "without quiet": scores(0.75), "without pages": scores(0.73),
             "without costly": scores(0.73)}
    report = {"conll": {"halves": {"held-back": {"gold_pairs": 800, "scores": conll}}},
              "heldout_pages": {"gold_pairs": 200, "scores": pages}}
    assert bench.net_adds(report, "quiet") == 0.0
    assert bench.net_adds(report, "pages") == pytest.approx(0.0008)
    assert bench.net_adds(report, "costly") == pytest.approx(-0.0008)
    monkeypatch.setattr(bench, "SCORED_RULES", ("quiet", "pages", "costly"))
    assert bench.verdicts(report) == {"quiet": "adds nothing", "pages": "keep", "costly": "adds nothing"}


def test_the_data_directory_comes_from_the_option_before_the_environment(tmp_path, monkeypatch, dev):
    monkeypatch.setenv(benchdata.ENV, str(tmp_path / "elsewhere"))
    assert bench.data_dir(dev.parent, "conll2003") == dev.parent
    assert bench.data_dir(None, "conll2003") == tmp_path / "elsewhere" / "conll2003"
