"""The database URL from a Prefect Secret block, for ``NEWSFLOW_DATABASE_URL_SECRET``.

Importing ``flows`` registers ``read_secret`` with pipeline/config.py, so the
settings a flow run reads at its start (``get_settings()``) carry the
secret's URL.  Prefect is imported only when a secret is read.
"""

from __future__ import annotations

from pipeline.config import SecretUnavailable


def read_secret(name: str) -> str:
    """The value of the Prefect Secret block ``name`` on the server of the
    current settings (PREFECT_API_URL)."""
    from prefect.blocks.system import Secret

    try:
        value = Secret.load(name).get()
    except ValueError as exc:  # Prefect's "Unable to find block document named ..."
        raise SecretUnavailable(
            f"no Prefect Secret block {name!r} (NEWSFLOW_DATABASE_URL_SECRET): {exc}".splitlines()[0]
        ) from None
    if not isinstance(value, str) or not value:
        raise SecretUnavailable(f"the Prefect Secret block {name!r} holds no database URL")
    return value
