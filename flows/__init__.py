"""Orchestration and entry points: the Prefect flows, their deployments, the
command line and the worker processes. The stages themselves live in pipeline/."""

from flows.secrets import read_secret
from pipeline.config import use_secret_reader

# Settings read in any flow run or command take the database URL from a
# Prefect Secret block when NEWSFLOW_DATABASE_URL_SECRET names one.
use_secret_reader(read_secret)
