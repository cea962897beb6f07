"""An entity's type decided across its articles (pipeline.enrich.labels)."""

from hypothesis import given, strategies as st

from pipeline.enrich.labels import LabelVote, labels_across_articles


def vote(key, label, mentions=1, by_rule=False, name="Oliver Bierhoff", counts=True):
    return LabelVote(key=key, name=name, own_label=label, mentions=mentions, by_rule=by_rule, counts=counts)


def test_a_thin_org_joins_the_person_its_other_articles_agree_on():
    decided = labels_across_articles([
        vote(1, "PERSON", mentions=3), vote(2, "PERSON", by_rule=True), vote(3, "ORG"),
    ])
    assert decided == {1: "PERSON", 2: "PERSON", 3: "PERSON"}


def test_names_compare_without_case():
    decided = labels_across_articles([
        vote(1, "PERSON", mentions=2, name="Oliver Bierhoff"), vote(2, "ORG", name="OLIVER BIERHOFF"),
    ])
    assert decided[2] == "PERSON"


def test_an_article_with_evidence_of_its_own_keeps_its_label():
    # Two mentions, or a rule's word, outweigh the other articles.
    decided = labels_across_articles([
        vote(1, "PERSON", mentions=4), vote(2, "PERSON", mentions=2), vote(3, "ORG", mentions=2),
        vote(4, "GPE", by_rule=True, name="Washington"), vote(5, "PERSON", mentions=3, name="Washington"),
        vote(6, "PERSON", mentions=3, name="Washington"),
    ])
    assert decided[3] == "ORG"
    assert decided[4] == "GPE"


def test_a_club_and_its_city_stay_two_things():
    # Neither label is a person: an ORG in a sports story and a GPE in the
    # news are both right.
    decided = labels_across_articles([
        vote(1, "ORG", mentions=3, name="Liverpool"), vote(2, "ORG", mentions=2, name="Liverpool"),
        vote(3, "GPE", name="Liverpool"),
    ])
    assert decided[3] == "GPE"


def test_two_of_three_well_evidenced_articles_are_agreement_enough():
    decided = labels_across_articles([
        vote(1, "PERSON", mentions=2), vote(2, "ORG", mentions=2), vote(3, "PERSON", mentions=2),
        vote(4, "ORG"), vote(5, "GPE"),
    ])
    assert decided[4] == "PERSON"
    assert decided[5] == "PERSON"


def test_without_a_clear_majority_every_article_keeps_its_label():
    decided = labels_across_articles([vote(1, "PERSON", mentions=2), vote(2, "ORG", mentions=2), vote(3, "ORG")])
    assert decided[3] == "ORG"


def test_thin_articles_alone_decide_nothing():
    decided = labels_across_articles([vote(1, "PERSON"), vote(2, "PERSON"), vote(3, "ORG")])
    assert decided == {1: "PERSON", 2: "PERSON", 3: "ORG"}


def test_copies_do_not_vote_twice():
    # One syndicated story in five outlets is one article's evidence, not five.
    copies = [vote(10 + i, "ORG", mentions=2, counts=False) for i in range(5)]
    decided = labels_across_articles([vote(1, "PERSON", mentions=2), vote(2, "ORG", mentions=2), *copies,
                                      vote(3, "ORG")])
    assert decided[3] == "ORG"  # 1 PERSON against 1 ORG: no agreement
    decided = labels_across_articles([vote(1, "PERSON", mentions=2), vote(2, "PERSON", mentions=2),
                                      vote(4, "ORG", mentions=2), *copies, vote(3, "ORG")])
    assert decided[3] == "PERSON"
    assert all(decided[10 + i] == "ORG" for i in range(5))


labels = st.sampled_from(["PERSON", "ORG", "GPE", "LOC"])
votes = st.lists(
    st.builds(LabelVote, key=st.integers(0, 10**6), name=st.sampled_from(["Jordan", "jordan", "Bierhoff"]),
              own_label=labels, mentions=st.integers(1, 4), by_rule=st.booleans(), counts=st.booleans()),
    max_size=30, unique_by=lambda v: v.key,
)


@given(votes)
def test_every_row_gets_a_label_and_only_thin_rows_move(given_votes):
    decided = labels_across_articles(given_votes)
    assert set(decided) == {v.key for v in given_votes}
    for v in given_votes:
        if decided[v.key] != v.own_label:
            assert not v.well_evidenced
            assert "PERSON" in (decided[v.key], v.own_label)


@given(votes)
def test_deciding_again_on_the_decided_rows_moves_nothing_more(given_votes):
    # The store files rows under the decision and keeps their own labels:
    # deciding again from the own labels gives the same answer (no drift).
    first = labels_across_articles(given_votes)
    assert labels_across_articles(reversed(given_votes)) == first
