"""An httpx transport that opens every connection through the network backend
it is given, and sends nothing when it cannot be sure that it does.

httpx's own ``AsyncHTTPTransport`` builds its httpcore connection pool itself
and takes no network backend, so the fetch client's private-network guard
(``pipeline.fetch.GuardedNetworkBackend``) is handed to the pool here instead,
through the pool's public ``network_backend`` argument.  Built from public
names only: ``httpcore.AsyncConnectionPool``, ``httpcore.Request``/``URL``,
``httpx.AsyncBaseTransport``, ``httpx.AsyncByteStream``, ``httpx.Response`` and
both libraries' exception classes.  It does what httpx's transport does for a
request (``httpx/_transports/default.py``, httpx 0.28.1), minus proxies: HTTP/1.1,
the request's timeouts and other extensions passed on to httpcore, the
response body streamed, httpcore's exceptions raised as httpx's with the
original as their ``__cause__``.

Failing closed: a pool that no longer takes ``network_backend`` is an error
when the transport is built (``BackendNotInstalled``).  A pool that takes the
argument and ignores it would dial around the guard, so before its first
request (or when a client opens it with ``async with``) a process checks,
once per pool class, that such a pool asks its backend to connect: it sends a
request to ``127.0.0.1`` port 0 through a pool whose backend only records the
call.  Should the pool dial by itself instead, the kernel refuses that
connection (nothing listens on port 0) and the transport raises
``BackendNotInstalled`` instead of sending any request.
"""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterator
from types import TracebackType

import httpcore
import httpx

__all__ = ["BackendNotInstalled", "GuardedTransport"]

PoolFactory = Callable[..., httpcore.AsyncConnectionPool]


class BackendNotInstalled(RuntimeError):
    """The connection pool would not open its connections through the given
    network backend: no request is sent."""


# Most specific first: the first class a httpcore exception is an instance of
# names the httpx exception raised for it.
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.ProxyError, httpx.ProxyError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextlib.contextmanager
def _as_httpx_errors() -> Iterator[None]:
    """httpcore's exceptions as httpx's, keeping the original as the cause
    (the fetch client tells a guard's refusal by it)."""
    try:
        yield
    except Exception as exc:
        for core_class, httpx_class in _EXCEPTIONS:
            if isinstance(exc, core_class):
                raise httpx_class(str(exc)) from exc
        raise


class _ResponseStream(httpx.AsyncByteStream):
    """A response body as httpcore reads it, its errors as httpx's."""

    def __init__(self, stream: AsyncIterable[bytes]) -> None:
        self._stream = stream

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _as_httpx_errors():
            async for chunk in self._stream:
                yield chunk

    async def aclose(self) -> None:
        with _as_httpx_errors():
            await self._stream.aclose()


class _BackendAsked(Exception):
    """Raised by the probe backend: the pool asked it for a connection."""


class _ProbeBackend(httpcore.AsyncNetworkBackend):
    """A network backend that connects nowhere and says it was asked."""

    async def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):
        raise _BackendAsked

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):
        raise _BackendAsked

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - never asked to wait
        return None


def _pool(pool_class: PoolFactory, network_backend: httpcore.AsyncNetworkBackend,
          ssl_context: ssl.SSLContext | None, limits: httpx.Limits) -> httpcore.AsyncConnectionPool:
    try:
        return pool_class(
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            http1=True,
            http2=False,
            network_backend=network_backend,
        )
    except TypeError as exc:
        raise BackendNotInstalled(
            f"httpcore {httpcore.__version__}: its connection pool no longer takes "
            f"network_backend ({exc}); pipeline/transport.py needs updating"
        ) from exc


def _asked(exc: BaseException | None) -> bool:
    """Whether the probe backend's exception is ``exc`` or behind it."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, _BackendAsked):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


# The pool classes whose pools were seen asking their backend to connect.
_POOLS_THAT_ASK: set[PoolFactory] = set()


async def _check_pool_asks_its_backend(pool_class: PoolFactory) -> None:
    if pool_class in _POOLS_THAT_ASK:
        return
    probe = _pool(pool_class, _ProbeBackend(), None, httpx.Limits(max_connections=1))
    try:
        await probe.handle_async_request(httpcore.Request("GET", "http://127.0.0.1:0/"))
    except Exception as exc:
        if _asked(exc):
            _POOLS_THAT_ASK.add(pool_class)
            return
        # The pool dialled by itself (and port 0 refused it), or called the
        # backend in a way it does not know.
        raise BackendNotInstalled(
            f"httpcore {httpcore.__version__}: its connection pool did not connect through "
            f"the network backend it was given ({type(exc).__name__}: {exc}); "
            "no request is sent until pipeline/transport.py is updated"
        ) from exc
    finally:
        await probe.aclose()
    raise BackendNotInstalled(
        f"httpcore {httpcore.__version__}: a request to port 0 got an answer without the "
        "network backend; no request is sent until pipeline/transport.py is updated"
    )


class GuardedTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over a pool of keep-alive connections, each opened by
    ``network_backend``; no proxies.  ``pool_class`` is httpcore's
    ``AsyncConnectionPool`` (another only for the tests of failing closed)."""

    def __init__(
        self,
        network_backend: httpcore.AsyncNetworkBackend,
        *,
        ssl_context: ssl.SSLContext,
        limits: httpx.Limits,
        pool_class: PoolFactory = httpcore.AsyncConnectionPool,
    ) -> None:
        self._pool_class = pool_class
        self._pool = _pool(pool_class, network_backend, ssl_context, limits)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await _check_pool_asks_its_backend(self._pool_class)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            core_response = await self._pool.handle_async_request(core_request)
        return httpx.Response(
            status_code=core_response.status,
            headers=core_response.headers,
            stream=_ResponseStream(core_response.stream),
            extensions=core_response.extensions,
        )

    async def __aenter__(self) -> GuardedTransport:
        # Checked here as well as per request: a client opened with
        # ``async with`` fails at once, before a batch's first URL.
        await _check_pool_asks_its_backend(self._pool_class)
        await self._pool.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None = None,
        exc_value: BaseException | None = None,
        traceback: TracebackType | None = None,
    ) -> None:
        with _as_httpx_errors():
            await self._pool.__aexit__(exc_type, exc_value, traceback)

    async def aclose(self) -> None:
        await self._pool.aclose()
