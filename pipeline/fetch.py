"""The HTTP client: size and time limits, per-host concurrency, conditional GET,
and a guard that refuses loopback/private addresses at connect time.

The guard sits in the connection layer (an httpcore network backend) rather
than in front of the request, so every hop of a redirect chain and every
re-resolution of a name is checked on the address actually dialled: a feed
cannot make newsflow fetch from the machine it runs on, and DNS rebinding
cannot get around the check.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpcore
import httpx

from pipeline.config import Settings

HTML_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(Exception):
    """Fetching one URL failed; the message says why in a line."""

    def __init__(self, url: str, message: str):
        super().__init__(message)
        self.url = url


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

    def allows(self, host: str, port: int, address: ipaddress._BaseAddress) -> bool:
        host = host.lower().strip("[]")
        if self.allow_all or host in self.hosts or (host, port) in self.host_ports:
            return True
        if (str(address), port) in self.host_ports or str(address) in self.hosts:
            return True
        return any(address in network for network in self.networks)


def non_public_reason(address: ipaddress._BaseAddress) -> str | None:
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
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout
            )
        except (socket.gaierror, TimeoutError) as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = []
        for info in infos:
            address = ipaddress.ip_address(info[4][0].split("%")[0])
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

    async def connect_unix_socket(self, *args, **kwargs):  # pragma: no cover - never configured
        raise httpcore.ConnectError("refused: unix sockets are not fetched")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


# ---------------------------------------------------------------- the client


def build_client(settings: Settings) -> httpx.AsyncClient:
    """One client per batch: pooled connections, limits and the guard."""
    transport = httpx.AsyncHTTPTransport(
        verify=True,
        trust_env=False,  # a proxy from the environment would bypass the guard
        limits=httpx.Limits(max_connections=settings.max_connections,
                            max_keepalive_connections=settings.max_connections),
    )
    # httpx has no public hook for the network backend; the pool is httpcore's.
    pool = transport._pool
    pool._network_backend = GuardedNetworkBackend(
        HostAllowList(settings.allow_private_hosts), pool._network_backend
    )
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
        follow_redirects=True,
        max_redirects=settings.max_redirects,
        headers={"User-Agent": settings.full_user_agent, "Accept-Encoding": "gzip, deflate"},
        trust_env=False,
    )


class Fetcher:
    """Fetches URLs with one shared client; at most N requests to one host at once."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings):
        self.client = client
        self.settings = settings
        self._global = asyncio.Semaphore(settings.max_connections)
        self._per_host: dict[str, asyncio.Semaphore] = defaultdict(
            lambda: asyncio.Semaphore(settings.per_host_connections)
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
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        host = (urlsplit(url).hostname or "").lower()
        async with self._global, self._per_host[host]:
            try:
                async with asyncio.timeout(self.settings.total_timeout):
                    return await self._get(url, headers, max_bytes)
            except TimeoutError:
                raise FetchError(url, f"timed out after {self.settings.total_timeout:g} s") from None
            except httpx.TooManyRedirects:
                raise FetchError(url, f"more than {self.settings.max_redirects} redirects") from None
            except httpx.HTTPError as exc:
                raise FetchError(url, _describe(exc)) from None

    async def _get(self, url: str, headers: dict[str, str], max_bytes: int) -> FetchResult:
        async with self.client.stream("GET", url, headers=headers) as response:
            if response.status_code == 304:
                return FetchResult(url, str(response.url), 304, b"")
            if response.status_code >= 400:
                raise FetchError(url, f"HTTP {response.status_code}")
            declared = response.headers.get("content-length", "")
            if declared.isdigit() and int(declared) > max_bytes:
                raise FetchError(url, f"too large: {int(declared)} bytes > {max_bytes}")
            chunks: list[bytes] = []
            size = 0
            # aiter_bytes yields decompressed data, so a compression bomb is
            # cut off after max_bytes of output, not after it has expanded.
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(url, f"too large: more than {max_bytes} bytes")
                chunks.append(chunk)
            return FetchResult(
                url=url,
                final_url=str(response.url),
                status=response.status_code,
                content=b"".join(chunks),
                content_type=response.headers.get("content-type"),
                etag=response.headers.get("etag"),
                last_modified=response.headers.get("last-modified"),
            )

    async def fetch_pages(self, urls: Sequence[str]) -> list[FetchResult | FetchError]:
        """Fetch article pages concurrently; each result or error in input order."""

        async def one(url: str) -> FetchResult | FetchError:
            try:
                result = await self.fetch(
                    url, max_bytes=self.settings.max_page_bytes,
                    accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5",
                )
            except FetchError as exc:
                return exc
            media_type = (result.content_type or "text/html").split(";")[0].strip().lower()
            if media_type not in HTML_TYPES:
                return FetchError(url, f"not an HTML page: {media_type}")
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

        return list(await asyncio.gather(*(one(*feed) for feed in feeds)))


def _describe(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0]


def run_fetch_pages(urls: Iterable[str], settings: Settings) -> list[FetchResult | FetchError]:
    """Synchronous entry for callers without an event loop: one client for the lot."""

    async def main() -> list[FetchResult | FetchError]:
        async with build_client(settings) as client:
            return await Fetcher(client, settings).fetch_pages(list(urls))

    return asyncio.run(main())


def run_fetch_feeds(
    feeds: Iterable[tuple[str, str | None, str | None]], settings: Settings
) -> list[FetchResult | FetchError]:
    async def main() -> list[FetchResult | FetchError]:
        async with build_client(settings) as client:
            return await Fetcher(client, settings).fetch_feeds(list(feeds))

    return asyncio.run(main())
