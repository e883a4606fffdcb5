"""Run modes. HTTP: Bolt's WSGI adapter served by waitress. Socket Mode: Bolt's built-in client.

HTTP mode answers ``POST /slack/events`` (commands, events and interactivity all use the
one Request URL) and ``GET /healthz`` for load balancers and probes. ``HttpServer`` can run
in a background thread and stop cleanly, which is what tests and the benchmark use.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import create_server, wasyncore

log = logging.getLogger(__name__)

EVENTS_PATH, HEALTH_PATH = "/slack/events", "/healthz"
WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def wsgi_app(app: App, path: str = EVENTS_PATH) -> WSGIApp:
    """Bolt's WSGI handler plus a health check."""
    bolt = SlackRequestHandler(app, path=path)

    def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == HEALTH_PATH and environ.get("REQUEST_METHOD") == "GET":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        return bolt(environ, start_response)  # type: ignore[arg-type]

    return application


class HttpServer:
    """A waitress server for the Bolt app; ``port=0`` picks a free port (see ``.port``)."""

    def __init__(self, app: App, host: str = "0.0.0.0", port: int = 3000, threads: int = 16) -> None:
        self.server = create_server(
            wsgi_app(app),
            host=host,
            port=port,
            threads=threads,
            ident="mockingbird",
            backlog=2048,
            connection_limit=1000,
            asyncore_use_poll=True,
        )
        self.host, self.port = host, int(self.server.effective_port)  # type: ignore[union-attr]
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{EVENTS_PATH}"

    def serve_forever(self) -> None:
        """Serve until ``stop()`` (or Ctrl-C when run in the foreground)."""
        server = self.server
        try:
            while not self._stopping.is_set():
                wasyncore.loop(timeout=1, map=server._map, use_poll=True, count=1)  # type: ignore[union-attr]
        except (KeyboardInterrupt, SystemExit):
            log.info("stopping the HTTP server")
        finally:
            server.task_dispatcher.shutdown()  # type: ignore[union-attr]
            wasyncore.close_all(server._map)  # type: ignore[union-attr]

    def start(self) -> HttpServer:
        self._thread = threading.Thread(target=self.serve_forever, name="slack-http", daemon=True)
        self._thread.start()
        return self

    def stop_soon(self) -> None:
        """Ask the serving loop to finish (safe from a signal handler)."""
        self._stopping.set()
        self.server.pull_trigger()  # type: ignore[union-attr]  # wakes the loop at once

    def stop(self) -> None:
        self.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout=5)


def socket_mode_handler(app: App, app_token: str) -> SocketModeHandler:
    """Bolt's built-in Socket Mode client; it asks ``apps.connections.open`` through the app's client."""
    return SocketModeHandler(app, app_token)


def run_socket_mode(app: App, app_token: str) -> None:
    """Connect over a WebSocket and serve until interrupted."""
    socket_mode_handler(app, app_token).start()
