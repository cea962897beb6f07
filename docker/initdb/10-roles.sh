#!/usr/bin/env bash
# Creates newsflow's and Prefect's roles and databases with least privilege.
#
# Each role may log in and owns its own database (so it runs its own
# migrations there), and nothing more: no superuser, no CREATEDB, no
# CREATEROLE, and no connection to the other's database. The postgres image
# runs this once, as the cluster superuser, on an empty data directory
# (docker-compose.yml mounts it into /docker-entrypoint-initdb.d);
# tests/test_containers.py runs it against a local PostgreSQL.
#
# Passwords come from the environment (psql's \getenv), never from the
# command line, where any process could read them.
set -euo pipefail

: "${APP_DB_PASSWORD:?the password of newsflow's database role}"
: "${PREFECT_DB_PASSWORD:?the password of Prefect's database role}"
export APP_DB_USER="${APP_DB_USER:-newsflow}" APP_DB_NAME="${APP_DB_NAME:-newsflow}"
export PREFECT_DB_USER="${PREFECT_DB_USER:-prefect}" PREFECT_DB_NAME="${PREFECT_DB_NAME:-prefect}"

psql --no-psqlrc -v ON_ERROR_STOP=1 --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" <<'SQL'
\getenv app_user APP_DB_USER
\getenv app_password APP_DB_PASSWORD
\getenv app_db APP_DB_NAME
\getenv prefect_user PREFECT_DB_USER
\getenv prefect_password PREFECT_DB_PASSWORD
\getenv prefect_db PREFECT_DB_NAME

CREATE ROLE :"app_user" LOGIN PASSWORD :'app_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE DATABASE :"app_db" OWNER :"app_user";
REVOKE ALL ON DATABASE :"app_db" FROM PUBLIC;

CREATE ROLE :"prefect_user" LOGIN PASSWORD :'prefect_password'
    NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
CREATE DATABASE :"prefect_db" OWNER :"prefect_user";
REVOKE ALL ON DATABASE :"prefect_db" FROM PUBLIC;

-- Readers: newsflow's migrations grant read access on its tables and views
-- to newsflow_reader, and `newsflow db grant-reader USER` hands that role
-- out, which needs its admin option (the app role may not create roles).
SELECT 'CREATE ROLE newsflow_reader NOLOGIN'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'newsflow_reader') \gexec
GRANT newsflow_reader TO :"app_user" WITH ADMIN OPTION;
SQL
