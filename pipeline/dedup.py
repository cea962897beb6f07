"""Fingerprints for deduplication: canonical URLs and content hashes.

The URL says "same page", the content hash says "same text": a wire story
carried by two outlets has two URLs and, once cleaned, one hash.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import courlan

# Query parameters that only say where a click came from.  courlan removes
# the common ones (utm_*, fbclid, gclid, ...); these are the rest we meet.
TRACKING_PARAMS = {
    "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "icid", "ncid", "sr_share", "smid",
    "ito", "ref", "ref_src", "referrer", "src", "source", "rss", "feed", "at_medium",
    "at_campaign", "at_custom1", "at_custom2", "at_custom3", "at_custom4", "xtor",
    "_ga", "_gl", "igshid", "mkt_tok", "spm", "wt_mc", "wt.mc_id", "dicbo", "partner",
}
TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "hsa_", "oly_", "vero_")


def canonicalize_url(url: str) -> str:
    """The URL reduced to what identifies the page.

    Lower-cased scheme and host, default port, fragment, tracking
    parameters and AMP forms dropped, remaining parameters sorted.
    """
    url = url.strip()
    try:
        url = courlan.normalize_url(url)
    except (ValueError, TypeError):
        pass
    parts = urlsplit(url)
    query = [
        (key, value)
        for key, value in parse_qsl(parts.query, keep_blank_values=True)
        if key.lower() not in TRACKING_PARAMS and not key.lower().startswith(TRACKING_PREFIXES)
        and not _is_amp_param(key, value)
    ]
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    path = _AMP_PATH.sub(lambda match: match.group("keep") or "", path) or "/"
    netloc = _AMP_HOST.sub("", parts.netloc.lower())
    return urlunsplit((parts.scheme.lower(), netloc, path, urlencode(sorted(query)), ""))


# The AMP edition of a page is the same page: "amp." hosts, "/amp/…" and
# "…/amp" paths, "….amp.html", "?outputType=amp", "?amp=1".
_AMP_HOST = re.compile(r"^amp\.(?=[^.]+\.[^.]+)")
_AMP_PATH = re.compile(r"^/amp(?=/)|/amp$|\.amp(?P<keep>\.html?)$")


def _is_amp_param(key: str, value: str) -> bool:
    key, value = key.lower(), value.lower()
    return (key == "outputtype" and value == "amp") or (key == "amp" and value in {"", "1", "true"})


def site_of(url: str | None) -> str | None:
    """The site a URL belongs to: its host without www./amp./m. prefixes."""
    try:
        host = (urlsplit(url or "").hostname or "").lower()
    except ValueError:
        return None
    return re.sub(r"^(www\d?|amp|m|mobile)\.", "", host) or None


def same_site(first: str, second: str) -> bool:
    """Whether two URLs are on one site (www./amp./m. prefixes ignored)."""
    site = site_of(first)
    return site is not None and site == site_of(second)


def article_url(fetched_url: str, canonical_link: str | None) -> str:
    """The canonical URL of a fetched page: its rel=canonical when that stays on
    the same site (a canonical pointing elsewhere is a syndication claim we do
    not take on trust), otherwise the URL it was fetched from."""
    if canonical_link and same_site(fetched_url, canonical_link):
        return canonicalize_url(canonical_link)
    return canonicalize_url(fetched_url)


_QUOTES = str.maketrans({
    "“": '"', "”": '"', "„": '"', "«": '"', "»": '"', "‘": "'", "’": "'", "‚": "'",
    "–": "-", "—": "-", "‐": "-", "‑": "-", "−": "-",
})


def normalize_text(text: str) -> str:
    """Text folded for comparison: Unicode form, case, quotes, dashes, spacing."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return " ".join(text.split())


def content_hash(text: str) -> str:
    return hashlib.blake2b(normalize_text(text).encode("utf-8"), digest_size=16).hexdigest()
