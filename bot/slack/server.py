"""Run modes. HTTP: Bolt's WSGI adapter served by waitress (one process) or gunicorn (several).
Socket Mode: Bolt's built-in client.

HTTP mode answers ``POST /slack/events`` (commands, events and interactivity all use the
one Request URL) and ``GET /healthz`` for load balancers and probes.

One Python process runs one thread at a time, so a busy bot (many interviews answering at
once) is served by several processes: ``serve_processes`` runs gunicorn's pre-fork master
with threaded workers, each building its own engine and Bolt app after the fork. Nothing is
shared between them but the database, which is where interview state lives anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.app.base import BaseApplication
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress import create_server

from bot.ops.heap import freeze_startup_heap

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
    """A waitress server for the Bolt app, served in the foreground; ``port=0`` picks a free port
    (see ``.port``).

    It stops the way waitress supports: SIGINT, or SIGTERM raising ``SystemExit`` (the CLI's
    handler), ends ``run()``, which then stops its worker threads. Waitress has no public way
    to stop a server from another thread, so tests serve the same ``wsgi_app`` on a stdlib
    server they can shut down (``tests/fakes/slack_harness.py``).
    """

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

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}{EVENTS_PATH}"

    def serve_forever(self) -> None:
        """Serve until SIGINT, or SIGTERM turned into ``SystemExit``."""
        self.server.run()


def socket_mode_handler(app: App, app_token: str) -> SocketModeHandler:
    """Bolt's built-in Socket Mode client; it asks ``apps.connections.open`` through the app's client."""
    return SocketModeHandler(app, app_token)


def run_socket_mode(app: App, app_token: str) -> None:
    """Connect over a WebSocket and serve until interrupted."""
    socket_mode_handler(app, app_token).start()


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    """gunicorn configured in code: ``make_app`` runs in each worker, after the fork."""

    def __init__(self, make_app: Callable[[], App], options: dict[str, Any]) -> None:
        self.make_app, self.options = make_app, options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return wsgi_app(self.make_app())


def serve_processes(
    make_app: Callable[[], App],
    *,
    host: str,
    port: int,
    processes: int,
    threads: int = 16,
    graceful_s: int = 30,
    on_worker_ready: Callable[[], None] | None = None,
) -> None:
    """Serve HTTP mode from ``processes`` gunicorn workers until SIGTERM or SIGINT.

    On shutdown each worker stops taking requests, then waits (up to ``graceful_s``) for the
    interview work its acknowledged requests started, so no answer is dropped half-graded.
    """
    built: list[App] = []  # the app of this worker process (after the fork)

    def build() -> App:
        built.append(make_app())
        return built[-1]

    def worker_ready(_worker: Any) -> None:
        freeze_startup_heap()  # this worker's app is built (gunicorn loads it before this hook)
        if on_worker_ready is not None:
            on_worker_ready()

    def worker_exit(_arbiter: Any, _worker: Any) -> None:
        for app in built:
            app.listener_runner.listener_executor.shutdown(wait=True)

    _Gunicorn(
        build,
        {
            "bind": f"{host}:{port}",
            "workers": processes,
            "worker_class": "gthread",
            "threads": threads,
            "backlog": 2048,
            "graceful_timeout": graceful_s,
            "timeout": max(60, graceful_s),
            "proc_name": "mockingbird-slack",
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "warning",
            "post_worker_init": worker_ready,
            "worker_exit": worker_exit,
        },
    ).run()
