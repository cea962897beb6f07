"""Bulk writes through COPY, for the loaders that write many rows at once."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection


def copy_rows(conn: Connection, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """COPY rows into a table in the caller's transaction.  Only for rows
    that cannot conflict: those of articles inserted by this transaction."""
    cursor = conn.connection.driver_connection.cursor()
    with cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
