"""The query planner's statistics of the tables newsflow reads, refreshed on demand."""

from __future__ import annotations

from sqlalchemy import Connection, text

# The tables whose planner statistics matter to the queries of newsflow and its users.
ANALYZED_TABLES = ("articles", "stories", "article_entities", "entities", "article_bands", "feeds")


def refresh_planner_statistics(conn: Connection) -> tuple[str, ...]:
    """ANALYZE the tables in ``ANALYZED_TABLES``; returns their names."""
    conn.execute(text(f"ANALYZE {', '.join(ANALYZED_TABLES)}"))
    return ANALYZED_TABLES
