"""Every deployment of newsflow, declared once.

``newsflow serve`` serves these (``prefect.serve``); ``prefect.yaml`` at the
repository root declares the same two for a process work pool, and
``tests/test_deployments.py`` checks that the two stay alike.

========================  ================  =========================  ===========
deployment                flow              schedule                   at once
========================  ================  =========================  ===========
``ingest/scheduled``      ``ingest``        every 30 minutes           unlimited
``maintenance/scheduled`` ``maintenance``   ``30 3 * * *`` (03:30 UTC)  1
========================  ================  =========================  ===========

* **ingest** runs over the feeds that are due (``feeds_path=None``: every
  stored feed whose ``next_fetch_at`` has passed); a feed's own interval
  (``NEWSFLOW_FEED_INTERVAL_MINUTES``, its ttl/Cache-Control, back-off when
  failing) decides when it is due, the 30-minute schedule only how often the
  question is asked.  It has *no* concurrency limit on purpose: overlapping
  runs (a slow run still going when the next is due, a manual run, several
  workers) split the due feeds between them through the database, and every
  write is idempotent, so a second run is never harmful and a limit would
  only make work wait.
* **maintenance** runs nightly: it deletes stored HTML older than
  ``NEWSFLOW_RAW_HTML_DAYS``, re-tags the articles whose entities came from
  another spaCy model than the one now configured for their language, and
  refreshes the planner's statistics (ANALYZE).  One run at a time
  (``concurrency_limit=1``): a second one would only find nothing left to do
  and hold the model in memory twice.  Runs over the limit wait their turn
  (Prefect's default collision strategy, ENQUEUE).

Manual runs use the same deployments, with any parameter overridden::

    prefect deployment run 'ingest/scheduled' --param feeds_path=seeds/feeds.yaml --watch
    prefect deployment run 'maintenance/scheduled' --param raw_html_days=30
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from prefect.deployments.runner import RunnerDeployment

#: The name of every deployment: runs are ``'<flow>/scheduled'``.
DEPLOYMENT_NAME = "scheduled"

INGEST_INTERVAL = timedelta(minutes=30)
INGEST_PARAMETERS: dict[str, Any] = {"feeds_path": None, "limit": None}

MAINTENANCE_CRON = "30 3 * * *"
MAINTENANCE_TIMEZONE = "UTC"
MAINTENANCE_CONCURRENCY = 1

TAGS = ["newsflow"]


def deployments() -> list[RunnerDeployment]:
    """The deployments to serve (``newsflow serve``), in a fixed order:
    ingest, then maintenance.

    Their entrypoints are module paths (``flows.ingest.ingest``), so a served
    run loads the installed package whatever the working directory;
    ``prefect.yaml`` uses file paths relative to the checkout instead, as
    ``prefect deploy`` wants."""
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.types.entrypoint import EntrypointType

    from flows.ingest import ingest
    from flows.maintenance import maintenance

    return [
        ingest.to_deployment(
            name=DEPLOYMENT_NAME,
            entrypoint_type=EntrypointType.MODULE_PATH,
            interval=INGEST_INTERVAL,
            parameters=dict(INGEST_PARAMETERS),
            # No concurrency_limit: overlapping ingest runs split the due feeds.
            concurrency_limit=None,
            tags=[*TAGS, "ingest"],
            description=(
                "Every 30 minutes: fetch the due feeds and their new pages, clean, "
                "deduplicate, tag entities, store. Overlapping runs split the work."
            ),
        ),
        maintenance.to_deployment(
            name=DEPLOYMENT_NAME,
            entrypoint_type=EntrypointType.MODULE_PATH,
            schedules=[CronSchedule(cron=MAINTENANCE_CRON, timezone=MAINTENANCE_TIMEZONE)],
            concurrency_limit=MAINTENANCE_CONCURRENCY,
            tags=[*TAGS, "maintenance"],
            description=(
                "Nightly at 03:30 UTC: delete stored HTML past its retention, re-tag the "
                "articles whose entities came from another spaCy model, refresh statistics. "
                "One run at a time."
            ),
        ),
    ]
