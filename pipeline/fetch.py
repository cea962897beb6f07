"""The HTTP client: size and time limits, per-host concurrency, conditional GET,
and a guard that refuses loopback/private addresses at connect time.

The guard sits in the connection layer (an httpcore network backend, which
``pipeline.transport`` gives the connection pool) rather than in front of the
request, so every hop of a redirect chain and every re-resolution of a name
is checked on the address actually dialled: a feed cannot make newsflow
fetch from the machine it runs on, and DNS rebinding cannot get around the
check.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
import zlib
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

import httpcore
import httpx
from protego import Protego

from pipeline.config import Settings
from pipeline.retry import Backoff, GaveUp, retry_async
from pipeline.transport import GuardedTransport

HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(Exception):
    """Fetching one URL failed; the message says why in a line, ``kind`` in a
    word (http, timeout, network, refused, too-large, redirects, robots,
    content-type, invalid-url, unexpected) and ``status`` gives the HTTP
    status where there was one."""

    def __init__(self, url: str, message: str, kind: str = "network", status: int | None = None):
        super().__init__(message)
        self.url = url
        self.kind = kind
        self.status = status


class RefusedAddressError(httpcore.ConnectError):
    """A connection to a non-public address that the settings do not allow."""


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    content: bytes
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    # (status, url) of each redirect hop, in order.
    redirects: list[tuple[int, str]] = field(default_factory=list)

    @property
    def permanent_redirect(self) -> str | None:
        """Where the URL has moved for good, when every hop was permanent (301/308)."""
        if self.redirects and all(status in (301, 308) for status, _ in self.redirects):
            return self.final_url
        return None

    @property
    def not_modified(self) -> bool:
        return self.status == 304


# ---------------------------------------------------------------- the guard


class HostAllowList:
    """Hosts, host:port pairs and CIDR ranges that may be non-public."""

    def __init__(self, spec: str):
        self.allow_all = False
        self.hosts: set[str] = set()
        self.host_ports: set[tuple[str, int]] = set()
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for item in (part.strip().lower() for part in spec.split(",")):
            if not item:
                continue
            if item == "*":
                self.allow_all = True
                continue
            try:
                self.networks.append(ipaddress.ip_network(item.strip("[]"), strict=False))
                continue
            except ValueError:
                pass
            host, sep, port = item.rpartition(":")
            if sep and port.isdigit() and host:
                self.host_ports.add((host.strip("[]"), int(port)))
            else:
                self.hosts.add(item.strip("[]"))

    def allows(self, host: str, port: int, address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        host = host.lower().strip("[]")
        if self.allow_all or host in self.hosts or (host, port) in self.host_ports:
            return True
        if (str(address), port) in self.host_ports or str(address) in self.hosts:
            return True
        return any(address in network for network in self.networks)


def non_public_reason(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address must not be fetched by default, or None if it is public."""
    if isinstance(address, ipaddress.IPv6Address):
        mapped = address.ipv4_mapped or (address.sixtofour if address.sixtofour else None)
        if mapped is not None:
            return non_public_reason(mapped)
    if address.is_loopback:
        return "loopback address"
    if address.is_link_local:
        return "link-local address"
    if address.is_multicast:
        return "multicast address"
    if address.is_unspecified:
        return "unspecified address"
    if address.is_private:
        return "private address"
    if address.is_reserved or not address.is_global:
        return "reserved address"
    return None


class GuardedNetworkBackend(httpcore.AsyncNetworkBackend):
    """Resolves, checks, then dials the checked address itself."""

    def __init__(self, allow: HostAllowList, inner: httpcore.AsyncNetworkBackend):
        self.allow = allow
        self.inner = inner

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        try:
            # An address literal needs no resolver (and no resolver thread).
            found = [ipaddress.ip_address(host.strip("[]"))]
        except ValueError:
            found = await self._resolve(host, port, timeout)
        addresses = []
        for address in found:
            reason = non_public_reason(address)
            if reason and not self.allow.allows(host, port, address):
                raise RefusedAddressError(f"refused: {reason} {address}")
            addresses.append(str(address))
        last_error: Exception | None = None
        for address in dict.fromkeys(addresses):
            try:
                return await self.inner.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address,
                    socket_options=socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
        raise last_error or httpcore.ConnectError(f"no address for {host}")

    @staticmethod
    async def _resolve(host, port, timeout) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except (socket.gaierror, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]

    async def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never configured
        raise RefusedAddressError("refused: unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


# ---------------------------------------------------------------- the client


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One verifying TLS context per process: building one reads the CA
    bundle (tens of milliseconds), and every batch gets a new client."""
    return httpx.create_ssl_context(verify=True)


def build_client(settings: Settings) -> httpx.AsyncClient:
    """One client per batch: pooled connections, limits and the guard.  The
    transport opens every connection through the guard, or sends nothing
    (``pipeline.transport``)."""
    transport = GuardedTransport(
        GuardedNetworkBackend(HostAllowList(settings.allow_private_hosts), httpcore.AnyIOBackend()),
        ssl_context=_tls_context(),
        limits=httpx.Limits(max_connections=settings.max_connections,
                            max_keepalive_connections=settings.max_connections),
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.full_user_agent, "Accept-Encoding": "gzip, deflate"},
        trust_env=False,  # a proxy from the environment would bypass the guard
        # Every hop of a redirect chain, not only the URL we were given.
        event_hooks={"request": [_check_request_url]},
    )


class InvalidURLError(Exception):
    """A URL no request can be made to (bad host, port or scheme)."""


def url_problem(url: str | httpx.URL) -> str | None:
    """Why no request can be made to ``url``, or None.  httpx parses some
    URLs the socket layer then rejects with exceptions that are not
    httpx's (port 99999: OverflowError inside a task group), and
    urllib.parse rejects others httpx accepts; both must agree first."""
    try:
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        urlsplit(str(url)).port  # raises ValueError for what urllib cannot read
        host, port = parsed.host, parsed.port  # .host decodes IDNA ("xn--a" fails here)
    except (httpx.InvalidURL, ValueError) as exc:  # UnicodeError (IDNA) is a ValueError
        return f"invalid URL: {_first_line(exc)}"
    if parsed.scheme not in ("http", "https"):
        return f"invalid URL: not http(s): {parsed.scheme or 'no scheme'}"
    if not host:
        return "invalid URL: no host"
    if port is not None and not 0 < port < 65536:
        return f"invalid URL: port {port} out of range"
    return None


async def _check_request_url(request: httpx.Request) -> None:
    problem = url_problem(request.url)
    if problem:
        raise InvalidURLError(problem)


class Inflater:
    """Content-Encoding undone with a bound on the output of every step."""

    def __init__(self, encoding: str):
        codings = [part.strip().lower() for part in encoding.split(",") if part.strip()]
        codings = [coding for coding in codings if coding != "identity"]
        if len(codings) > 1 or (codings and codings[0] not in {"gzip", "x-gzip", "deflate"}):
            raise httpx.DecodingError(f"unsupported content encoding: {encoding}")
        self.coding = codings[0] if codings else None
        self.identity = self.coding is None
        self._raw_deflate = False
        self._inflate = self._new()

    def _new(self):
        if self.coding in {"gzip", "x-gzip"}:
            return zlib.decompressobj(zlib.MAX_WBITS | 16)
        # "deflate" is meant to be zlib-wrapped, but some servers send it raw.
        return zlib.decompressobj(-zlib.MAX_WBITS if self._raw_deflate else zlib.MAX_WBITS)

    def feed(self, data: bytes, room: int) -> bytes:
        """Inflate ``data``, returning at most ``room + 1`` bytes: enough for
        the caller to see the limit is passed, never the whole expansion."""
        out = bytearray()
        pending = data
        while pending and len(out) <= room:
            try:
                out += self._inflate.decompress(pending, room + 1 - len(out))
            except zlib.error as exc:
                if self.coding == "deflate" and not self._raw_deflate and not out:
                    self._raw_deflate = True
                    self._inflate = self._new()
                    continue
                raise httpx.DecodingError(f"broken {self.coding} body: {exc}") from None
            pending = self._inflate.unconsumed_tail
        return bytes(out)


class TransientHTTPError(Exception):
    """A response worth asking again for: 429 or 5xx."""

    kind = "http"

    def __init__(self, status: int, retry_after: float | None):
        super().__init__(f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


# ASCII digits only: "²".isdigit() is true and float("²") raises.
_DELTA_SECONDS = re.compile(r"[0-9]{1,10}")


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date);
    None for anything else."""
    if not value:
        return None
    value = value.strip()
    if _DELTA_SECONDS.fullmatch(value):
        return float(value)
    when = parse_http_date(value)
    if when is None:
        return None
    return max(0.0, when.timestamp() - (now if now is not None else time.time()))


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (Retry-After, Expires) with its time zone; None for
    anything else, a year past 9999 included."""
    # The date parser takes any Unicode digit int() takes ("١٢"): not HTTP.
    if not value or not value.isascii():
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, OverflowError, IndexError):
        return None
    return when if when.tzinfo is not None else None


_ROBOTS_TTL = 3600.0
_ROBOTS_MAX_BYTES = 512 * 1024
# Hosts whose request times a run remembers.  The least recently asked goes
# first, and by the time this many other hosts were asked its delay (10 s at
# most, the Crawl-delay cap) has long passed: forgetting it costs nothing.
POLITENESS_MAX_HOSTS = 10_000
# robots.txt text a run keeps parsed, by size (each may be 512 KiB); an origin
# forgotten is asked for its robots.txt again, one request.
ROBOTS_CACHE_BYTES = 16 * 1024 * 1024


def host_key(url: str) -> str:
    """The host politeness is owed to: lower-cased name and port, without the
    user info ("a@host" and "B@HOST" are one host)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower(), 0)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class Politeness:
    """What a run owes each host, kept for the whole run: each batch has its
    own client and event loop, but the gap between request starts to a host
    and its robots.txt must not start over with every batch.  Create one per
    run and pass it to every ``run_fetch_*`` call; thread-safe (the flow
    fetches the next batch's pages in a thread)."""

    def __init__(self, max_hosts: int = POLITENESS_MAX_HOSTS, robots_bytes: int = ROBOTS_CACHE_BYTES):
        self._lock = threading.Lock()
        self._max_hosts = max_hosts
        self._robots_bytes = robots_bytes
        # host key -> [next start (monotonic), robots.txt Crawl-delay]
        self._hosts: OrderedDict[str, list[float]] = OrderedDict()
        # origin -> (expires (monotonic), rules or None for "allow all", size)
        self._robots: OrderedDict[str, tuple[float, Protego | None, int]] = OrderedDict()
        self._robots_size = 0

    def reserve_start(self, host: str, delay: float, max_crawl_delay: float) -> float:
        """When the next request to ``host`` may start (monotonic): no sooner
        than ``delay``, or the host's Crawl-delay up to ``max_crawl_delay``,
        after the one before it."""
        with self._lock:
            state = self._hosts.pop(host, None) or [0.0, 0.0]
            self._hosts[host] = state
            while len(self._hosts) > self._max_hosts:
                self._hosts.popitem(last=False)
            start = max(time.monotonic(), state[0])
            state[0] = start + max(delay, min(state[1], max_crawl_delay))
            return start

    def set_crawl_delay(self, host: str, seconds: float) -> None:
        with self._lock:
            state = self._hosts.pop(host, None) or [0.0, 0.0]
            state[1] = seconds
            self._hosts[host] = state
            while len(self._hosts) > self._max_hosts:
                self._hosts.popitem(last=False)

    def robots(self, origin: str) -> tuple[bool, Protego | None]:
        """(known, rules) of an origin's robots.txt; rules None allows all."""
        with self._lock:
            cached = self._robots.get(origin)
            if cached is None or cached[0] < time.monotonic():
                return False, None
            self._robots.move_to_end(origin)
            return True, cached[1]

    def remember_robots(self, origin: str, rules: Protego | None, size: int) -> None:
        with self._lock:
            old = self._robots.pop(origin, None)
            if old is not None:
                self._robots_size -= old[2]
            self._robots[origin] = (time.monotonic() + _ROBOTS_TTL, rules, size)
            self._robots_size += size
            while self._robots_size > self._robots_bytes and len(self._robots) > 1:
                self._robots_size -= self._robots.popitem(last=False)[1][2]


class Fetcher:
    """Fetches URLs with one shared client, politely: at most N requests to a
    host at once and a minimum gap between their starts, robots.txt for pages,
    retries with back-off for transient failures only."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings, politeness: Politeness | None = None):
        self.client = client
        self.settings = settings
        self.politeness = politeness if politeness is not None else Politeness()
        self._global = asyncio.Semaphore(settings.max_connections)
        # Requests at once per host: this batch's own, like its connections.
        self._slots: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host_connections)
        )
        self._robots_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._backoff = Backoff(
            settings.retries + 1, settings.retry_backoff, jitter=True, max_wait=settings.max_retry_wait
        )

    async def fetch(
        self,
        url: str,
        *,
        max_bytes: int,
        accept: str = "*/*",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        problem = url_problem(url)
        if problem:
            raise FetchError(url, problem, "invalid-url")
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            return await retry_async(
                lambda: self._fetch_once(url, headers, max_bytes), self._backoff,
                transient=lambda exc: isinstance(exc, (TransientHTTPError, _TransientNetworkError)),
                requested_wait=lambda exc: exc.retry_after,
            )
        except GaveUp as stop:
            last = stop.error
            if stop.wait is not None:
                message = f"{last}: retry after {stop.wait:.0f} s"
            else:
                message = f"{last} (after {stop.attempts} attempts)" if stop.attempts > 1 else str(last)
            raise FetchError(url, message, last.kind, last.status) from None

    async def _fetch_once(self, url: str, headers: dict[str, str], max_bytes: int) -> FetchResult:
        host = host_key(url)
        async with self._global, self._slots[host]:
            await self._wait_turn(host)
            try:
                async with asyncio.timeout(self.settings.total_timeout):
                    return await self._get(url, headers, max_bytes)
            except TimeoutError:
                raise _TransientNetworkError(
                    f"timed out after {self.settings.total_timeout:g} s", "timeout"
                ) from None
            except httpx.TooManyRedirects:
                raise FetchError(
                    url, f"more than {self.settings.max_redirects} redirects", "redirects"
                ) from None
            except httpx.TransportError as exc:
                if _is_refusal(exc):
                    raise FetchError(url, _describe(exc), "refused") from None
                kind = "timeout" if isinstance(exc, httpx.TimeoutException) else "network"
                raise _TransientNetworkError(_describe(exc), kind) from None
            except httpx.HTTPError as exc:
                raise FetchError(url, _describe(exc)) from None
            except InvalidURLError as exc:  # a redirect hop's, from the request hook
                raise FetchError(url, str(exc), "invalid-url") from None
            except (httpx.InvalidURL, ValueError) as exc:
                # httpx reads a redirect's Location with errors it does not wrap (IDNA).
                raise FetchError(url, f"invalid URL: {_first_line(exc)}", "invalid-url") from None

    async def _wait_turn(self, host: str) -> None:
        """Space the starts of requests to one host by the configured delay
        (or the site's robots.txt Crawl-delay, when longer)."""
        start = self.politeness.reserve_start(host, self.settings.per_host_delay, self.settings.max_crawl_delay)
        wait = start - time.monotonic()
        if wait > 0:
            await asyncio.sleep(wait)

    async def _get(self, url: str, headers: dict[str, str], max_bytes: int) -> FetchResult:
        async with self.client.stream("GET", url, headers=headers) as response:
            status = response.status_code
            if status == 304:
                return FetchResult(url, str(response.url), 304, b"")
            if status == 429 or status >= 500:
                raise TransientHTTPError(status, parse_retry_after(response.headers.get("retry-after")))
            if status >= 400:
                raise FetchError(url, f"HTTP {status}", "http", status)
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(url, f"too large: {int(declared)} bytes > {max_bytes}", "too-large")
            chunks: list[bytes] = []
            size = 0
            # The raw bytes are inflated here, never more than the limit at a
            # time: httpx would inflate each network read whole, so a 64 KiB
            # gzip bomb would cost 64 MiB before any size check could stop it.
            inflater = Inflater(response.headers.get("content-encoding", ""))
            async for raw in response.aiter_raw():
                chunk = raw if inflater.identity else inflater.feed(raw, max_bytes - size)
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(url, f"too large: more than {max_bytes} bytes", "too-large")
                chunks.append(chunk)
            return FetchResult(
                url=url,
                final_url=str(response.url),
                status=status,
                content=b"".join(chunks),
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
                headers=dict(response.headers),
                redirects=[(r.status_code, str(r.url)) for r in response.history],
            )

    async def robots_allows(self, url: str) -> bool:
        """Whether robots.txt of the URL's site lets our user agent fetch it."""
        host = host_key(url)
        origin = f"{urlsplit(url).scheme.lower()}://{host}"
        async with self._robots_locks[origin]:
            known, rules = self.politeness.robots(origin)
            if not known:
                rules, size = await self._load_robots(origin)
                self.politeness.remember_robots(origin, rules, size)
        if rules is None:
            return True
        delay = rules.crawl_delay(self.settings.user_agent)
        if delay:
            self.politeness.set_crawl_delay(host, float(delay))
        return rules.can_fetch(url, self.settings.user_agent)

    async def _load_robots(self, origin: str) -> tuple[Protego | None, int]:
        """The rules and their size.  RFC 9309: a missing robots.txt (4xx)
        allows everything; an unreachable one (5xx, network) allows nothing
        for now."""
        try:
            result = await self.fetch(origin + "/robots.txt", max_bytes=_ROBOTS_MAX_BYTES)
        except FetchError as exc:
            if exc.kind == "refused":
                raise  # the page's own error: its address may not be fetched at all
            if (exc.status is not None and 400 <= exc.status < 500) or exc.kind == "too-large":
                return None, 0
            return Protego.parse("User-agent: *\nDisallow: /"), 0
        return Protego.parse(result.content.decode("utf-8", errors="replace")), len(result.content)

    async def fetch_pages(self, urls: Sequence[str]) -> list[FetchResult | FetchError]:
        """Fetch article pages concurrently; each result or error in input order."""

        async def one(url: str) -> FetchResult | FetchError:
            try:
                problem = url_problem(url)
                if problem:
                    return FetchError(url, problem, "invalid-url")
                if self.settings.respect_robots and not await self.robots_allows(url):
                    return FetchError(url, "disallowed by robots.txt", "robots")
                result = await self.fetch(
                    url, max_bytes=self.settings.max_page_bytes,
                    accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                )
            except FetchError as exc:
                return exc
            except Exception as exc:  # noqa: BLE001
                return _unexpected(url, exc)
            media_type = (result.content_type or "text/html").split(";")[0].strip().lower()
            if media_type not in HTML_TYPES:
                return FetchError(url, f"not an HTML page: {media_type}", "content-type")
            return result

        return list(await asyncio.gather(*(one(url) for url in urls)))


    async def fetch_feeds(
        self, feeds: Sequence[tuple[str, str | None, str | None]]
    ) -> list[FetchResult | FetchError]:
        """Fetch feeds given as (url, etag, last_modified); 304 means unchanged."""

        async def one(url: str, etag: str | None, last_modified: str | None):
            try:
                return await self.fetch(
                    url, max_bytes=self.settings.max_feed_bytes,
                    accept="application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5",
                    etag=etag, last_modified=last_modified,
                )
            except FetchError as exc:
                return exc
            except Exception as exc:  # noqa: BLE001
                return _unexpected(url, exc)

        return list(await asyncio.gather(*(one(*feed) for feed in feeds)))


class _TransientNetworkError(Exception):
    """A connect error or a timeout: worth another attempt."""

    status = None
    retry_after = None

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _is_refusal(exc: BaseException) -> bool:
    """Whether the guard refused the address: final, not transient.  httpx
    wraps the guard's error, keeping it as the cause."""
    while exc is not None:
        if isinstance(exc, RefusedAddressError):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return _first_line(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def _unexpected(url: str, exc: Exception) -> FetchError:
    """The last line of defence: whatever a dependency raises for one URL
    costs that URL, never the batch (and so never the run)."""
    return FetchError(url, f"unexpected {type(exc).__name__}: {_first_line(exc)}", "unexpected")


def run_fetch_pages(
    urls: Iterable[str], settings: Settings, politeness: Politeness | None = None
) -> list[FetchResult | FetchError]:
    """Synchronous entry for callers without an event loop: one client for
    the lot.  ``politeness``: the run's (see Politeness); a new one if None."""

    async def main() -> list[FetchResult | FetchError]:
        async with build_client(settings) as client:
            return await Fetcher(client, settings, politeness).fetch_pages(list(urls))

    return asyncio.run(main())


def run_fetch_feeds(
    feeds: Iterable[tuple[str, str | None, str | None]], settings: Settings,
    politeness: Politeness | None = None,
) -> list[FetchResult | FetchError]:
    async def main() -> list[FetchResult | FetchError]:
        async with build_client(settings) as client:
            return await Fetcher(client, settings, politeness).fetch_feeds(list(feeds))

    return asyncio.run(main())
