"""Keep-alive connections for the Web API client.

slack_sdk's ``WebClient`` sends each call through ``urllib.request.urlopen``, and urllib's stock
handlers send ``Connection: close`` and close the socket after every response: each Web API
call pays a new TCP connection and, against slack.com, a new TLS handshake (tens of
milliseconds, more than the call itself). ``WebClient`` has no transport to plug in, but
``urlopen`` uses the process's installed opener (``urllib.request.install_opener``, public
API); ``reuse_connections`` installs one whose HTTP(S) handler keeps connections open per host
and reuses them, in HTTP mode and Socket Mode alike (both go through ``WebClient``).

The handler is built on ``http.client``'s public API: it reads each response whole (Web API
answers are small), returns the connection to a bounded idle pool unless the server asked to
close it, and retries once on a fresh connection when a pooled one turns out to have been
closed by the server before any response (the request never reached it). Errors (HTTP 429,
5xx) still reach slack_sdk as ``HTTPError`` through urllib's own error processor, so its
retry handlers work unchanged.
"""

from __future__ import annotations

import http.client
import io
import logging
import ssl
import threading
import urllib.error
import urllib.request
import urllib.response
from collections import defaultdict

log = logging.getLogger(__name__)

_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest)


class KeepAliveHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """Opens http:// and https:// URLs over pooled keep-alive connections (thread-safe)."""

    def __init__(self, max_idle_per_host: int = 32, context: ssl.SSLContext | None = None) -> None:
        urllib.request.HTTPHandler.__init__(self)
        urllib.request.HTTPSHandler.__init__(self, context=context)
        self.context = context or ssl.create_default_context()
        self.max_idle = max_idle_per_host
        self.opened = 0  # connections made, for the benchmark's "new connections per call"
        self._idle: dict[tuple[str, str], list[http.client.HTTPConnection]] = defaultdict(list)
        self._lock = threading.Lock()

    def http_open(self, req: urllib.request.Request) -> urllib.response.addinfourl:
        return self._open(req)

    def https_open(self, req: urllib.request.Request) -> urllib.response.addinfourl:
        return self._open(req)

    def _connect(self, req: urllib.request.Request) -> http.client.HTTPConnection:
        with self._lock:
            self.opened += 1
        if req.type == "https":
            return http.client.HTTPSConnection(req.host, timeout=req.timeout, context=self.context)  # type: ignore[attr-defined]
        return http.client.HTTPConnection(req.host, timeout=req.timeout)  # type: ignore[attr-defined]

    def _open(self, req: urllib.request.Request) -> urllib.response.addinfourl:
        if not req.host:
            raise urllib.error.URLError("no host given")
        key = (req.type, req.host)
        with self._lock:
            pooled = self._idle[key].pop() if self._idle[key] else None
        headers = {name.title(): value for name, value in {**req.unredirected_hdrs, **req.headers}.items()}
        headers["Connection"] = "keep-alive"
        connection = pooled or self._connect(req)
        try:
            response, body = self._exchange(connection, req, headers)
        except _STALE as exc:
            if pooled is None:
                raise urllib.error.URLError(exc) from exc
            # The server closed the idle connection before reading this request: send it on a fresh one.
            connection = self._connect(req)
            try:
                response, body = self._exchange(connection, req, headers)
            except OSError as retry_exc:
                raise urllib.error.URLError(retry_exc) from retry_exc
        except OSError as exc:
            raise urllib.error.URLError(exc) from exc
        self._release(key, connection, response)
        result = urllib.response.addinfourl(io.BytesIO(body), response.msg, req.full_url, response.status)
        result.msg = response.reason  # type: ignore[attr-defined]  # as urllib's own handler sets it
        return result

    @staticmethod
    def _exchange(connection: http.client.HTTPConnection, req: urllib.request.Request,
                  headers: dict[str, str]) -> tuple[http.client.HTTPResponse, bytes]:
        """One request and its whole response; the connection is closed if anything fails."""
        try:
            connection.request(req.get_method(), req.selector, req.data, headers)
            response = connection.getresponse()
            return response, response.read()
        except BaseException:
            connection.close()
            raise

    def close(self) -> None:
        """Close every idle connection (those in use close when their call ends)."""
        with self._lock:
            idle = [c for pool in self._idle.values() for c in pool]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def _release(self, key: tuple[str, str], connection: http.client.HTTPConnection,
                 response: http.client.HTTPResponse) -> None:
        if response.will_close:
            connection.close()
            return
        with self._lock:
            idle = self._idle[key]
            if len(idle) < self.max_idle:
                idle.append(connection)
                return
        connection.close()


_installed: KeepAliveHandler | None = None
_install_lock = threading.Lock()


def reuse_connections() -> KeepAliveHandler | None:
    """Install the keep-alive opener for this process once (idempotent); returns its handler.

    None, leaving urllib's stock opener, when an HTTP(S) proxy is configured in the environment:
    HTTPS through a proxy needs urllib's CONNECT tunnelling, which this handler does not do.
    """
    global _installed
    with _install_lock:
        if _installed is None:
            if urllib.request.getproxies():
                log.info("an HTTP(S) proxy is configured: Web API connections are not kept alive")
                return None
            _installed = KeepAliveHandler()
            urllib.request.install_opener(urllib.request.build_opener(_installed))
        return _installed

