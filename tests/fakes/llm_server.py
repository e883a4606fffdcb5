"""The common part of the fake LLM servers: a loopback HTTP server in a thread, scripted replies.

A test queues replies (``server.script(MALFORMED, VALID)``); when the queue is empty the
default reply is used. Replies are described by what they do to the canned JSON for the
task being asked (feedback, question or report; read from the request's schema), so the
same script works for every provider's wire protocol. Every request is recorded, with its
headers and JSON body, before it is answered.
"""

from __future__ import annotations

import itertools
import json
import random
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes.loopback import LoopbackServer, Recorded


@dataclass(frozen=True)
class Reply:
    """What the fake does with one request.

    mode: ``valid`` | ``fenced`` (in a Markdown fence) | ``prose`` (text around the JSON) |
    ``malformed`` (broken JSON) | ``violating`` (valid JSON, wrong schema) | ``text`` (``text`` as is) |
    ``status`` (an HTTP error ``status``) | ``hang`` (never answer) | ``drop`` (close the connection) |
    ``cut`` (a streamed reply breaks off: half its events, then the connection closes; unstreamed, a drop).
    rewrite: changes the canned JSON before it is sent, ``rewrite(task, data) -> data`` (see ``rewritten``).
    """

    mode: str = "valid"
    text: str | None = None
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    rewrite: Callable[[str, dict[str, Any]], dict[str, Any]] | None = None


VALID = Reply("valid")
FENCED = Reply("fenced")
PROSE = Reply("prose")
MALFORMED = Reply("malformed")
VIOLATING = Reply("violating")
HANG = Reply("hang")
DROP = Reply("drop")
CUT = Reply("cut")


def status(code: int, retry_after_s: float | None = None) -> Reply:
    headers: tuple[tuple[str, str], ...] = ()
    if retry_after_s is not None:
        headers = (("retry-after-ms", str(int(retry_after_s * 1000))), ("retry-after", f"{retry_after_s:g}"))
    return Reply("status", status=code, headers=headers)


RATE_LIMITED = status(429, retry_after_s=0.01)
SERVER_ERROR = status(500, retry_after_s=0.01)


def text(content: str) -> Reply:
    return Reply("text", text=content)


def rewritten(rewrite: Callable[[str, dict[str, Any]], dict[str, Any]]) -> Reply:
    """A valid reply whose content a test chooses per task (``feedback``, ``question``, ``report``)
    from the canned one: ``rewritten(lambda task, data: {**data, "summary": "…"})``."""
    return Reply("valid", rewrite=rewrite)


_counter = itertools.count(1)


def canned(task: str) -> dict[str, Any]:
    """A valid reply for ``task``; questions are numbered so they never repeat."""
    if task == "question":
        n = next(_counter)
        return {
            "domain": "fake-domain",
            "text": f"Fake question {n}: how would you approach problem {n}?",
            "key_points": [f"point {n}a", f"point {n}b", f"point {n}c"],
        }
    if task == "report":
        return {
            "strengths": ["You structure answers well."],
            "weaknesses": ["Few measurable results."],
            "next_steps": ["Practise adding one number to every story."],
            "summary": "A solid session from the fake model. Keep practising with concrete results.",
        }
    return {
        "score": 7,
        "strengths": ["Clear structure."],
        "weaknesses": ["Few concrete numbers."],
        "suggestions": ["Add a measurable result."],
        "criteria": [{"name": "structure", "score": 8}, {"name": "specificity", "score": 6}],
        "summary": "A solid answer from the fake model; add numbers to make it stronger.",
    }


def task_of(schema: dict[str, Any] | None) -> str:
    properties = (schema or {}).get("properties", {})
    if "score" in properties:
        return "feedback"
    if "next_steps" in properties:
        return "report"
    return "question"


def content_for(reply: Reply, task: str) -> str:
    data = canned(task)
    if reply.rewrite is not None:
        data = reply.rewrite(task, data)
    body = json.dumps(data)
    if reply.mode == "text":
        return reply.text or ""
    if reply.mode == "fenced":
        return f"```json\n{json.dumps(data, indent=2)}\n```"
    if reply.mode == "prose":
        return f"Sure! Here is the {task}:\n{body}\nI hope this helps."
    if reply.mode == "malformed":
        return body[: len(body) // 2]  # cut mid-object, as a truncated generation would be
    if reply.mode == "violating":
        key = next(iter(data))
        broken = {k: v for k, v in data.items() if k != key}  # a required field missing...
        if task == "feedback":
            broken["score"] = 42  # ...and a value out of range
        return json.dumps(broken)
    return body


class FakeLLMServer(LoopbackServer):
    """Subclasses speak one wire protocol: ``route``, ``schema_of``, ``success``, ``error``."""

    api_key_header = "authorization"
    chunk_chars = 12  # characters of content per streamed chunk

    def __init__(
        self,
        *,
        default: Reply | Callable[[Recorded], Reply] = VALID,
        api_key: str | None = None,
        latency_s: float = 0.0,
    ) -> None:
        self.default = default
        self.api_key = api_key
        self.latency_s = latency_s  # a model's time to answer (benchmarks): every reply waits this long
        self.requests: list[Recorded] = []
        self._script: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._released = threading.Event()
        self._listen(type("Handler", (_Handler,), {"fake": self}))

    # ── protocol hooks ──────────────────────────────────────────────────────────────
    def route(self, path: str) -> str | None:
        raise NotImplementedError

    def schema_of(self, endpoint: str, body: Any) -> dict[str, Any] | None:
        raise NotImplementedError

    def success(self, endpoint: str, request: Recorded, content: str) -> Any:
        raise NotImplementedError

    def error(self, endpoint: str, code: int) -> Any:
        raise NotImplementedError

    def stream_events(self, endpoint: str, request: Recorded, content: str) -> list[Any] | None:
        """The server-sent events of a streamed reply, or None when the request did not ask to stream."""
        return None

    def streamed(self, request: Recorded) -> bool:
        """Whether ``request`` asked for a streamed reply (each protocol says so its own way)."""
        return False

    def pieces(self, content: str) -> list[str]:
        """``content`` as the model would stream it, ``chunk_chars`` characters at a time."""
        step = self.chunk_chars
        return [content[i : i + step] for i in range(0, len(content), step)]

    def authorised(self, request: Recorded) -> bool:
        if self.api_key is None:
            return True
        return request.headers.get(self.api_key_header, "") in (self.api_key, f"Bearer {self.api_key}")

    # ── control ─────────────────────────────────────────────────────────────────────
    def script(self, *replies: Reply) -> FakeLLMServer:
        with self._lock:
            self._script.extend(replies)
        return self

    def next_reply(self, request: Recorded) -> Reply:
        with self._lock:
            if self._script:
                return self._script.popleft()
        return self.default(request) if callable(self.default) else self.default

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self._released.set()  # let hanging handlers finish
        super().stop()

    def wait_released(self, timeout: float) -> None:
        self._released.wait(timeout)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeLLMServer
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections end on their own
    disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between headers and body

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def _send(self, code: int, body: Any, headers: tuple[tuple[str, str], ...] = ()) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        for name, value in headers:
            self.send_header(name, value)
        self._headers_buffer.append(b"\r\n" + data)  # headers and body in one write
        self.flush_headers()

    def do_GET(self) -> None:  # noqa: N802
        self._send(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except json.JSONDecodeError:
            body = raw.decode(errors="replace")
        request = Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        fake = self.fake
        with fake._lock:
            fake.requests.append(request)
        endpoint = fake.route(self.path.split("?", 1)[0])
        if endpoint is None:
            self._send(404, {"error": f"no route {self.path}"})
            return
        if not fake.authorised(request):
            self._send(401, fake.error(endpoint, 401))
            return
        reply = fake.next_reply(request)
        if fake.latency_s:
            time.sleep(fake.latency_s)
        if reply.mode == "hang":
            fake.wait_released(60)
            self.close_connection = True
            return
        if reply.mode == "drop" or (reply.mode == "cut" and not fake.streamed(request)):
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.mode == "status":
            self._send(reply.status, fake.error(endpoint, reply.status), reply.headers)
            return
        content = content_for(reply, task_of(fake.schema_of(endpoint, body)))
        events = fake.stream_events(endpoint, request, content)
        if events is not None:
            self._send_events(events[: max(1, len(events) // 2)] if reply.mode == "cut" else events)
            if reply.mode == "cut":  # no closing chunk: the client sees an incomplete body
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return
            self._end_events()
            return
        self._send(200, fake.success(endpoint, request, content), reply.headers)

    def _send_events(self, events: list[Any]) -> None:
        """``text/event-stream`` in HTTP/1.1 chunks, one write per event (as a model writes them)."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        for event in events:
            data = f"data: {event if isinstance(event, str) else json.dumps(event)}\n\n".encode()
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()

    def _end_events(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


def dead_url(path: str = "") -> str:
    """A loopback URL nobody listens on (bound, then closed): connections are refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}{path}"


def flaky(
    rate: float, seed: int = 0, bad: Reply = MALFORMED, good: Reply = VALID
) -> Callable[[Recorded], Reply]:
    """A default that answers ``bad`` with probability ``rate`` (reproducibly, from ``seed``)."""
    rng = random.Random(seed)
    lock = threading.Lock()

    def choose(_: Recorded) -> Reply:
        with lock:
            return bad if rng.random() < rate else good

    return choose


__all__ = [
    "CUT",
    "DROP",
    "FENCED",
    "HANG",
    "MALFORMED",
    "PROSE",
    "RATE_LIMITED",
    "SERVER_ERROR",
    "VALID",
    "VIOLATING",
    "FakeLLMServer",
    "Recorded",
    "Reply",
    "canned",
    "dead_url",
    "flaky",
    "rewritten",
    "status",
    "task_of",
    "text",
]
