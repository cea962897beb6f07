"""Named entities of stored articles, computed in the worker processes: what
the ingest flow and the maintenance flows both run."""

from __future__ import annotations

from functools import partial

from sqlalchemy import Engine

from collections.abc import Collection

from flows.workers import TimeLimit, map_in_chunks
from pipeline.config import Settings
from pipeline.enrich.labels import labels_across_articles
from pipeline.enrich.models import EnrichInput, EnrichResult, extract_entities_with_models
from pipeline.store import entities as entity_store
from pipeline.store.engine import retry_database


def enrich_pending(engine: Engine, settings: Settings) -> tuple[int, int]:
    """Named entities for canonical articles still pending (from this run or a
    run that stopped early), then for their copies.  Returns (articles, links)."""
    ner = ner_function(settings)

    def one_batch() -> tuple[int, int]:
        with engine.begin() as conn:
            pending = entity_store.claim_pending_canonical(conn, settings.batch_size)
            if not pending:
                return 0, 0, set()
            results = map_in_chunks(
                ner, [EnrichInput(item.title, item.text, item.language) for item in pending], settings.workers,
                ner_time_limit(settings),
            )
            # Each article records the model of its own language (None: no model for it).
            by_model: dict[str | None, list] = {}
            for item, (model, result) in zip(pending, results, strict=True):
                by_model.setdefault(model, []).append((item.id, result.status, result.entities))
            written = sum(entity_store.store_entities(conn, rows, model=model) for model, rows in by_model.items())
            return len(pending), written, names_of(by_model.values())

    def copies() -> int:
        with engine.begin() as conn:
            return entity_store.copy_entities_to_copies(conn)

    enriched = links = 0
    while True:
        done, written, names = retry_database(one_batch)
        if not done:
            break
        enriched, links = enriched + done, links + written
        file_by_agreed_type(engine, names)
    return enriched + retry_database(copies), links


def names_of(groups) -> set[str]:
    """The entity names of (article id, status, mentions) rows, grouped."""
    return {m.name for rows in groups for _, _, mentions in rows for m in mentions}


def file_by_agreed_type(engine: Engine, names: Collection[str] | None) -> int:
    """File the links of the entities named ``names`` (None: every name whose
    articles disagree on its type) under the type their articles agree on
    (``labels_across_articles``); returns the links refiled."""
    if names is not None and not names:
        return 0

    def decided(conn) -> list:
        return list(labels_across_articles(entity_store.label_votes(conn, names)).items())

    def refile() -> int:
        with engine.begin() as conn:
            # Most batches move nothing: only when one would is every other
            # writer of entities held up, and the decision taken again under the lock.
            if all(label == row.label for row, label in decided(conn)):
                return 0
            entity_store.lock_entities(conn)
            return entity_store.refile(conn, decided(conn))
    return retry_database(refile)


def ner_function(settings: Settings):
    """What a worker calls on one EnrichInput: (model, EnrichResult)."""
    return partial(extract_entities_with_models, settings.ner_models, max_chars=settings.ner_max_chars)


def _entities_failed(_item, kind: str, message: str) -> tuple[None, EnrichResult]:
    """Stored with no model: the nightly re-enrichment tries such articles again."""
    return None, EnrichResult([], f"failed: {kind}")


def ner_time_limit(settings: Settings) -> TimeLimit:
    return TimeLimit(settings.item_time_limit_seconds, _entities_failed)
