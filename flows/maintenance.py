"""Maintenance flows: work over stored articles, without fetching anything.

``maintenance`` is the nightly deployment; ``reenrich`` is also a flow of its
own for ``newsflow reenrich``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from prefect import flow, get_run_logger

from flows.enrich import enrich_pending
from pipeline.config import Settings, get_settings
from pipeline.enrich.models import model_versions
from pipeline.store import articles as article_store, entities as entity_store
from pipeline.store.engine import get_engine, retry_database
from pipeline.store.migrate import upgrade
from pipeline.store.statistics import refresh_planner_statistics


@flow(name="reenrich", log_prints=False)
def reenrich(since: datetime | None = None, models: dict[str, str] | None = None) -> dict:
    """Recompute entities with the spaCy model configured for each article's
    language (``NEWSFLOW_NER_MODELS``; ``models`` overrides or adds languages
    for this run): every article whose entities came from another model, of
    a language that newly got a model, and all fetched since ``since``.
    Idempotent: a second run finds nothing left to do."""
    settings = get_settings()
    if models:
        settings = settings.model_copy(update={"ner_models": {**settings.ner_models, **models}})
    engine = get_engine(settings)
    upgrade(engine)
    return reenrich_stored(engine, settings, since)


def reenrich_stored(engine, settings: Settings, since: datetime | None = None) -> dict:
    logger = get_run_logger()
    # Loading each model here fails early, naming the setting, if one cannot be.
    versions = model_versions(settings.ner_models)
    started = time.perf_counter()
    with engine.begin() as conn:
        marked = entity_store.mark_for_reenrichment(conn, models=versions, since=since)
    logger.info("%d articles to re-enrich with %s", marked, versions)
    enriched, links = enrich_pending(engine, settings) if marked else (0, 0)
    with engine.begin() as conn:
        entity_store.delete_orphan_entities(conn)
    return {
        "models": versions, "model": ", ".join(sorted(set(versions.values()))),
        "articles_marked": marked, "articles_enriched": enriched,
        "entity_links": links, "seconds": round(time.perf_counter() - started, 2),
    }


@flow(name="maintenance", log_prints=False)
def maintenance(raw_html_days: float | None = None) -> dict:
    """Nightly upkeep: delete stored HTML older than ``raw_html_days``
    (``NEWSFLOW_RAW_HTML_DAYS``; 0 keeps it), re-tag the articles whose
    entities came from another model than the one now configured for their
    language, and refresh the planner's statistics."""
    logger = get_run_logger()
    settings = get_settings()
    days = settings.raw_html_days if raw_html_days is None else raw_html_days
    engine = get_engine(settings)
    retry_database(lambda: upgrade(engine))

    pruned = 0
    if days > 0:
        def prune() -> int:
            with engine.begin() as conn:
                return article_store.prune_raw_pages(conn, timedelta(days=days))
        pruned = retry_database(prune)
    logger.info("raw HTML older than %s days: %d pages deleted", days or "∞", pruned)

    entities = reenrich_stored(engine, settings)

    def analyze() -> tuple[str, ...]:
        with engine.begin() as conn:
            return refresh_planner_statistics(conn)
    analyzed = retry_database(analyze)
    logger.info("statistics refreshed: %s", ", ".join(analyzed))
    return {"raw_pages_deleted": pruned, "raw_html_days": days, **entities, "analyzed": list(analyzed)}
