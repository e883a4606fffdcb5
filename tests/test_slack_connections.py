"""Web API calls reuse their connections (``bot.slack.connections``), and nothing else changes.

The real ``WebClient`` talks to the fake Web API, which counts the TCP connections it accepts:
a hundred calls from one thread use one; errors (429 with ``Retry-After``) still reach
slack_sdk's retry handlers; a connection the server closed while idle is replaced, and the
call on it is not lost.
"""

from __future__ import annotations

import threading
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from bot.slack.connections import KeepAliveHandler
from bot.slack.web import make_client
from tests.conftest import make_settings
from tests.fakes.slack_api import FakeSlackAPI


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.fixture
def keep_alive() -> Iterator[KeepAliveHandler]:
    """The keep-alive opener installed for the test, the stock one put back afterwards."""
    handler = KeepAliveHandler()
    urllib.request.install_opener(urllib.request.build_opener(handler))
    try:
        yield handler
    finally:
        urllib.request.install_opener(None)  # type: ignore[arg-type]
        handler.close()


def test_a_hundred_calls_use_one_connection_and_errors_still_retry(
    fake: FakeSlackAPI, keep_alive: KeepAliveHandler
) -> None:
    client = make_client(make_settings(SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=fake.url))
    for n in range(100):
        assert client.chat_postMessage(channel="C1", text=f"message {n}")["ok"]
    assert fake.connections == 1 and keep_alive.opened == 1

    fake.rate_limit("chat.postMessage", retry_after=0)  # HTTP 429: slack_sdk retries after Retry-After
    fake.fail("chat.update", "message_not_found")
    assert client.chat_postMessage(channel="C1", text="after a 429")["ok"]
    with pytest.raises(Exception, match="message_not_found"):
        client.chat_update(channel="C1", ts="1.0", text="x")
    assert fake.connections == 1

    threads = [
        threading.Thread(target=lambda: [client.auth_test() for _ in range(25)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert fake.count("auth.test") == 100 and fake.connections <= 4  # at most one per concurrent caller


def test_with_a_proxy_configured_the_stock_opener_stays(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.slack import connections

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setattr(connections, "_installed", None)
    assert connections.reuse_connections() is None  # urllib's own handlers tunnel through the proxy


def test_a_connection_the_server_closed_while_idle_is_replaced(keep_alive: KeepAliveHandler) -> None:
    """A server that closes each connection after answering, without saying so (an idle timeout)."""
    answered: list[str] = []

    class Closing(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            answered.append(self.path)
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Closing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/"
        client = make_client(make_settings(SLACK_BOT_TOKEN="xoxb-test", SLACK_API_URL=url))
        for _ in range(3):
            assert client.api_test()["ok"]
    finally:
        server.shutdown()
        server.server_close()
    assert answered == ["/api/api.test"] * 3  # each call answered exactly once
    assert keep_alive.opened >= 3
