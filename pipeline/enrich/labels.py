"""An entity's type decided across its articles.

Each article types its names on its own evidence (``normalise``).  Where that
evidence is thin, one mention that only the model typed, the articles that
say more about the same name decide: "Oliver Bierhoff", typed a person by a
rule or over several mentions in most articles, is a person too in the one
article where the model took its single mention for an organisation.

Only a disagreement between a person and anything else is settled this way.
Between an organisation and a place the disagreement is usually real: a club
and its city ("Liverpool"), a state and its team ("Texas") are two things
under one name, each right in its own article (bench/entities.py measured the
wider rule, and it cost more than it gained on wire copy).

A pure function over the articles' own labels: the store keeps each
article's own label beside the one it is filed under, so the decision can be
taken again whenever an entity gains articles, and undone when they change
their minds.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass

PERSON = "PERSON"
# Share of an entity's well-evidenced articles that must agree on its type.
AGREEING_SHARE = 2 / 3


@dataclass(frozen=True)
class LabelVote:
    """What one article says of one name: its own label and how sure it is."""

    key: Hashable  # what the decision is returned under: (article id, entity id), say
    name: str
    own_label: str
    mentions: int
    by_rule: bool  # a rule, not only the model, gave the label
    counts: bool = True  # a copy of another article repeats its vote: False

    @property
    def well_evidenced(self) -> bool:
        return self.by_rule or self.mentions >= 2


def labels_across_articles(votes: Iterable[LabelVote]) -> dict[Hashable, str]:
    """The label each vote's row is filed under: its own label, unless the
    row's evidence is thin (one mention, model only), the name's
    well-evidenced articles agree on another label by ``AGREEING_SHARE``,
    and one of the two labels is a person.  Names compare without case."""
    by_name: dict[str, list[LabelVote]] = defaultdict(list)
    for vote in votes:
        by_name[vote.name.casefold()].append(vote)
    decided: dict[Hashable, str] = {}
    for name_votes in by_name.values():
        agreed = _agreed_label(name_votes)
        for vote in name_votes:
            label = vote.own_label
            if (agreed is not None and agreed != label and not vote.well_evidenced
                    and PERSON in (agreed, label)):
                label = agreed
            decided[vote.key] = label
    return decided


def _agreed_label(votes: list[LabelVote]) -> str | None:
    counted = Counter(vote.own_label for vote in votes if vote.counts and vote.well_evidenced)
    if not counted:
        return None
    (label, count), = counted.most_common(1)
    return label if count >= AGREEING_SHARE * sum(counted.values()) else None
