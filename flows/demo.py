"""A static file server on 127.0.0.1 for the demo corpus and the tests."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

DEMO_CORPUS = Path(__file__).resolve().parents[1] / "seeds" / "demo"


class _QuietHandler(SimpleHTTPRequestHandler):
    # Keep-alive, as news sites have: one connection per host for a batch
    # rather than one per page (http.server's default is HTTP/1.0).
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two writes: without TCP_NODELAY the second
    # waits for the client's delayed ACK (40 ms a page on a kept-alive connection).
    disable_nagle_algorithm = True
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".xml": "application/xml",
        ".html": "text/html; charset=utf-8",
    }

    on_request: Callable[[BaseHTTPRequestHandler], None] | None = None

    def log_message(self, format, *args):  # noqa: A002 - signature of the base class
        pass

    def send_head(self):
        if self.on_request is not None:
            self.on_request(self)
        return super().send_head()


@contextlib.contextmanager
def serve_directory(
    root: Path, port: int = 0, on_request: Callable[[BaseHTTPRequestHandler], None] | None = None, *,
    port_required: bool = False, host: str = "127.0.0.1",
) -> Iterator[str]:
    """Serve ``root`` on ``host`` (a loopback address; ``port``, or any free
    port if that is 0, or taken and not ``port_required``: then OSError);
    yields the base URL.  ``on_request`` is called with each GET or HEAD
    request (its ``path``, ``headers``, ``server``), before the answer is sent."""
    handler = partial(
        type("Handler", (_QuietHandler,), {"on_request": staticmethod(on_request)}), directory=str(root)
    )
    try:
        server = ThreadingHTTPServer((host, port), handler)
    except OSError:
        if port_required:
            raise
        server = ThreadingHTTPServer((host, 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="newsflow-file-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
