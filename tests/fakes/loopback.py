"""The lifecycle every HTTP fake shares: a ``ThreadingHTTPServer`` on a free loopback port, bound
when the fake is made (so its URL is known before it starts) and served from a daemon thread
between ``start()`` and ``stop()`` (or a ``with`` block); and what a fake records of a request."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self


@dataclass
class Recorded:
    """One request a fake received (``body`` parsed from JSON where it was JSON)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def raw(self) -> str:
        return json.dumps(self.body)


class LoopbackServer:
    _server: ThreadingHTTPServer
    _thread: threading.Thread

    def _listen(
        self, handler: type[BaseHTTPRequestHandler], server: type[ThreadingHTTPServer] = ThreadingHTTPServer
    ) -> None:
        self._server = server(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=type(self).__name__, daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() waits for a serve_forever that never ran otherwise
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
