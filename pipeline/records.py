"""Plain records that travel between the stages and the store."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EntryFailure:
    """An entry that did not become an article this run, and why.

    ``stage`` is where it failed (fetch, extract, store); ``kind`` names the
    case within the stage, a fixed word that summaries count by (timeout,
    http, too-large, refused, robots, invalid-url, no-article, rejected…);
    ``message`` is the one-line error."""

    url: str
    feed_id: int | None
    stage: str
    kind: str
    message: str
