# newsflow in a container. Default command: `newsflow serve` (the scheduled
# deployments); `docker compose run --rm app newsflow ingest` runs once, and
# `prefect worker start --pool newsflow` makes it a worker (see prefect.yaml).
#
# The base image is pinned by digest: python:3.11-slim as published on
# 2026-08-05 (Python 3.11.15, Debian trixie; the digest of the multi-platform
# index, as docker-library/repo-info records it). How to move it:
# docs/operations.md#supply-chain.
FROM python:3.11-slim@sha256:90744cff8f32887f075c47d747a173ff333e9e98801667af93c357fa9f5e28ff

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# psql, for `newsflow db shell`.
RUN apt-get update \
    && apt-get install -y --no-install-recommends postgresql-client \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# The dependencies in a layer of their own, from the lock alone (every file
# checked against its hash): a change to newsflow's code or to pyproject.toml
# reuses this layer, only a change to the lock rebuilds it.
COPY requirements-pip.lock requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements-pip.lock \
    && pip install --require-hashes --no-deps -r requirements.lock
# newsflow itself, built by the locked setuptools (no build isolation, which
# would fetch an unpinned one), and nothing else installed with it.
COPY pyproject.toml README.md ./
COPY pipeline ./pipeline
COPY flows ./flows
RUN pip install --no-deps --no-build-isolation . && pip check
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
