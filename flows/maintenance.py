"""Maintenance flows: work over stored articles, without fetching anything."""

from __future__ import annotations

import time
from datetime import datetime

from prefect import flow, get_run_logger

from flows.ingest import enrich_pending
from pipeline.config import get_settings
from pipeline.enrich import load_nlp, model_version
from pipeline.store import load
from pipeline.store.engine import get_engine
from pipeline.store.migrate import upgrade


@flow(name="reenrich", log_prints=False)
def reenrich(since: datetime | None = None) -> dict:
    """Recompute entities with the configured spaCy model: for every article
    whose entities came from another model, and for all fetched since
    ``since``.  Idempotent: a second run finds nothing left to do."""
    logger = get_run_logger()
    settings = get_settings()
    engine = get_engine(settings)
    upgrade(engine)
    model = model_version(load_nlp(settings.spacy_model))
    started = time.perf_counter()
    with engine.begin() as conn:
        marked = load.mark_for_reenrichment(conn, model=model, since=since)
    logger.info("%d articles to re-enrich with %s", marked, model)
    enriched, links = enrich_pending(engine, settings) if marked else (0, 0)
    with engine.begin() as conn:
        load.delete_orphan_entities(conn)
    return {
        "model": model, "articles_marked": marked, "articles_enriched": enriched,
        "entity_links": links, "seconds": round(time.perf_counter() - started, 2),
    }
