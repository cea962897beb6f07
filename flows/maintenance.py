"""Maintenance flows: work over stored articles, without fetching anything.

``maintenance`` is the nightly deployment; ``reenrich`` is also a flow of its
own for ``newsflow reenrich``."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from prefect import flow, get_run_logger

from flows.enrich import enrich_pending, file_by_agreed_type
from pipeline.config import Settings, get_settings
from pipeline.enrich.models import model_versions
from pipeline.store import articles as article_store, entities as entity_store
from pipeline.store.engine import get_engine, retry_database
from pipeline.store.migrate import upgrade
from pipeline.store.statistics import refresh_planner_statistics


# Time limits are read at import: Prefect takes them from the flow objects,
# which a worker loads from prefect.yaml's entrypoints (0: no limit).  Any
# error, a lost database too, ends a run Failed with that error.
@flow(name="reenrich", log_prints=False, timeout_seconds=get_settings().reenrich_timeout_seconds or None)
def reenrich(since: datetime | None = None, models: dict[str, str] | None = None) -> dict:
    """Recompute entities with the spaCy model configured for each article's
    language: every article whose entities came from another model, of a
    language that newly got a model, and all fetched since ``since``.
    Idempotent: a second run finds nothing left to do.

    Args:
        since: Also re-tag every article fetched at or after this moment,
            whatever model tagged it.  Empty: only the articles whose model
            changed.
        models: Language code to installed spaCy pipeline for this run, e.g.
            {"de": "de_core_news_sm"}: overrides or adds to NEWSFLOW_NER_MODELS.
    """
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
    # Every name whose articles disagree on its type, whichever run tagged them.
    refiled = file_by_agreed_type(engine, None)
    logger.info("%d entity links refiled under the type their entity's articles agree on", refiled)
    with engine.begin() as conn:
        entity_store.delete_orphan_entities(conn)
    return {
        "models": versions, "model": ", ".join(sorted(set(versions.values()))),
        "articles_marked": marked, "articles_enriched": enriched,
        "entity_links": links, "entity_links_refiled": refiled,
        "seconds": round(time.perf_counter() - started, 2),
    }


@flow(name="maintenance", log_prints=False, timeout_seconds=get_settings().maintenance_timeout_seconds or None)
def maintenance(raw_html_days: float | None = None) -> dict:
    """Nightly upkeep: delete old stored HTML, re-tag the articles whose
    entities came from another model than the one now configured for their
    language, and refresh the planner's statistics.

    Args:
        raw_html_days: Delete the stored HTML of pages fetched more than this
            many days ago (the articles stay).  Empty: NEWSFLOW_RAW_HTML_DAYS;
            0 keeps it all.
    """
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
