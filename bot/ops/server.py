"""The operations endpoint of every long-running process: ``/healthz``, ``/livez`` and ``/metrics``.

A stdlib HTTP server in a daemon thread on ``METRICS_PORT`` (off when unset), so it needs no
framework and dies with the process. Each process calls ``start_ops_server()`` once at
startup; the Celery worker and beat do it through ``bot.ops.worker``'s signals.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from bot.config import Settings, get_settings
from bot.ops.health import HealthChecker
from bot.ops.queues import QueueCollector

log = logging.getLogger(__name__)
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def reset_multiprocess_dir() -> None:
    """Remove samples left by an earlier run (files of dead processes would add up forever)."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return
    directory = Path(path)
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)


_lock = threading.Lock()
_running: OpsServer | None = None


def metrics_registries() -> list[CollectorRegistry]:
    """The registry holding this process's samples; in multiprocess mode, every process's files."""
    path = os.environ.get(MULTIPROC_ENV)
    if not path:
        return [REGISTRY]
    from prometheus_client import multiprocess

    os.makedirs(path, exist_ok=True)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return [registry]


class OpsServer:
    """A running ops endpoint; ``port`` is the bound port (useful when asked for port 0)."""

    def __init__(self, settings: Settings, host: str, port: int) -> None:
        self.health = HealthChecker(settings)
        scraped = CollectorRegistry(auto_describe=False)
        queues = (getattr(settings, "celery_queue", None) or "celery",)
        scraped.register(QueueCollector(settings.redis_url, outbox=self.health.outbox_pending, queues=queues))
        self.registries = [*metrics_registries(), scraped]
        self.httpd = ThreadingHTTPServer((host, port), _handler(self))
        self.httpd.daemon_threads = True
        self.host, self.port = host, int(self.httpd.server_address[1])
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="mockingbird-ops", daemon=True)

    def metrics(self) -> bytes:
        return b"".join(generate_latest(registry) for registry in self.registries)

    def start(self) -> OpsServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        global _running
        self.httpd.shutdown()
        self.httpd.server_close()
        self.health.close()
        with _lock:
            if _running is self:
                _running = None


def _handler(server: OpsServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, body: bytes, content_type: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                self._send(200, server.metrics(), CONTENT_TYPE_LATEST)
            elif path == "/healthz":
                health = server.health.check()
                body = json.dumps(health.as_json()).encode()
                self._send(200 if health.ok else 503, body, "application/json")
            elif path == "/livez":
                self._send(200, b"ok\n", "text/plain; charset=utf-8")
            else:
                self._send(404, b"not found: try /healthz, /livez or /metrics\n", "text/plain; charset=utf-8")

        do_HEAD = do_GET  # noqa: N815

        def log_message(self, format: str, *args: Any) -> None:  # probes every few seconds: keep quiet
            log.debug("ops %s %s", self.address_string(), format % args)

    return Handler


def start_ops_server(settings: Settings | None = None, *, port: int | None = None,
                     host: str = "0.0.0.0") -> OpsServer | None:
    """Serve health and metrics on ``port`` or ``METRICS_PORT``; ``None`` when neither is set.

    Calling it again in the same process returns the server already running.
    """
    global _running
    settings = settings or get_settings()
    chosen = port if port is not None else settings.metrics_port
    if chosen is None:
        return None
    with _lock:
        if _running is not None:
            return _running
        try:
            _running = OpsServer(settings, host, chosen).start()
        except OSError as exc:
            log.error("could not serve health and metrics on %s:%s: %s", host, chosen, exc)
            return None
    log.info("health and metrics on http://%s:%s (/healthz, /livez, /metrics)", host, _running.port)
    return _running
