"""Every deployment of newsflow, declared once in ``DEPLOYMENTS``.

Two things are built from that one table:

* ``deployments()``: what ``newsflow serve`` serves (``prefect.serve``),
  named ``SERVED_NAME`` (``ingest/served``, ``maintenance/served``);
* ``prefect_yaml()``: the text of ``prefect.yaml`` at the repository root, the
  same flows for a process work pool (``prefect deploy --all``), named as in
  ``DEPLOYMENTS`` (``ingest/scheduled``, ``maintenance/scheduled``).

The two have distinct names because stopping ``newsflow serve`` pauses the
schedules of the deployments it served: under a shared name that paused the
work pool's schedule too.
  Regenerate it after any change here::

      python -m flows.deployments > prefect.yaml

  ``tests/test_deployments.py`` fails while the committed file differs.

* **ingest** runs over the feeds that are due (``feeds_path=None``: every
  stored feed whose ``next_fetch_at`` has passed); a feed's own interval
  (``NEWSFLOW_FEED_INTERVAL_MINUTES``, its ttl/Cache-Control, back-off when
  failing) decides when it is due, the schedule only how often the question
  is asked.  Overlapping runs (a slow run still going when the next is due,
  a manual run) split the due feeds between them through the database, and
  every write is idempotent, so a second run at once is never harmful.  Its
  limit, ``NEWSFLOW_INGEST_CONCURRENCY`` (2 by default), keeps that, and
  cancels any run beyond it (CANCEL_NEW) rather than queueing it: after a
  worker outage the late runs would otherwise all start together, each
  finding nothing due but paying the start-up.  The next tick runs anyway.
* **ingest-shard** (work pool only) is a shard of an ingest run: an ingest
  run of the work pool splits the due feeds into shards (pipeline/shards.py)
  and starts each as a child flow run of ``ingest-shard/scheduled``, so that
  every worker of the pool shares one tick (flows/ingest.py).  No schedule:
  only its ingest run starts it.  ``NEWSFLOW_SHARD_CONCURRENCY`` (unset: no
  limit) caps shards at once; the ones beyond it wait (ENQUEUE): cancelled,
  they would fail their run.  Under ``newsflow serve`` an ingest run works
  through its shards itself, so it is not served.
* **maintenance** runs nightly: it deletes stored HTML older than
  ``NEWSFLOW_RAW_HTML_DAYS``, re-tags the articles whose entities came from
  another spaCy model than the one now configured for their language, and
  refreshes the planner's statistics (ANALYZE).  One run at a time: a second
  one would only find nothing left to do and hold the model in memory twice,
  so it is cancelled (CANCEL_NEW), not queued.

The limits are read from the settings when the deployments are built:
``newsflow serve`` reads them at its start; prefect.yaml carries what they
were when it was generated (the defaults, in the committed file).

Manual runs use the same deployments, with any parameter overridden
(``served`` under ``newsflow serve``, ``scheduled`` in the work pool)::

    prefect deployment run 'ingest/served' --param feeds_path=seeds/feeds.yaml --watch
    prefect deployment run 'maintenance/scheduled' --param raw_html_days=30
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from datetime import timedelta
from importlib.metadata import version
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from prefect.client.schemas.objects import ConcurrencyLimitConfig
    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
    from prefect.deployments.runner import RunnerDeployment

    from pipeline.config import Settings

#: The process work pool that prefect.yaml's deployments run in.
WORK_POOL = "newsflow"
#: The name of every deployment `newsflow serve` serves; the work pool's are
#: named in ``DEPLOYMENTS``.  Distinct, so that pausing one leaves the other.
SERVED_NAME = "served"


@dataclass(frozen=True)
class Deployment:
    """One deployment: a flow, its name in the work pool, schedule,
    parameters and limits.  Runs of it are ``'<flow name>/<name>'`` in the
    pool and ``'<flow name>/served'`` under `newsflow serve`."""

    flow: str  # "module:function", e.g. "flows.ingest:ingest"
    name: str
    description: str
    tags: tuple[str, ...]
    parameters: dict[str, Any] = field(default_factory=dict)
    concurrency_limit: int | None = None  # None: no limit
    concurrency_setting: str | None = None  # a Settings field whose value replaces concurrency_limit
    collision_strategy: str = "CANCEL_NEW"  # a run over the limit: CANCEL_NEW, or ENQUEUE to wait
    # One schedule: an interval, or a cron line in a time zone; neither: runs
    # only when started (the shards, by their ingest run).
    interval: timedelta | None = None
    cron: str | None = None
    timezone: str | None = None
    served: bool = True  # False: only in the work pool (prefect.yaml), not under `newsflow serve`

    @property
    def flow_name(self) -> str:
        """The flow's name on the Prefect server: its function's, with dashes
        (``ingest_shard`` is the flow ``ingest-shard``), as the flows declare it."""
        return self.flow.partition(":")[2].replace("_", "-")

    @property
    def file_entrypoint(self) -> str:
        """``flows/ingest.py:ingest``: relative to the checkout, as ``prefect deploy`` wants."""
        module, _, function = self.flow.partition(":")
        return f"{module.replace('.', '/')}.py:{function}"

    def limit(self, settings: Settings) -> int | None:
        """Runs of this deployment that may run at once (None: any number)."""
        if self.concurrency_setting is not None:
            return getattr(settings, self.concurrency_setting)
        return self.concurrency_limit

    def concurrency(self, settings: Settings) -> ConcurrencyLimitConfig | None:
        from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy

        limit = self.limit(settings)
        if limit is None:
            return None
        return ConcurrencyLimitConfig(
            limit=limit, collision_strategy=ConcurrencyLimitStrategy(self.collision_strategy)
        )

    def concurrency_entry(self, settings: Settings) -> dict[str, Any] | None:
        """The limit as a prefect.yaml ``concurrency_limit`` entry."""
        limit = self.limit(settings)
        return None if limit is None else {"limit": limit, "collision_strategy": self.collision_strategy}

    def schedules(self) -> list[IntervalSchedule | CronSchedule]:
        from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule

        if self.interval is not None:
            return [IntervalSchedule(interval=self.interval)]
        if self.cron is not None:
            return [CronSchedule(cron=self.cron, timezone=self.timezone)]
        return []

    def schedule_entries(self) -> list[dict[str, Any]]:
        """The schedules as prefect.yaml ``schedules`` entries."""
        if self.interval is not None:
            return [{"interval": int(self.interval.total_seconds())}]
        if self.cron is not None:
            return [{"cron": self.cron, "timezone": self.timezone}]
        return []


DEPLOYMENTS = (
    Deployment(
        flow="flows.ingest:ingest",
        name="scheduled",
        description=(
            "Every 30 minutes: fetch the due feeds and their new pages, clean, "
            "deduplicate, tag entities, store. Overlapping runs split the work; "
            "beyond NEWSFLOW_INGEST_CONCURRENCY at once, a new run is cancelled."
        ),
        tags=("newsflow", "ingest"),
        parameters={"feeds_path": None, "limit": None},
        concurrency_setting="ingest_concurrency",
        interval=timedelta(minutes=30),
    ),
    Deployment(
        flow="flows.ingest:ingest_shard",
        name="scheduled",
        description=(
            "A shard of an ingest run in the work pool, started by that run (no schedule of its own): "
            "claims whole hosts' due feeds a chunk at a time (NEWSFLOW_SHARD_SIZE) until none is left. "
            "Beyond NEWSFLOW_SHARD_CONCURRENCY at once, shards wait."
        ),
        tags=("newsflow", "ingest", "shard"),
        concurrency_setting="shard_concurrency",
        # A shard over the limit waits its turn: cancelled, its run would fail.
        collision_strategy="ENQUEUE",
        served=False,
    ),
    Deployment(
        flow="flows.maintenance:maintenance",
        name="scheduled",
        description=(
            "Nightly at 03:30 UTC: delete stored HTML past its retention, re-tag the "
            "articles whose entities came from another spaCy model, refresh statistics. "
            "One run at a time: a second one is cancelled."
        ),
        tags=("newsflow", "maintenance"),
        concurrency_limit=1,
        cron="30 3 * * *",
        timezone="UTC",
    ),
)


def deployments() -> list[RunnerDeployment]:
    """The deployments to serve (``newsflow serve``), in the order of ``DEPLOYMENTS``.

    Their entrypoints are module paths (``flows.ingest.ingest``), so a served
    run loads the installed package whatever the working directory;
    prefect.yaml has paths relative to the checkout instead (``file_entrypoint``)."""
    from prefect.types.entrypoint import EntrypointType

    from pipeline.config import get_settings

    settings = get_settings()
    served = []
    for deployment in (deployment for deployment in DEPLOYMENTS if deployment.served):
        module, _, function = deployment.flow.partition(":")
        flow = getattr(importlib.import_module(module), function)
        served.append(flow.to_deployment(
            name=SERVED_NAME,
            entrypoint_type=EntrypointType.MODULE_PATH,
            schedules=deployment.schedules(),
            parameters=dict(deployment.parameters),
            concurrency_limit=deployment.concurrency(settings),
            tags=list(deployment.tags),
            description=deployment.description,
        ))
    return served


_PREFECT_YAML_HEADER = """\
# Generated from flows/deployments.py: edit DEPLOYMENTS there, then run
#
#   python -m flows.deployments > prefect.yaml
#
# (tests/test_deployments.py fails while this file differs from what that prints).
# The concurrency limits are the settings' values when it ran: the committed
# file has the defaults (NEWSFLOW_INGEST_CONCURRENCY=2).
#
# The deployments of `newsflow serve`, for a process work pool: a team runs
# workers on several machines against one Prefect server and one PostgreSQL.
# Here they are named `scheduled` (`ingest/scheduled`); `newsflow serve`
# names its own `served`, so that stopping it (which pauses what it served)
# leaves these schedules alone.
#
#   export PREFECT_API_URL=http://prefect.example:4200/api   # the shared server
#   prefect work-pool create newsflow --type process           # once
#   prefect deploy --all                                       # from this folder
#   prefect worker start --pool newsflow                       # on each machine
#
# Each worker machine needs this checkout with the project installed
# (the hash-locked install of docs/operations.md, or the Docker image), DATABASE_URL
# pointing at the shared PostgreSQL, and NEWSFLOW_PROJECT_DIR set to the
# checkout: the pull step below changes into it on the worker, at run time,
# so that the entrypoints (paths relative to the checkout) resolve.
#
# Against one Prefect server, run either `newsflow serve` or workers: both
# schedule the same flows, and with both running every tick runs twice (the
# runs split the due feeds between them, harmless but wasted).
"""


def prefect_yaml(settings: Settings | None = None) -> str:
    """The text of prefect.yaml: ``DEPLOYMENTS`` for the ``WORK_POOL`` process
    work pool, with the limits of ``settings`` (the defaults without them)."""
    from flows.automations import HEARTBEAT_SECONDS
    from pipeline.config import default_settings

    settings = settings or default_settings()
    document = {
        "name": "newsflow",
        "prefect-version": version("prefect"),
        "build": None,
        "push": None,
        "pull": [
            {"prefect.deployments.steps.set_working_directory": {"directory": "{{ $NEWSFLOW_PROJECT_DIR }}"}}
        ],
        "deployments": [
            {
                "name": deployment.name,
                "entrypoint": deployment.file_entrypoint,
                "description": deployment.description,
                "tags": list(deployment.tags),
                "parameters": dict(deployment.parameters),
                "schedules": deployment.schedule_entries(),
                "concurrency_limit": deployment.concurrency_entry(settings),
                # Heartbeats, which the zombie-run automation (flows/automations.py) watches.
                "work_pool": {"name": WORK_POOL, "work_queue_name": "default", "job_variables": {
                    "env": {"PREFECT_FLOWS_HEARTBEAT_FREQUENCY": str(HEARTBEAT_SECONDS)}}},
            }
            for deployment in DEPLOYMENTS
        ],
    }
    return _PREFECT_YAML_HEADER + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=88)


if __name__ == "__main__":
    from pipeline.config import get_settings

    print(prefect_yaml(get_settings()), end="")
