"""Named entities of stored articles, computed in the worker processes: what
the ingest flow and the maintenance flows both run."""

from __future__ import annotations

from functools import partial

from sqlalchemy import Engine

from flows.workers import TimeLimit, map_in_chunks
from pipeline.config import Settings
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
                return 0, 0
            results = map_in_chunks(
                ner, [EnrichInput(item.title, item.text, item.language) for item in pending], settings.workers,
                ner_time_limit(settings),
            )
            # Each article records the model of its own language (None: no model for it).
            by_model: dict[str | None, list] = {}
            for item, (model, result) in zip(pending, results, strict=True):
                by_model.setdefault(model, []).append((item.id, result.status, result.entities))
            written = sum(entity_store.store_entities(conn, rows, model=model) for model, rows in by_model.items())
            return len(pending), written

    def copies() -> int:
        with engine.begin() as conn:
            return entity_store.copy_entities_to_copies(conn)

    enriched = links = 0
    while True:
        done, written = retry_database(one_batch)
        if not done:
            break
        enriched, links = enriched + done, links + written
    return enriched + retry_database(copies), links


def ner_function(settings: Settings):
    """What a worker calls on one EnrichInput: (model, EnrichResult)."""
    return partial(extract_entities_with_models, settings.ner_models, max_chars=settings.ner_max_chars)


def _entities_failed(_item, kind: str, message: str) -> tuple[None, EnrichResult]:
    """Stored with no model: the nightly re-enrichment tries such articles again."""
    return None, EnrichResult([], f"failed: {kind}")


def ner_time_limit(settings: Settings) -> TimeLimit:
    return TimeLimit(settings.item_time_limit_seconds, _entities_failed)
