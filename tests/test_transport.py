"""The fetch client's transport (pipeline/transport.py) against a real server
on 127.0.0.1: every connection through the guard, or no request at all."""

from __future__ import annotations

import asyncio
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpcore
import httpx
import pytest

from pipeline.config import Settings
from pipeline.fetch import GuardedNetworkBackend, HostAllowList, RefusedAddressError, build_client
from pipeline.transport import BackendNotInstalled, GuardedTransport, _as_httpx_errors

BODY = b"<html><body><p>Hello.</p></body></html>"


class CountingHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the fetch client expects of news sites

    def log_message(self, format, *args):  # noqa: A002
        pass

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.server.paths.append(self.path)
        if self.path == "/slow":
            time.sleep(1.5)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), CountingHandler)
    httpd.daemon_threads = True
    httpd.paths = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def base_url(httpd) -> str:
    return f"http://127.0.0.1:{httpd.server_address[1]}"


class RecordingBackend(GuardedNetworkBackend):
    """The guard, allowing everything, remembering each connection it opened."""

    def __init__(self):
        super().__init__(HostAllowList("*"), httpcore.AnyIOBackend())
        self.connections: list[tuple[str, int]] = []

    async def connect_tcp(self, host, port, **options):
        self.connections.append((host, port))
        return await super().connect_tcp(host, port, **options)


def transport(backend, **options) -> GuardedTransport:
    return GuardedTransport(backend, ssl_context=httpx.create_ssl_context(),
                            limits=httpx.Limits(max_connections=4, max_keepalive_connections=4), **options)


# -------------------------------------------------------------- failing closed


def pool_without_a_backend_argument(*, ssl_context, max_connections, max_keepalive_connections,
                                    keepalive_expiry, http1, http2):
    """An httpcore whose pool no longer takes network_backend."""
    return httpcore.AsyncConnectionPool(
        ssl_context=ssl_context, max_connections=max_connections,
        max_keepalive_connections=max_keepalive_connections, keepalive_expiry=keepalive_expiry,
        http1=http1, http2=http2,
    )


def pool_ignoring_the_backend(*, network_backend, **options):
    """An httpcore whose pool takes network_backend and dials without it."""
    return httpcore.AsyncConnectionPool(**options)


@pytest.mark.integration
def test_a_pool_that_no_longer_takes_the_backend_is_no_transport(server):
    with pytest.raises(BackendNotInstalled, match="no longer takes network_backend"):
        transport(RecordingBackend(), pool_class=pool_without_a_backend_argument)
    assert server.paths == []


@pytest.mark.integration
def test_a_pool_that_ignores_the_backend_sends_no_request(server):
    url = base_url(server) + "/page"

    async def main():
        # Opened with `async with`, as the fetch client is: it fails there.
        with pytest.raises(BackendNotInstalled, match="did not connect through the network backend"):
            async with httpx.AsyncClient(transport=transport(RecordingBackend(),
                                                             pool_class=pool_ignoring_the_backend)):
                pass
        # Used without it: each request fails before it is sent.
        client = httpx.AsyncClient(transport=transport(RecordingBackend(), pool_class=pool_ignoring_the_backend))
        for _ in range(2):
            with pytest.raises(BackendNotInstalled):
                await client.get(url)
        await client.aclose()

    asyncio.run(main())
    assert server.paths == []


# -------------------------------------------------------------- doing what httpx's transport does


@pytest.mark.integration
def test_every_connection_is_opened_by_the_backend_and_kept_alive(server):
    backend = RecordingBackend()
    url = base_url(server)

    async def main():
        async with httpx.AsyncClient(transport=transport(backend)) as client:
            first = await client.get(url + "/one")
            async with client.stream("GET", url + "/two") as streamed:
                body = b"".join([chunk async for chunk in streamed.aiter_raw()])
            return first, body

    first, body = asyncio.run(main())
    assert (first.status_code, first.content, first.headers["content-type"]) == (200, BODY, "text/html")
    assert first.http_version == "HTTP/1.1"
    assert body == BODY
    assert server.paths == ["/one", "/two"]
    # One connection for both requests: keep-alive, opened by the backend.
    assert backend.connections == [("127.0.0.1", server.server_address[1])]


@pytest.mark.integration
def test_a_refusal_arrives_as_an_httpx_connect_error_caused_by_the_guard(server):
    settings = Settings(allow_private_hosts="")

    async def main():
        async with build_client(settings) as client:
            await client.get(base_url(server) + "/page")

    with pytest.raises(httpx.ConnectError, match="refused: loopback address 127.0.0.1") as caught:
        asyncio.run(main())
    assert isinstance(caught.value.__cause__, RefusedAddressError)
    assert server.paths == []


@pytest.mark.integration
def test_the_request_timeouts_reach_the_connection(server):
    async def main():
        async with httpx.AsyncClient(transport=transport(RecordingBackend()), timeout=0.3) as client:
            await client.get(base_url(server) + "/slow")

    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout) as caught:
        asyncio.run(main())
    assert time.monotonic() - started < 1.2
    assert isinstance(caught.value.__cause__, httpcore.ReadTimeout)


@pytest.mark.parametrize(("raised", "expected"), [
    (httpcore.ConnectTimeout("c"), httpx.ConnectTimeout),
    (httpcore.ReadTimeout("r"), httpx.ReadTimeout),
    (httpcore.PoolTimeout("p"), httpx.PoolTimeout),
    (httpcore.ConnectError("c"), httpx.ConnectError),
    (RefusedAddressError("refused: x"), httpx.ConnectError),
    (httpcore.ReadError("r"), httpx.ReadError),
    (httpcore.RemoteProtocolError("r"), httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError("l"), httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol("u"), httpx.UnsupportedProtocol),
])
def test_httpcore_errors_become_the_most_specific_httpx_error(raised, expected):
    with pytest.raises(httpx.TransportError) as caught, _as_httpx_errors():
        raise raised
    assert type(caught.value) is expected
    assert caught.value.__cause__ is raised
    assert str(caught.value) == str(raised)


def test_other_errors_pass_unchanged():
    with pytest.raises(KeyError), _as_httpx_errors():
        raise KeyError("not httpcore's")
