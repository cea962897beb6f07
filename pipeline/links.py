"""Links as the stages keep them: resolved against their document, and only if absolute http(s)."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit


def http_url(link: str | None, base: str | None = None) -> str | None:
    """``link`` resolved against ``base`` (when given) if the result is an
    http(s) URL with a host; None for anything else, also for a link urllib
    cannot read ("http://[x", a host that NFKC turns into a separator)."""
    if not link:
        return None
    try:
        url = urljoin(base, link) if base else link
        parts = urlsplit(url)
        has_host = bool(parts.hostname)
    except ValueError:
        return None
    return url if parts.scheme in {"http", "https"} and has_host else None
