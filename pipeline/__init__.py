"""The stages of ingestion as plain functions over plain data, and the store.
Nothing here imports Prefect or flows/."""
