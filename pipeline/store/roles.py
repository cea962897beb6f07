"""Who may read the database: the read-only role and the login roles that hold it."""

from __future__ import annotations

from psycopg import sql
from sqlalchemy import Connection, text

# Created, with SELECT on every table and view, by migration 0007.
READER_ROLE = "newsflow_reader"


def role_exists(conn: Connection, name: str) -> bool:
    exists = text("SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :name)")
    return conn.execute(exists, {"name": name}).scalar_one()


def grant_reader(conn: Connection, user: str) -> None:
    """Make the existing role ``user`` a member of the read-only role."""
    # A role name is an identifier, not a value: it cannot be a bound parameter.
    statement = sql.SQL("GRANT {} TO {}").format(sql.Identifier(READER_ROLE), sql.Identifier(user))
    conn.exec_driver_sql(statement.as_string(conn.connection.dbapi_connection))
