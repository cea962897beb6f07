# newsflow in a container. Default command: `newsflow serve` (the scheduled
# deployments); `docker compose run --rm app newsflow ingest` runs once, and
# `prefect worker start --pool newsflow` makes it a worker (see prefect.yaml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# psql, for `newsflow db shell`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Dependencies first (the slow layer), with the pinned versions.
COPY pyproject.toml constraints.txt README.md ./
COPY pipeline ./pipeline
COPY flows ./flows
RUN pip install -c constraints.txt .
COPY prefect.yaml ./
COPY seeds ./seeds

RUN useradd --create-home --uid 10001 newsflow \
    && mkdir -p /data && chown newsflow /data
USER newsflow

# Local state (only used when DATABASE_URL / PREFECT_API_URL are unset);
# NEWSFLOW_PROJECT_DIR is where prefect.yaml's pull step changes into on a worker.
ENV NEWSFLOW_DATA_DIR=/data \
    PREFECT_HOME=/data/prefect \
    NEWSFLOW_PROJECT_DIR=/app \
    PREFECT_SERVER_ANALYTICS_ENABLED=false

CMD ["newsflow", "serve"]
