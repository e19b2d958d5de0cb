"""A real ``mlflow server`` seen as a server without the LoggedModel API (as MLflow 2 servers
are): an HTTP proxy on 127.0.0.1 that passes every request to the server, except those under
``/logged-models``, which get the 404 HTML page a Flask app without the route answers.

MLflow 3's client turns that 404 into ``MlflowException`` with ``ENDPOINT_NOT_FOUND``, as it
does for an MLflow 2 server.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse

#: What Flask answers for a path it has no route for.
NOT_FOUND_PAGE = (
    b"<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n"
    b"<p>The requested URL was not found on the server.</p>\n"
)
#: Hop-by-hop headers a proxy does not pass on.
_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


def _handler(upstream: str) -> type[BaseHTTPRequestHandler]:
    target = urlparse(upstream)

    class Proxy(BaseHTTPRequestHandler):
        def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers:
                if key.lower() not in _HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _forward(self) -> None:
            if "/logged-models" in self.path:
                self._answer(404, [("Content-Type", "text/html; charset=utf-8")], NOT_FOUND_PAGE)
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            conn = http.client.HTTPConnection(target.netloc, timeout=60)
            try:
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                self._answer(response.status, response.getheaders(), response.read())
            finally:
                conn.close()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _forward

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: pytest shows stderr of failing tests

    return Proxy


@contextmanager
def without_logged_models(upstream: str) -> Iterator[str]:
    """The URI of a proxy to the MLflow server at ``upstream`` that has no LoggedModel API,
    served from a thread until the ``with`` block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(upstream))
    thread = threading.Thread(target=server.serve_forever, name="mlflow-old-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(10)
