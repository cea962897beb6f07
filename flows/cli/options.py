"""Option values that several commands take: an age such as 30m, 24h, 7d or 2w."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import typer


def parse_age(value: str) -> datetime:
    """An option's age (30m, 24h, 7d, 2w) as the moment that long ago."""
    match = re.fullmatch(r"\s*(\d+)\s*([mhdw])\s*", value.lower())
    if not match:
        raise typer.BadParameter("use a number and m, h, d or w: 30m, 24h, 7d, 2w")
    unit = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
    try:
        return datetime.now(UTC) - timedelta(**{unit: int(match.group(1))})
    except (OverflowError, ValueError):  # before the year 1, or a number of thousands of digits
        raise typer.BadParameter(f"{value.strip()} ago is before the calendar starts") from None
