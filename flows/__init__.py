"""Orchestration and entry points: the Prefect flows, their deployments, the
command line and the worker processes. The stages themselves live in pipeline/."""
