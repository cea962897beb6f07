"""Unit tests for pipeline.clean: title suffixes, wire datelines, boilerplate lines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.records import ArticleRecord
from pipeline.clean import (
    BOILERPLATE_LINES,
    TRAILER_HEADINGS,
    CleanedArticle,
    clean_article,
    clean_title,
    split_dateline,
    strip_boilerplate,
)
from pipeline.extract import ExtractedArticle, extract_article
from tests.conftest import SEED_DOCUMENT, SEED_PAGE

FIXTURES = Path(__file__).parent / "fixtures"
SEED_URL = "http://127.0.0.1:8000/freepress/2021/03/18/gleam-china-must-influence-north-korea.html"
SEED_TITLE = "Gleam: China must influence North Korea"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------- titles


@pytest.mark.parametrize(
    ("title", "site_name", "expected"),
    [
        pytest.param(f"{SEED_TITLE} | Free press", "Free press", SEED_TITLE, id="pipe-suffix-matching-site"),
        pytest.param(f"{SEED_TITLE} | Free press", None, SEED_TITLE, id="pipe-short-suffix-without-site"),
        pytest.param(f"{SEED_TITLE} | FREE PRESS", "Free press", SEED_TITLE, id="pipe-suffix-other-case"),
        pytest.param(f"Free press | {SEED_TITLE}", "Free press", SEED_TITLE, id="site-prefix"),
        pytest.param(
            "Blinken urges Beijing to use its influence on North Korea - The Daily Courier",
            "The Daily Courier",
            "Blinken urges Beijing to use its influence on North Korea",
            id="dash-suffix-matching-site",
        ),
        pytest.param(
            "Blinken urges Beijing to use its influence on North Korea – TheDailyCourier",
            "The Daily Courier",
            "Blinken urges Beijing to use its influence on North Korea",
            id="en-dash-suffix-matching-site-without-spaces",
        ),
        pytest.param("Ferry timetable changes - example.com", None, "Ferry timetable changes", id="domain-suffix"),
        pytest.param(
            "Ferry timetable changes – www.harbour-gazette.co.uk", "Harbour Gazette", "Ferry timetable changes",
            id="www-domain-suffix",
        ),
        pytest.param(
            "Schools reopen after storm | Local | Harbour Gazette", "Harbour Gazette", "Schools reopen after storm",
            id="section-and-site-suffix",
        ),
        pytest.param("  Ferry   timetable\nchanges  ", None, "Ferry timetable changes", id="whitespace-folded"),
    ],
)
def test_clean_title_drops_site_name_at_the_edge(title, site_name, expected):
    assert clean_title(title, site_name) == expected


@pytest.mark.parametrize(
    ("title", "site_name"),
    [
        pytest.param(
            "Blinken urges Beijing to use its influence on North Korea - The Daily Courier", None,
            id="dash-suffix-without-site-name",
        ),
        pytest.param(
            "Blinken urges Beijing to use its influence on North Korea - The Daily Courier", "Harbour Gazette",
            id="dash-suffix-of-another-site",
        ),
        pytest.param("Leeds - Bradford rail link delayed again", "Metro Wire", id="dash-between-places"),
        pytest.param("Mayor says budget - not taxes - is the issue", "Metro Wire", id="dash-aside"),
        pytest.param("Cup final: Athletic 2 - 1 Dynamo", "Free press", id="score"),
        pytest.param("Free press", "Free press", id="title-is-the-site-name"),
    ],
)
def test_clean_title_keeps_a_title_whose_dash_is_not_a_site_name(title, site_name):
    assert clean_title(title, site_name) == title


def test_clean_title_passes_none_and_empty_through():
    assert clean_title(None, "Free press") is None
    assert clean_title("", "Free press") == ""


_TITLE_PIECES = st.one_of(
    st.text(max_size=8),
    st.sampled_from([" | ", " - ", " – ", " — ", " :: ", "|", "-", "example.com", "www.x.de", "Free press", "  "]),
)


@settings(max_examples=200, deadline=None)
@given(
    title=st.one_of(st.text(max_size=40), st.lists(_TITLE_PIECES, max_size=8).map("".join)),
    site_name=st.one_of(st.none(), st.just("Free press"), st.text(max_size=10)),
)
def test_clean_title_never_returns_empty_for_a_non_empty_title(title, site_name):
    result = clean_title(title, site_name)
    if title.strip():
        assert result
        # Only edges are cut: what is left is a piece of the (space-folded) title.
        assert result in " ".join(title.split())


# ------------------------------------------------------------------- datelines


@pytest.mark.parametrize(
    ("fixture", "dateline", "agency", "first_words"),
    [
        ("text-wire-dateline-reuters.txt", "BRUSSELS", "reuters", "European Union transport"),
        ("text-wire-dateline-afp-with-date.txt", "Paris, March 18, 2021", "afp", "The Louvre will"),
        ("text-wire-dateline-ap-uppercase-place.txt", "LONDON", None, "The operator of"),
        ("text-wire-dateline-dpa-regional.txt", "Düsseldorf", "dpa", "The closure of"),
    ],
)
def test_split_dateline_separates_wire_dateline_from_first_paragraph(fixture, dateline, agency, first_words):
    text = fixture_text(fixture)
    found, found_agency, rest = split_dateline(text)
    assert (found, found_agency) == (dateline, agency)
    assert rest.startswith(first_words)
    # Only the start of the first line changes.
    assert rest.splitlines()[1:] == text.splitlines()[1:]


@pytest.mark.parametrize(
    ("text", "dateline", "agency", "rest"),
    [
        pytest.param(
            "Seoul / Pyongyang (dpa) – US Secretary of State Antony Blinken has called on China.",
            "Seoul / Pyongyang", "dpa", "US Secretary of State Antony Blinken has called on China.",
            id="dpa-two-places-en-dash",
        ),
        pytest.param(
            "Seoul (dpa) - US Secretary of State Antony Blinken has called on China.",
            "Seoul", "dpa", "US Secretary of State Antony Blinken has called on China.",
            id="dpa-hyphen",
        ),
        pytest.param(
            "WASHINGTON (Reuters) - The Federal Reserve held rates.",
            "WASHINGTON", "reuters", "The Federal Reserve held rates.", id="reuters",
        ),
        pytest.param(
            "Berlin, 18 March (AFP) — Ministers met on Thursday.",
            "Berlin, 18 March", "afp", "Ministers met on Thursday.", id="afp-day-month",
        ),
        pytest.param(
            "NEW YORK — Stocks rose on Thursday.", "NEW YORK", None, "Stocks rose on Thursday.",
            id="upper-case-two-word-place",
        ),
        pytest.param(
            "Frankfurt am Main (dpa) - Die Börse schloss fester.",
            "Frankfurt am Main", "dpa", "Die Börse schloss fester.", id="place-with-particle",
        ),
    ],
)
def test_split_dateline_on_known_wire_forms(text, dateline, agency, rest):
    assert split_dateline(text) == (dateline, agency, rest)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("Some people (many) - said the new timetable was better.", id="parenthesis-not-agency"),
        pytest.param("The council met on Tuesday - and decided nothing.", id="ordinary-sentence-with-dash"),
        pytest.param("the mayor - who spoke first - said the vote would be repeated.", id="lowercase-start"),
        pytest.param("Today - the council said no to the plan.", id="mixed-case-word-without-agency"),
        pytest.param("Kim Jong-un - the leader - spoke at the congress.", id="hyphenated-name"),
        pytest.param("US officials (unnamed) - said nothing about the talks.", id="lowercase-words-in-place"),
        pytest.param("The council said the depot - empty since 1998 - would be sold.", id="dash-later-in-sentence"),
        pytest.param("Traders welcomed the decision on Tuesday.", id="no-dash"),
        pytest.param("(dpa) - Stocks rose.", id="agency-without-place"),
    ],
)
def test_split_dateline_leaves_text_without_a_dateline_alone(text):
    assert split_dateline(text) == (None, None, text)


# Text that made a pattern backtrack for hours: a dateline "place" of 16
# segments took 3.6 s, growing ~n^7; a source line's long word was cut into
# six pieces every way.  Run in a child process: a regex holds the GIL, so no
# thread could time it out.
BODY_LINE = "The fish market on the east quay reopened on Thursday after a three-month renovation."
PATHOLOGICAL_TEXTS = {
    "dateline": ("split_dateline", "A" + ".a" * 59 + " said the minister on Tuesday.\n" + BODY_LINE),
    "source-line": ("strip_boilerplate", BODY_LINE + "\nSource: " + "x" * 200 + " and seven more words after it here."),
}
HANG_GUARD_SECONDS = 60  # the patterns take milliseconds now; before, hours


@pytest.mark.parametrize("name", sorted(PATHOLOGICAL_TEXTS))
def test_pathological_text_is_cleaned_without_hanging(name):
    import json
    import subprocess
    import sys

    function, text = PATHOLOGICAL_TEXTS[name]
    script = f"import json, sys; from pipeline.clean import {function}; print(json.dumps({function}(sys.stdin.read())))"
    done = subprocess.run(
        [sys.executable, "-c", script], input=text, capture_output=True, text=True,
        timeout=HANG_GUARD_SECONDS, cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    # Neither is what it looked like at first: the text is left as it was.
    expected = [None, None, text] if function == "split_dateline" else text
    assert json.loads(done.stdout) == expected


# ----------------------------------------------------------------- boilerplate


def test_strip_boilerplate_removes_english_furniture_lines_and_keeps_sentences():
    text = fixture_text("text-boilerplate-english.txt")
    assert strip_boilerplate(text).splitlines() == [
        "The city council approved a plan on Tuesday to turn the disused tram depot on Mill Street "
        "into a market hall with space for forty traders.",
        "Work on the building, which has stood empty since the last trams ran in 1998, is expected "
        "to start in the summer and take about eighteen months.",
        "Councillors said the market would be run by a cooperative of local traders rather than by a "
        "private operator, and that rents would be capped for the first five years.",
        "The opposition said the plan did not say who would pay for the new roof, and asked the council "
        "to share the cost estimate with residents before any contract is signed.",
        "Readers who want to read more about the plan can find the full report on the council's website, "
        "where comments are open until the end of April.",
    ]


@pytest.mark.parametrize(
    ("fixture", "furniture", "sentence_with_the_same_words"),
    [
        (
            "text-boilerplate-german.txt",
            ["Artikel teilen", "Drucken", "Anzeige", "Lesen Sie auch", "Nach oben", "Alle Rechte vorbehalten"],
            "lesen Sie auch die Stellungnahme der Opposition, die nach oben offene Kosten befürchtet.",
        ),
        (
            "text-boilerplate-french.txt",
            ["Partager", "Publicité", "À lire aussi", "Retour en haut", "Tous droits réservés"],
            "de partager l'estimation des coûts avec les habitants ; à lire aussi, le rapport complet",
        ),
        (
            "text-boilerplate-spanish.txt",
            ["Compartir", "Publicidad", "Lee también", "Volver arriba", "Todos los derechos reservados"],
            "pidió compartir con los vecinos la estimación de costes antes de firmar cualquier contrato; lee también",
        ),
    ],
    ids=["german", "french", "spanish"],
)
def test_strip_boilerplate_removes_whole_furniture_lines_in_other_languages(
    fixture, furniture, sentence_with_the_same_words
):
    lines = fixture_text(fixture).splitlines()
    assert set(furniture) <= set(lines)  # the fixture really has them
    out = strip_boilerplate("\n".join(lines))
    assert out.splitlines() == [line for line in lines if line not in furniture]
    assert sentence_with_the_same_words in out


def test_strip_boilerplate_cuts_related_articles_heading_and_short_link_headlines_at_the_end():
    out = strip_boilerplate(fixture_text("text-related-articles-link-trailer.txt"))
    assert out.splitlines()[-1] == (
        "The harbour authority said the market would open from six in the morning until two in the "
        "afternoon, Tuesday to Saturday."
    )
    assert len(out.splitlines()) == 3
    for gone in ("Related Articles", "Ferry timetable changes from Monday", "Back to top button"):
        assert gone not in out


def test_strip_boilerplate_does_not_cut_long_paragraphs_after_a_related_articles_heading():
    lines = fixture_text("text-related-articles-then-long-paragraphs.txt").splitlines()
    assert lines[1] == "Related Articles"
    out = strip_boilerplate("\n".join(lines))
    assert out.splitlines() == [lines[0], lines[2], lines[3]]


def test_strip_boilerplate_keeps_short_lines_after_a_trailer_heading_that_is_the_first_line():
    # A heading at index 0 opens no trailer: only the heading line itself goes.
    out = strip_boilerplate("Related Articles\nFerry timetable changes\nFish market reopens")
    assert out == "Ferry timetable changes\nFish market reopens"


def test_strip_boilerplate_drops_a_heading_repeated_as_the_first_line():
    text = fixture_text("text-heading-repeated-first-line.txt")
    assert text.splitlines()[0] == "Fish market reopens after renovation"
    for title in ("Fish market reopens after renovation", "FISH MARKET REOPENS AFTER RENOVATION!"):
        assert strip_boilerplate(text, title).splitlines() == text.splitlines()[1:]


def test_strip_boilerplate_keeps_the_first_line_when_it_is_not_the_title():
    text = fixture_text("text-heading-repeated-first-line.txt")
    assert strip_boilerplate(text).splitlines() == text.splitlines()
    assert strip_boilerplate(text, "Ferry timetable changes").splitlines() == text.splitlines()


@pytest.mark.parametrize(
    ("line", "removed"),
    [
        ("© 2021 Harbour Gazette", True),
        ("Copyright 2021 Harbour Gazette Ltd. All rights reserved", True),
        ("Copyright holders will have to register their works with the new office from next year, "
         "the ministry said on Tuesday.", False),
        ("Read more: Mill Street residents fear parking shortage", True),
        ("Lesen Sie auch: Markthalle öffnet im Herbst", True),
        ("Read more: the full report is on the council's website.", False),
        ("Share", True),
        ("The harbour ferry will share its berth with the pilot boats.", False),
    ],
)
def test_strip_boilerplate_copyright_and_lead_in_lines(line, removed):
    body = "The fish market on the east quay reopened on Thursday after a three-month renovation."
    out = strip_boilerplate(f"{body}\n{line}\n{body}")
    assert (line not in out.splitlines()) is removed
    assert out.splitlines().count(body) == 2


def test_strip_boilerplate_drops_blank_lines_and_surrounding_spaces():
    assert strip_boilerplate("  First paragraph.  \n\n\t\nSecond paragraph.\n") == "First paragraph.\nSecond paragraph."


_WORD = st.text(alphabet=st.characters(categories=("L",)), min_size=1, max_size=10)
_SENTENCE = st.lists(_WORD, min_size=21, max_size=35).map(lambda words: " ".join(words) + ".")
_LINE = st.one_of(
    st.text(max_size=40),
    _SENTENCE,
    st.sampled_from(sorted(BOILERPLATE_LINES)),
    st.sampled_from(["Read more: Something happened", "© 2021 Free press", "   ", "", "Back to top button"]),
)


def _is_subsequence(short: list[str], long: list[str]) -> bool:
    remaining = iter(long)
    return all(any(item == candidate for candidate in remaining) for item in short)


@settings(max_examples=200, deadline=None)
@given(lines=st.lists(_LINE, max_size=12), title=st.one_of(st.none(), st.text(max_size=20)))
def test_strip_boilerplate_only_removes_whole_lines_and_never_a_long_sentence(lines, title):
    text = "\n".join(lines)
    out = strip_boilerplate(text, title)
    out_lines = out.splitlines()
    in_lines = [line.strip() for line in text.splitlines()]
    assert _is_subsequence(out_lines, in_lines)
    for line in in_lines:
        words = line.split()
        is_sentence = len(words) > 20 and line.endswith(".")
        if is_sentence and all(any(c.isalpha() for c in word) for word in words):
            assert line in out_lines


# ---------------------------------------------------------- clean_article


@pytest.fixture(scope="module")
def seed_cleaned() -> CleanedArticle:
    return clean_article(extract_article(SEED_PAGE.read_bytes(), SEED_URL))


def test_clean_article_on_seed_page_gives_bare_title(seed_cleaned):
    assert seed_cleaned.title == SEED_TITLE


def test_clean_article_on_seed_page_removes_related_articles_and_back_to_top(seed_cleaned):
    assert "Related Articles" not in seed_cleaned.text
    assert "Back to top button" not in seed_cleaned.text
    assert seed_cleaned.text.endswith("Little progress has been made on this point.")


def test_clean_article_on_seed_page_splits_the_dpa_dateline(seed_cleaned):
    assert seed_cleaned.dateline == "Seoul / Pyongyang"
    assert seed_cleaned.agency == "dpa"
    assert seed_cleaned.text.startswith("US Secretary of State")


def test_clean_article_on_seed_page_gives_exactly_the_seed_paragraphs(seed_cleaned):
    paragraphs = SEED_DOCUMENT.read_text(encoding="utf-8").split("\n\n")
    assert paragraphs[0] == f"{SEED_TITLE} | Free press"
    assert paragraphs[-2:] == ["Related Articles", "Back to top button"]
    body = paragraphs[1:-2]
    body[0] = body[0].removeprefix("Seoul / Pyongyang (dpa) – ")
    assert seed_cleaned.text.split("\n") == body


def test_clean_article_passes_metadata_through(seed_cleaned):
    assert seed_cleaned.url == SEED_URL
    assert seed_cleaned.site_name == "Free press"
    assert seed_cleaned.language == "en"
    assert seed_cleaned.canonical_link == SEED_URL


def test_clean_article_cleans_title_before_dropping_the_repeated_heading_and_then_splits_dateline():
    article = ExtractedArticle(
        url="https://harbour.example.org/news/fish-market.html",
        title="Fish market reopens after renovation | Harbour Gazette",
        text=(
            "Fish market reopens after renovation\n"
            "Share this article\n"
            "HAMBURG (Reuters) - The fish market on the east quay reopened on Thursday after a "
            "three-month renovation.\n"
            "Traders said the first morning was busier than an ordinary market day.\n"
            "Related\n"
            "Ferry timetable changes from Monday"
        ),
        author="Maren Holt",
        published_at=datetime(2021, 3, 18, tzinfo=UTC),
        site_name="Harbour Gazette",
        language="en",
        canonical_link=None,
    )
    cleaned = clean_article(article)
    assert cleaned.title == "Fish market reopens after renovation"
    assert (cleaned.dateline, cleaned.agency) == ("HAMBURG", "reuters")
    assert cleaned.text == (
        "The fish market on the east quay reopened on Thursday after a three-month renovation.\n"
        "Traders said the first morning was busier than an ordinary market day."
    )
    assert (cleaned.author, cleaned.published_at) == ("Maren Holt", datetime(2021, 3, 18, tzinfo=UTC))


# ------------------------------------------------- furniture rules (issue #4)


def _strip_fixture(name: str) -> list[str]:
    return strip_boilerplate(fixture_text(name)).splitlines()


def test_call_to_action_lines_go_and_a_sentence_mentioning_sign_up_stays():
    lines = fixture_text("text-call-to-action-lines.txt").splitlines()
    out = _strip_fixture("text-call-to-action-lines.txt")
    # Whole lines opening with a call to action, anywhere; at the edges, lines
    # made mostly of calls to action ("Have a tip? … Follow her on Twitter …").
    assert out == [lines[1], lines[2], lines[4], lines[5]]
    assert "Residents can sign up for the new resident parking permit" in out[1]


def test_read_more_related_and_also_on_site_lines_go_and_a_sentence_with_read_more_stays():
    lines = fixture_text("text-read-more-lead-in-lines.txt").splitlines()
    out = _strip_fixture("text-read-more-lead-in-lines.txt")
    assert out == [lines[0], lines[5], lines[6]]
    assert "who want to read more about the change" in out[1]


def test_reading_time_and_leading_or_trailing_time_stamps_go_but_dates_inside_stay():
    out = _strip_fixture("text-reading-time-and-stamp-lines.txt")
    assert out == [
        "The harbour museum will show maps of the old quays from Saturday.",
        "Exhibition dates",
        "29 March 2021 | 20 June 2021",  # a date line inside the body is content
        "The maps were drawn between 1820 and 1910 and have never been shown together, the museum said.",
    ]


def test_byline_at_the_start_goes_and_a_sentence_starting_with_by_stays():
    lines = fixture_text("text-byline-at-start.txt").splitlines()
    assert _strip_fixture("text-byline-at-start.txt") == lines[1:]


@pytest.mark.parametrize(
    "line",
    ["By Maren Holt", "By MAREN HOLT, Reuters", "Von Max Muster und Erika Beispiel", "By Maren Holt · Harbour Gazette"],
)
def test_byline_forms_at_the_start(line):
    body = "The fish market on the east quay reopened on Thursday after a three-month renovation."
    assert strip_boilerplate(f"{line}\n{body}") == body


def test_wire_staff_credit_and_source_line_at_the_end_go():
    lines = fixture_text("text-wire-credit-and-source-at-end.txt").splitlines()
    assert _strip_fixture("text-wire-credit-and-source-at-end.txt") == lines[:2]


def test_wire_credit_inside_the_body_is_kept():
    text = "(Reporting by Maren Holt)\nThe ferry runs again.\nIt is on time."
    assert strip_boilerplate("First line of the story.\n" + text).splitlines()[1] == "(Reporting by Maren Holt)"


def test_related_heading_inside_body_goes_with_its_short_headline_links():
    lines = fixture_text("text-related-block-inside-body.txt").splitlines()
    assert _strip_fixture("text-related-block-inside-body.txt") == [lines[0], lines[4], lines[5]]


def test_taxonomy_shortcode_and_tagged_teaser_lines_go():
    lines = fixture_text("text-taxonomy-shortcode-and-tagged-teaser-lines.txt").splitlines()
    assert _strip_fixture("text-taxonomy-shortcode-and-tagged-teaser-lines.txt") == [lines[0], lines[2]]


def test_first_line_repeating_any_page_heading_goes():
    text = "Harbour authority says yes to a new north pier jetty\nThe authority approved the plan on Tuesday."
    assert strip_boilerplate(text, "Jetty plan approved").splitlines()[0].startswith("Harbour")
    out = strip_boilerplate(text, "Jetty plan approved", ("Harbour authority says yes to a new north pier jetty",))
    assert out == "The authority approved the plan on Tuesday."


# ------------------------------------------------------- titles with the host


@pytest.mark.parametrize(
    ("title", "kwargs", "expected"),
    [
        pytest.param("Ferry timetable changes - Harbourgazette", {"host": "www.harbourgazette.co.uk"},
                     "Ferry timetable changes", id="host-name-suffix"),
        pytest.param("Harbour Gazette: Ferry timetable changes", {"host": "harbour-gazette.co.uk"},
                     "Ferry timetable changes", id="host-name-prefix-colon"),
        pytest.param("Ferry timetable changes – harbour-gazette.co.uk", {"host": "harbour-gazette.co.uk"},
                     "Ferry timetable changes", id="host-suffix"),
        pytest.param("Ferry timetable changes » Harbour Gazette News", {"feed_title": "Harbour Gazette News"},
                     "Ferry timetable changes", id="feed-title-suffix"),
        pytest.param("Ferry timetable changes · Harbour Gazette", {"host": "harbour-gazette.co.uk"},
                     "Ferry timetable changes", id="middle-dot-suffix"),
    ],
)
def test_clean_title_drops_host_or_feed_title(title, kwargs, expected):
    assert clean_title(title, None, **kwargs) == expected


@pytest.mark.parametrize(
    ("title", "kwargs"),
    [
        pytest.param("Harbour Gazette", {"host": "harbour-gazette.co.uk"}, id="title-is-the-host-name"),
        pytest.param("Harbour Gazette | Harbour Gazette", {"host": "harbour-gazette.co.uk"}, id="only-site-names"),
        pytest.param(SEED_TITLE, {"host": "freepress.example"}, id="colon-not-a-site-name"),
        pytest.param("Leeds: Bradford rail link delayed again", {"host": "metrowire.example"}, id="colon-place"),
    ],
)
def test_clean_title_never_cuts_to_nothing_or_to_the_site_name(title, kwargs):
    assert clean_title(title, None, **kwargs) == title


def test_clean_article_carries_the_new_metadata_fields(seed_cleaned):
    assert seed_cleaned.author == "dpa"
    assert seed_cleaned.date_source == "meta"
    assert seed_cleaned.future_date is False
    assert seed_cleaned.published_at == datetime(2021, 3, 18, 9, 12, tzinfo=UTC)
    assert dict(seed_cleaned.date_candidates)["url"] == "2021-03-18T00:00:00+00:00"


def test_learned_lines_are_removed_as_whole_lines_only():
    from pipeline.clean import LearnedLines, line_key, remove_learned_lines, site_lines

    note = "This article was translated from German."
    last = "The last paragraph says what happens next, and when the council will meet again."
    text = f"First paragraph mentions that {note.lower()}\n{note}\n{last}"
    learned = LearnedLines(frozenset({line_key(note)}))
    assert remove_learned_lines(text, learned).splitlines() == [f"First paragraph mentions that {note.lower()}", last]
    # Keys fold case, punctuation and spacing, and are stable across processes.
    assert line_key("  THIS article was translated from German ") == line_key(note)
    assert line_key(note) == 4108467972830193045  # blake2b: the same in every process
    keys = [key for key, _ in site_lines(text)]
    assert len(keys) == len(set(keys)) == 3
    assert all(-(2**63) <= key < 2**63 for key in keys)


# ------------------------------------------- dated and messenger furniture (issue #4)

HARBOUR_MESSENGER_URL = "https://harbour.example.org/news/ferry-crews-whatsapp-storm.html"


def test_messenger_calls_to_action_go_as_whole_lines_and_running_text_about_whatsapp_stays():
    page = (FIXTURES / "page-messenger-call-to-action.html").read_bytes()
    extracted = extract_article(page, HARBOUR_MESSENGER_URL)
    calls = [
        "Join our WhatsApp channel to get the day's top stories from the Harbour Gazette.",
        "Join us on Telegram for breaking news from the harbour and the old town.",
        "Stay informed: follow the Harbour Gazette on Signal, Threads and Bluesky.",
    ]
    assert set(calls) <= set(extracted.text.splitlines())  # the extractor keeps them: cleaning must go
    out = clean_article(extracted).text.splitlines()
    assert out == [line for line in extracted.text.splitlines() if line not in calls]
    # Sentences that mention WhatsApp in running text, one opening with "Follow-up", stay whole.
    assert out[0].startswith("Ferry crews warned each other about storm damage on the east quay in a WhatsApp group")
    assert any(line.startswith("Follow-up messages on WhatsApp showed") for line in out)
    assert len(out) == 4


@pytest.mark.parametrize(
    "line",
    [
        "Follow us on WhatsApp for the latest news.",
        "We're on Telegram! Join us for breaking news.",
        "Subscribe to our Telegram channel for breaking news.",
        "Join thousands of readers on Mastodon.",
        "Folgen Sie uns auf WhatsApp.",
        "Abonnieren Sie unseren WhatsApp-Kanal.",
        "Treten Sie unserem Telegram-Kanal bei.",
        "Rejoignez notre chaîne WhatsApp pour recevoir l'essentiel de l'actualité.",
        "Rejoignez-nous sur Telegram.",
        "Únete a nuestro canal de WhatsApp.",
        "Síguenos en Telegram.",
        "Unisciti al nostro canale WhatsApp.",
        "Iscriviti al nostro canale Telegram.",
        "Entre no nosso canal do WhatsApp.",
        "Siga-nos no Telegram.",
    ],
)
def test_messenger_call_to_action_line_goes_inside_the_body(line):
    body = "The fish market on the east quay reopened on Thursday after a three-month renovation."
    assert strip_boilerplate(f"{body}\n{line}\n{body}").splitlines() == [body, body]


@pytest.mark.parametrize(
    "line",
    [
        "Residents joined a WhatsApp group to organise the clean-up, the council said.",
        "Signal and WhatsApp both said they would leave the country rather than comply with the law.",
        "Sigue abierta la investigación sobre los mensajes de WhatsApp del ministro.",
        "Entre os investigados estão dois assessores que usaram o WhatsApp para combinar os pagamentos.",
        "The mayor said on Telegram that we are on the right track.",
    ],
)
def test_sentence_mentioning_a_messenger_in_running_text_is_kept(line):
    body = "The fish market on the east quay reopened on Thursday after a three-month renovation."
    assert strip_boilerplate(f"{body}\n{line}\n{body}").splitlines() == [body, line, body]
    assert strip_boilerplate(line) == line  # alone, at both edges


def test_line_key_treats_numbers_and_dates_as_one_placeholder_only_in_lines_with_enough_words():
    from pipeline.clean import line_key

    dated = "This article first appeared in The Morning Ledger's print edition of {}."
    assert len({line_key(dated.format(day)) for day in
                ("Tuesday 7 May 2024", "Wednesday 8 May 2024", "Friday 31 January 2025", "lunedì 3 giugno 2024")}) == 1
    # Otherwise unchanged: other words still count, and keys of undated lines are the same as before.
    assert line_key(dated.format("Tuesday 7 May 2024")) != line_key(dated.replace("print", "web").format("7 May 2024"))
    assert line_key("This article was translated from German.") == 4108467972830193045
    # Words that are not month or weekday names (nor "the", "of", "de") are never placeholders.
    assert line_key("The council met on the 7th of May at the town hall.") != line_key(
        "The council met on a 7th of May at the town hall."
    )
    # Short lines keep their numbers: "Day 3 of the trial" and "Day 4 of the trial" are two lines.
    assert line_key("Day 3 of the trial") != line_key("Day 4 of the trial")
    assert line_key("The FTSE 100 closed at 8,213") != line_key("The FTSE 100 closed at 8,190")


def test_a_dated_site_line_is_learned_across_pages_and_a_sentence_with_a_number_on_one_page_stays(clean_db):
    from sqlalchemy import text as sql

    from pipeline.clean import line_key, remove_learned_lines, site_lines
    from pipeline.dedup import content_hash
    from pipeline.neardup import fingerprint
    from pipeline.store import articles as article_store, site_lines as site_line_store

    site, min_pages = "ledger.example", 3
    topics = ["the ferry timetable", "a new fish market", "dredging the harbour mouth", "the sea wall"]

    def print_line(n: int) -> str:
        day = datetime(2024, 5, 6 + n, tzinfo=UTC)
        return f"This article first appeared in The Morning Ledger's print edition of {day:%A} {day.day} {day:%B %Y}."

    def numbered_sentence(households: int) -> str:
        return f"The council said {households} households would get the new bins by the end of the year."

    def story(n: int) -> str:
        # One long line of prose (never counted as a site line) and the print-edition line of its day.
        prose = " ".join(f"Report {n}, part {part}: the council discussed {topics[n]} at length." for part in range(20))
        return f"{prose}\n{print_line(n)}"

    def record(n: int, body: str) -> ArticleRecord:
        url = f"https://{site}/{n}"
        return ArticleRecord(
            canonical_url=url, url=url, feed_id=None, title=f"Story {n}", text=body, author=None,
            published_at=None, language="en", site_name=None, dateline=None, agency=None,
            content_hash=content_hash(body), fingerprint=fingerprint(body), final_url=url,
            site=site, site_lines=site_lines(body),
        )

    with clean_db.begin() as conn:
        article_store.store_articles(conn, [record(0, f"{story(0)}\n{numbered_sentence(1200)}"), record(1, story(1))])
        assert site_line_store.learned_site_lines(conn, [site], min_support=min_pages) == {}
        article_store.store_articles(conn, [record(2, story(2))])
        learned = site_line_store.learned_site_lines(conn, [site], min_support=min_pages)[site]
        shown = conn.execute(
            sql("SELECT text FROM site_boilerplate WHERE host = :host AND support >= :n"),
            {"host": site, "n": min_pages},
        ).scalars().all()

    # Three pages, three dates, one learned line, shown as it was first seen.
    assert shown == [print_line(0)]
    assert learned.lines == frozenset({line_key(print_line(3))})
    # A later page loses its own print-edition line; a sentence with another number seen on one page stays.
    later = f"{story(3)}\n{numbered_sentence(950)}"
    assert remove_learned_lines(later, learned).splitlines() == [later.splitlines()[0], numbered_sentence(950)]


# ------------------------------------- issue 20: learned rules never eat an article

SHARED_PARAGRAPHS = [
    "The council first proposed the new terminal in 2022, saying the waiting room on the north quay could no longer "
    "cope with the number of island passengers in summer.",
    "Fishing crews objected from the start, arguing that the berths would take the space they use to land their "
    "catch and that the dredging would disturb the shellfish beds.",
    "Residents of Quay Street joined the objections a year later, when plans showed construction lorries using their "
    "road for at least eighteen months.",
]
SITE_PITCH = "Bay Herald subscribers make this reporting possible. Thank you for reading."


def test_a_learned_prose_paragraph_goes_only_when_it_is_common_on_the_site():
    from pipeline.clean import LearnedLines, apply_learned_lines, line_key, prose_shaped

    lead = ("The harbour board approved the new ferry terminal on Tuesday evening, ending a dispute that ran for more "
            "than two years, and said work would begin in the autumn.")
    quote = ("\"We did not get everything, but we got the thing that mattered most,\" said Ines Alder, who chairs the "
             "residents' association, after the vote.")
    text = "\n".join([SITE_PITCH, lead, quote, *SHARED_PARAGRAPHS])
    keys = frozenset(line_key(line) for line in (SITE_PITCH, *SHARED_PARAGRAPHS))
    assert all(prose_shaped(line) for line in SHARED_PARAGRAPHS) and not prose_shaped(SITE_PITCH)
    # Seen on enough pages, but not on a large share of the site's: the
    # reused paragraphs are article text; the short pitch goes on the count.
    applied = apply_learned_lines(text, LearnedLines(keys))
    assert applied.text.splitlines() == [lead, quote, *SHARED_PARAGRAPHS]
    assert applied.removed == (SITE_PITCH,) and applied.withheld == ()
    # A prose-shaped line on most of the site's pages is furniture.
    common = LearnedLines(keys, common=frozenset({line_key(SHARED_PARAGRAPHS[2])}))
    applied = apply_learned_lines(text, common)
    assert applied.text.splitlines() == [lead, quote, *SHARED_PARAGRAPHS[:2]]
    assert applied.removed == (SITE_PITCH, SHARED_PARAGRAPHS[2])


def test_learned_rules_that_would_take_too_much_of_an_article_are_withheld_and_recorded():
    from pipeline.clean import LEARNED_MAX_SHARE, LearnedLines, apply_learned_lines, line_key

    lead = "The harbour board approved the new ferry terminal on Tuesday."
    text = "\n".join([lead, *SHARED_PARAGRAPHS])
    keys = frozenset(line_key(line) for line in SHARED_PARAGRAPHS)
    # All three reused paragraphs learned as common: they are most of the text.
    applied = apply_learned_lines(text, LearnedLines(keys, common=keys))
    assert sum(map(len, SHARED_PARAGRAPHS)) > LEARNED_MAX_SHARE * len(text)
    assert applied.text == text
    assert applied.removed == () and applied.withheld == tuple(SHARED_PARAGRAPHS)
