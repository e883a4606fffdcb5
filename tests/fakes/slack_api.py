"""A fake Slack for tests and benchmarks, both directions, on loopback.

``FakeSlackAPI`` is the Web API (``SLACK_API_URL`` points the app's ``WebClient`` at it): a
stdlib HTTP server in a thread that answers the methods Mockingbird uses, records every call
per method with its parameters, keeps the channel history that results (posts, updates,
deletes), serves the upload URL of ``files_upload_v2`` and the ``response_url`` of commands,
and, on demand, answers 429 with ``Retry-After`` or an error such as ``channel_not_found``. It
refuses what real Slack refuses (``slack_limits``): too many or too long blocks, text over 40,000
characters, a modal title over 24 characters, a trigger id it never issued.

``SlackSender`` plays Slack's side of HTTP mode: it signs slash commands, events and
interactivity payloads with the signing secret (``SignatureVerifier.generate_signature``)
and posts them to the app's ``/slack/events``, timing the acknowledgement.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

from slack_sdk.signature import SignatureVerifier

from tests.fakes import slack_limits
from tests.fakes.loopback import LoopbackServer

BOT_USER, BOT_ID, TEAM = "UBOT", "BBOT", "T0001"
JSON_FIELDS = {"blocks", "view", "files", "attachments", "metadata"}


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client dropping its kept-alive connection (a bot process ending) is no error worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class Call:
    """One request the app made: ``method`` is the Web API method, ``upload`` or ``response_url``."""

    method: str
    params: dict[str, Any]
    headers: dict[str, str]
    at: float = field(default_factory=time.time)
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)


@dataclass
class Message:
    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None
    user: str = BOT_USER
    updates: int = 0
    deleted: bool = False
    stream: str | None = None  # "streaming" after chat.startStream, "stopped" after chat.stopStream
    streamed: list[str] = field(default_factory=list)  # each stream call's markdown, in order


class FakeSlackAPI(LoopbackServer):
    """Start with ``with FakeSlackAPI() as slack:``; ``slack.url`` is the ``SLACK_API_URL``."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.messages: dict[tuple[str, str], Message] = {}
        self.people_messages: set[tuple[str, str]] = set()  # (channel, ts) of people's messages (seen)
        self.assistant_threads: dict[tuple[str, str], dict[str, Any]] = {}  # (channel, ts): status, title
        self.uploads: dict[str, bytes] = {}
        self.connections = 0  # TCP connections accepted (keep-alive reuses them)
        self.group_members: dict[str, list[str]] = {}
        self.unreachable_channels: set[str] = set()  # chat.* to these answers not_in_channel
        self.socket_url: str | None = None  # what apps.connections.open hands out (see FakeSocketMode)
        self.observers: list[
            Callable[[Call], None]
        ] = []  # told of every call (the benchmark routes by channel)
        self._failures: dict[str, list[tuple[int, dict[str, Any], dict[str, str]]]] = defaultdict(list)
        self._ts = itertools.count(1)
        self._lock = threading.Condition()
        self._listen(self._handler(), _Server)

    # ── lifecycle ───────────────────────────────────────────────────────────────────
    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base}/api/"

    def response_url(self, name: str = "") -> str:
        return f"{self.base}/response/{name or uuid.uuid4().hex[:8]}"

    # ── scripting failures ──────────────────────────────────────────────────────────
    def fail(self, method: str, error: str, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer ``{"ok": false, "error": error}``."""
        with self._lock:
            self._failures[method] += [(200, {"ok": False, "error": error}, {})] * times

    def rate_limit(self, method: str, retry_after: int = 1, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` answer HTTP 429 with ``Retry-After``."""
        with self._lock:
            self._failures[method] += [
                (429, {"ok": False, "error": "ratelimited"}, {"Retry-After": str(retry_after)})
            ] * times

    # ── reading what happened ───────────────────────────────────────────────────────
    def calls_to(self, method: str, *, ok: bool = False) -> list[Call]:
        """Calls of ``method`` in order; ``ok=True`` keeps only the ones that succeeded."""
        with self._lock:
            return [
                c
                for c in self.calls
                if c.method == method and (not ok or (c.status == 200 and c.response.get("ok") is not False))
            ]

    def count(self, method: str) -> int:
        return len(self.calls_to(method))

    def wait_for(self, condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition") -> Any:
        """Block until ``condition()`` is truthy (re-checked after every recorded call); return its value."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while True:
                value = condition()
                if value:
                    return value
                left = deadline - time.monotonic()
                if left <= 0:
                    methods = [f"{c.method} {str(c.params.get('text', ''))[:40]!r}" for c in self.calls][-30:]
                    raise AssertionError(
                        f"timed out after {timeout}s waiting for {what}; last calls: {methods}"
                    )
                self._lock.wait(min(left, 0.5))

    def wait_calls(self, method: str, n: int = 1, timeout: float = 10.0, *, ok: bool = False) -> list[Call]:
        return self.wait_for(
            lambda: (calls := self.calls_to(method, ok=ok)) and len(calls) >= n and calls,
            timeout,
            f"{n} x {method}",
        )

    def thread(self, channel: str, thread_ts: str) -> list[Message]:
        """Live messages of a thread (the parent excluded), oldest first, as they now read."""
        with self._lock:
            return sorted(
                (
                    m
                    for m in self.messages.values()
                    if m.channel == channel and m.thread_ts == thread_ts and not m.deleted
                ),
                key=lambda m: float(m.ts),
            )

    def message(self, channel: str, ts: str) -> Message:
        with self._lock:
            return self.messages[(channel, ts)]

    # ── the server ──────────────────────────────────────────────────────────────────
    def _next_ts(self) -> str:
        return f"{1_700_000_000 + next(self._ts)}.000100"

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
            self._lock.notify_all()
        for observer in self.observers:
            observer(call)

    def _answer(
        self, method: str, params: dict[str, Any], headers: dict[str, str]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        with self._lock:
            if self._failures.get(method):
                return self._failures[method].pop(0)
        if method != "auth.test" and not headers.get("authorization", "").startswith(
            ("Bearer xox", "Bearer xapp")
        ):
            return 200, {"ok": False, "error": "not_authed"}, {}
        channel = str(params.get("channel") or params.get("channel_id") or "")
        if method.startswith("chat.") and channel in self.unreachable_channels:
            return 200, {"ok": False, "error": "not_in_channel"}, {}
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method"}, {}
        if method in {"chat.postMessage", "chat.update", "chat.postEphemeral"}:
            refused = slack_limits.message_error(params) or self._thread_error(channel, params)
        elif method in {"views.open", "views.publish", "views.update", "views.push"}:
            refused = slack_limits.view_error(params, modal=method != "views.publish")
        else:
            refused = None
        return 200, refused or handler(params), {}

    def _thread_error(self, channel: str, params: dict[str, Any]) -> dict[str, Any] | None:
        """``thread_not_found`` for a ``thread_ts`` that is no message of ``channel``: one the app
        posted, or a person's message delivered through ``SlackSender`` (``seen``)."""
        thread_ts = params.get("thread_ts")
        if not thread_ts:
            return None
        with self._lock:
            known = (channel, str(thread_ts)) in self.messages or (channel, str(thread_ts)) in self.people_messages
        return None if known else {"ok": False, "error": "thread_not_found"}

    def seen(self, event: dict[str, Any]) -> None:
        """A person's message Slack delivered to the app: it exists, and may start a thread. An
        ``assistant_thread_started`` opens an assistant thread (its root is Slack's own message)."""
        channel, ts = event.get("channel"), event.get("ts")
        if event.get("type") == "message" and channel and ts:
            with self._lock:
                self.people_messages.add((str(channel), str(ts)))
        thread = event.get("assistant_thread") or {}
        if event.get("type") == "assistant_thread_started" and thread.get("channel_id"):
            key = (str(thread["channel_id"]), str(thread["thread_ts"]))
            with self._lock:
                self.people_messages.add(key)
                self.assistant_threads[key] = {"status": "", "title": None, "prompts": []}

    # Web API methods ------------------------------------------------------------------
    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://fake.slack.test/",
            "team": "Fake",
            "user": "mockingbird",
            "team_id": TEAM,
            "user_id": BOT_USER,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not self.socket_url:
            return {"ok": False, "error": "not_allowed_token_type"}
        return {"ok": True, "url": self.socket_url}

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, ts = str(params["channel"]), self._next_ts()
        message = Message(
            channel, ts, str(params.get("text") or ""), params.get("blocks") or [], params.get("thread_ts")
        )
        with self._lock:
            self.messages[(channel, ts)] = message
            thread = self.assistant_threads.get((channel, str(params.get("thread_ts"))))
            if thread is not None:
                thread["status"] = ""  # the app's reply clears "is thinking…"
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "message": {
                "type": "message",
                "text": message.text,
                "user": BOT_USER,
                "bot_id": BOT_ID,
                "ts": ts,
            },
        }

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (str(params["channel"]), str(params["ts"]))
        with self._lock:
            message = self.messages.get(key)
            if message is None or message.deleted:
                return {"ok": False, "error": "message_not_found"}
            if message.stream == "streaming":
                return {"ok": False, "error": "cant_update_message"}  # stop the stream first
            message.text, message.blocks = str(params.get("text") or ""), params.get("blocks") or []
            message.updates += 1
        return {"ok": True, "channel": key[0], "ts": key[1], "text": message.text}

    # chat.startStream / appendStream / stopStream (slack_sdk's ``chat_stream`` helper) ----------
    @staticmethod
    def _stream_text(params: dict[str, Any]) -> str | None:
        """The markdown a stream call carries (``markdown_text`` or ``markdown_text`` chunks); None if malformed."""
        text = params.get("markdown_text")
        chunks = params.get("chunks") or []
        if not isinstance(chunks, list) or not all(
            isinstance(c, dict) and c.get("type") == "markdown_text" and isinstance(c.get("text"), str)
            for c in chunks
        ):
            return None
        return (text if isinstance(text, str) else "") + "".join(c["text"] for c in chunks)

    def _m_chat_startStream(self, params: dict[str, Any]) -> dict[str, Any]:
        channel, thread_ts = str(params.get("channel") or ""), params.get("thread_ts")
        if not channel or not thread_ts:
            return {"ok": False, "error": "invalid_arguments"}  # a stream always answers in a thread
        if not channel.startswith("D") and not (params.get("recipient_user_id") and params.get("recipient_team_id")):
            return {"ok": False, "error": "invalid_arguments"}  # in channels Slack needs the recipient
        refused = self._thread_error(channel, params)
        text = self._stream_text(params)
        if refused or text is None:
            return refused or {"ok": False, "error": "invalid_chunks"}
        ts = self._next_ts()
        with self._lock:
            self.messages[(channel, ts)] = Message(channel, ts, text, [], str(thread_ts), stream="streaming",
                                                   streamed=[text] if text else [])
            thread = self.assistant_threads.get((channel, str(thread_ts)))
            if thread is not None:
                thread["status"] = ""
        return {"ok": True, "channel": channel, "ts": ts}

    def _streaming(self, params: dict[str, Any]) -> tuple[Message | None, dict[str, Any] | None]:
        """The stream a call names, or Slack's refusal."""
        if not params.get("channel") or not params.get("ts"):
            return None, {"ok": False, "error": "invalid_arguments"}
        message = self.messages.get((str(params["channel"]), str(params["ts"])))
        if message is None or message.deleted:
            return None, {"ok": False, "error": "message_not_found"}
        if message.stream != "streaming":
            return None, {"ok": False, "error": "message_not_in_streaming_state"}
        return message, None

    def _m_chat_appendStream(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self._stream_text(params)
        with self._lock:
            message, refused = self._streaming(params)
            if message is None or refused:
                return refused or {}
            if not text:
                return {"ok": False, "error": "no_text" if text == "" else "invalid_chunks"}
            message.text += text
            message.streamed.append(text)
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _m_chat_stopStream(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self._stream_text(params)
        if text is None:
            return {"ok": False, "error": "invalid_chunks"}
        with self._lock:
            message, refused = self._streaming(params)
            if message is None or refused:
                return refused or {}
            message.text += text
            message.streamed += [text] if text else []
            message.blocks = params.get("blocks") or message.blocks
            message.stream = "stopped"
        return {"ok": True, "channel": message.channel, "ts": message.ts}

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        key = (str(params["channel"]), str(params["ts"]))
        with self._lock:
            if key not in self.messages:
                return {"ok": False, "error": "message_not_found"}
            self.messages[key].deleted = True
        return {"ok": True, "channel": key[0], "ts": key[1]}

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "message_ts": self._next_ts()}

    def _assistant_thread(self, params: dict[str, Any]) -> dict[str, Any] | None:
        key = (str(params.get("channel_id") or ""), str(params.get("thread_ts") or ""))
        return self.assistant_threads.get(key)

    def _set_on_assistant_thread(self, params: dict[str, Any], key: str, valid: bool) -> dict[str, Any]:
        """Store ``params[key]`` on the assistant thread, as Slack's ``assistant.threads.set*`` methods do."""
        thread = self._assistant_thread(params)
        if thread is None:
            return {"ok": False, "error": "invalid_thread_ts"}  # not an assistant thread Slack opened
        if not valid:
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            thread[key] = params[key]
        return {"ok": True}

    def _m_assistant_threads_setStatus(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._set_on_assistant_thread(params, "status", isinstance(params.get("status"), str))

    def _m_assistant_threads_setTitle(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._set_on_assistant_thread(params, "title", bool(str(params.get("title") or "").strip()))

    def _m_assistant_threads_setSuggestedPrompts(self, params: dict[str, Any]) -> dict[str, Any]:
        prompts = params.get("prompts")
        valid = isinstance(prompts, list) and 1 <= len(prompts) <= 4 and all(  # each a title and a message
            isinstance(p, dict) and str(p.get("title") or "").strip() and str(p.get("message") or "").strip()
            for p in prompts
        )
        return self._set_on_assistant_thread(params, "prompts", valid)

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_trigger_id"}
        return {"ok": True, "view": {**(params.get("view") or {}), "id": "V" + uuid.uuid4().hex[:8].upper()}}

    def _m_views_publish(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "view": {**(params.get("view") or {}), "id": "V" + uuid.uuid4().hex[:8].upper()}}

    def _m_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup") or "")
        if group not in self.group_members:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.group_members[group])}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        return {"ok": True, "file_id": file_id, "upload_url": f"{self.base}/upload/{file_id}"}

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files") or []
        missing = [f["id"] for f in files if f["id"] not in self.uploads]
        if missing:
            return {"ok": False, "error": "file_not_found", "missing": missing}
        return {
            "ok": True,
            "files": [{"id": f["id"], "title": f.get("title"), "name": f.get("title")} for f in files],
        }

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in two writes; on a kept-alive connection Nagle's algorithm
            # would hold the body back for the client's delayed ACK (~40 ms a call). Slack does not.
            disable_nagle_algorithm = True

            def setup(self) -> None:  # once per TCP connection
                super().setup()
                with fake._lock:
                    fake.connections += 1

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _reply(
                self, status: int, body: bytes, headers: dict[str, str], kind: str = "application/json"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _params(self, raw: bytes) -> dict[str, Any]:
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                kind = self.headers.get("Content-Type", "")
                if raw and kind.startswith("application/json"):
                    body = json.loads(raw)
                elif raw:
                    body = {k: v[0] for k, v in parse_qs(raw.decode("utf-8")).items()}
                else:
                    body = {}
                params = {**query, **body}
                for name in JSON_FIELDS & params.keys():
                    if isinstance(params[name], str):
                        try:
                            params[name] = json.loads(params[name])
                        except json.JSONDecodeError:
                            pass
                return params

            def _handle(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urlparse(self.path).path
                headers = {k.lower(): v for k, v in self.headers.items()}
                if path.startswith("/upload/"):
                    file_id = path.rsplit("/", 1)[1]
                    with fake._lock:
                        fake.uploads[file_id] = raw
                    fake._record(Call("upload", {"file_id": file_id, "bytes": len(raw)}, headers))
                    self._reply(200, f"OK - {len(raw)}".encode(), {}, "text/plain")
                    return
                if path.startswith("/response/"):
                    params = json.loads(raw or b"{}")
                    fake._record(Call("response_url", {**params, "url": path}, headers))
                    self._reply(200, b"ok", {}, "text/plain")
                    return
                if not path.startswith("/api/"):
                    self._reply(404, b"not found", {}, "text/plain")
                    return
                method, params = path[len("/api/") :], self._params(raw)
                status, body, extra = fake._answer(method, params, headers)
                fake._record(Call(method, params, headers, status=status, response=body))
                self._reply(status, json.dumps(body).encode(), extra)

            do_GET = _handle
            do_POST = _handle

        return Handler


# ── Slack's side of Socket Mode ────────────────────────────────────────────────────────
class FakeSocketMode:
    """The WebSocket end of Socket Mode: says hello, sends envelopes, records the app's acks."""

    def __init__(self) -> None:
        from websockets.sync.server import serve

        self.acks: dict[str, dict[str, Any]] = {}
        self._connections: list[Any] = []
        self._lock = threading.Condition()
        self._server = serve(self._session, "127.0.0.1", 0)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="fake-socket-mode", daemon=True
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}/link"

    def __enter__(self) -> FakeSocketMode:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()

    def _session(self, connection: Any) -> None:
        with self._lock:
            self._connections.append(connection)
            self._lock.notify_all()
        connection.send(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "connection_info": {"app_id": "A0001"},
                    "debug_info": {"host": "fake"},
                }
            )
        )
        for raw in connection:
            data = json.loads(raw)
            with self._lock:
                self.acks[data.get("envelope_id", "")] = data
                self._lock.notify_all()

    def send(self, kind: str, payload: dict[str, Any], timeout: float = 10.0) -> dict[str, Any]:
        """Deliver one envelope (``slash_commands``, ``events_api``, ``interactive``); return the ack."""
        envelope_id = uuid.uuid4().hex
        with self._lock:
            if not self._lock.wait_for(lambda: self._connections, timeout):
                raise AssertionError("the app never connected")
            connection = self._connections[-1]
        started = time.perf_counter()
        connection.send(
            json.dumps(
                {
                    "envelope_id": envelope_id,
                    "type": kind,
                    "payload": payload,
                    "accepts_response_payload": kind != "events_api",
                    "retry_attempt": 0,
                    "retry_reason": "",
                }
            )
        )
        with self._lock:
            if not self._lock.wait_for(lambda: envelope_id in self.acks, timeout):
                raise AssertionError(f"no acknowledgement for envelope {envelope_id}")
            return {**self.acks[envelope_id], "elapsed_s": time.perf_counter() - started}


# ── Slack's side of HTTP mode ──────────────────────────────────────────────────────────
@dataclass
class Sent:
    status: int
    body: str
    elapsed_s: float

    def json(self) -> dict[str, Any]:
        return json.loads(self.body) if self.body else {}


class SlackSender:
    """Signs and posts what Slack would send to the app's Request URL."""

    def __init__(
        self, url: str, signing_secret: str, api: FakeSlackAPI | None = None, team: str = TEAM
    ) -> None:
        self.url, self.verifier, self.api, self.team = url, SignatureVerifier(signing_secret), api, team
        self._ids = itertools.count(1)

    # transport ----------------------------------------------------------------------
    def post(
        self,
        body: str,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> Sent:
        stamp = str(int(time.time()) if timestamp is None else timestamp)
        signed = signature or self.verifier.generate_signature(timestamp=stamp, body=body)
        request = urllib.request.Request(
            self.url,
            data=body.encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": content_type,
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signed,
                **(headers or {}),
            },
        )
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                status, text = response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as exc:
            status, text = exc.code, exc.read().decode("utf-8")
        return Sent(status, text, time.perf_counter() - started)

    def _form(self, fields: dict[str, Any], **kw: Any) -> Sent:
        return self.post(urlencode(fields), "application/x-www-form-urlencoded", **kw)

    def _interactive(self, kind: str, user: str, fields: dict[str, Any], **kw: Any) -> Sent:
        """An interactivity request from ``user``: Slack's envelope of a ``kind`` payload, plus ``fields``."""
        payload = {
            "type": kind,
            "team": {"id": self.team},
            "user": {"id": user, "team_id": self.team},
            "api_app_id": "A0001",
            "trigger_id": self._trigger(),
            **fields,
        }
        return self._form({"payload": json.dumps(payload)}, **kw)

    def _response_url(self) -> str:
        return self.api.response_url() if self.api else "http://127.0.0.1:9/response"

    def _trigger(self) -> str:
        return f"{next(self._ids)}.{int(time.time())}.trigger"

    # payloads -----------------------------------------------------------------------
    def command(self, command: str, text: str, user: str, channel: str = "C0001", **kw: Any) -> Sent:
        return self._form(
            {
                "token": "legacy",
                "team_id": self.team,
                "team_domain": "fake",
                "channel_id": channel,
                "channel_name": "practice",
                "user_id": user,
                "user_name": user.lower(),
                "command": command,
                "text": text,
                "api_app_id": "A0001",
                "response_url": self._response_url(),
                "trigger_id": self._trigger(),
            },
            **kw,
        )

    def event(
        self, event: dict[str, Any], event_id: str | None = None, retry: int | None = None, **kw: Any
    ) -> Sent:
        envelope = {
            "token": "legacy",
            "team_id": self.team,
            "api_app_id": "A0001",
            "event": event,
            "type": "event_callback",
            "event_id": event_id or f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": self.team, "user_id": BOT_USER, "is_bot": True}],
        }
        if self.api is not None:
            self.api.seen(event)
        headers = {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"} if retry else None
        return self.post(json.dumps(envelope), "application/json", headers=headers, **kw)

    def reply(
        self,
        user: str,
        channel: str,
        thread_ts: str,
        text: str,
        event_id: str | None = None,
        retry: int | None = None,
        **extra: Any,
    ) -> Sent:
        """A message in a thread, as the Events API delivers it (``parent_user_id``: the bot when the
        thread starts at a message the fake Web API recorded, else another person)."""
        ts = f"{time.time():.6f}"
        parent = self.api.messages.get((channel, thread_ts)) if self.api else None
        event = {
            "type": "message",
            "channel": channel,
            "user": user,
            "text": text,
            "ts": ts,
            "thread_ts": thread_ts,
            "parent_user_id": parent.user if parent else "UPARENT",
            "channel_type": "channel",
            "event_ts": ts,
            **extra,
        }
        return self.event(event, event_id=event_id, retry=retry)

    def assistant_thread_started(self, user: str, channel: str, thread_ts: str) -> Sent:
        """The candidate opens Mockingbird in the Agents & AI Apps pane (a new assistant thread)."""
        return self.event(
            {
                "type": "assistant_thread_started",
                "assistant_thread": {
                    "user_id": user,
                    "context": {"channel_id": "C0001", "team_id": self.team, "enterprise_id": None},
                    "channel_id": channel,
                    "thread_ts": thread_ts,
                },
                "event_ts": f"{time.time():.6f}",
            }
        )

    def assistant_message(self, user: str, channel: str, thread_ts: str, text: str, **kw: Any) -> Sent:
        """A message in an assistant thread: a direct-message thread whose root is the app's."""
        return self.reply(user, channel, thread_ts, text, channel_type="im", parent_user_id=BOT_USER, **kw)

    def action(
        self,
        action_id: str,
        value: str,
        user: str,
        channel: str,
        message_ts: str,
        thread_ts: str | None = None,
        kind: str = "button",
        **kw: Any,
    ) -> Sent:
        # Like Slack, the payload carries the message the button is on, as the channel shows it.
        shown = self.api.messages.get((channel, message_ts)) if self.api is not None else None
        message: dict[str, Any] = {"type": "message", "ts": message_ts, "thread_ts": thread_ts}
        if shown is not None:
            message.update(text=shown.text, blocks=shown.blocks, user=shown.user)
        return self._interactive(
            "block_actions",
            user,
            {
                "response_url": self._response_url(),
                "container": {
                    "type": "message",
                    "message_ts": message_ts,
                    "channel_id": channel,
                    "is_ephemeral": False,
                    "thread_ts": thread_ts,
                },
                "channel": {"id": channel},
                "message": message,
                "actions": [
                    {
                        "action_id": action_id,
                        "block_id": "b",
                        "value": value,
                        "type": kind,
                        "action_ts": f"{time.time():.6f}",
                    }
                ],
            },
            **kw,
        )

    def rate(
        self, side: str, turn: str, user: str, channel: str, message_ts: str, thread_ts: str | None = None
    ) -> Sent:
        """A click on the 👍 (``side="up"``) or 👎 of a native ``feedback_buttons`` element, whose
        buttons carry ``"<turn>:up"`` / ``"<turn>:down"`` as their values."""
        return self.action("rate", f"{turn}:{side}", user, channel, message_ts, thread_ts, kind="feedback_buttons")

    def submit(self, view: dict[str, Any], values: dict[str, Any], user: str, **kw: Any) -> Sent:
        """Submit a modal as the user filled it: ``values`` maps block_id to a string (typed or selected)."""
        state: dict[str, Any] = {}
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block["element"]
            block_id, action_id = block["block_id"], element["action_id"]
            if block_id in values:
                value = values[block_id]
            elif element["type"] == "static_select":
                value = (element.get("initial_option") or {}).get("value")
            else:
                value = element.get("initial_value")
            if element["type"] == "static_select":
                option = next((o for o in element["options"] if o["value"] == value), None)
                state[block_id] = {action_id: {"type": "static_select", "selected_option": option}}
            else:
                state[block_id] = {action_id: {"type": "plain_text_input", "value": value}}
        return self._interactive(
            "view_submission",
            user,
            {
                "view": {
                    "id": "V0001",
                    "type": "modal",
                    "callback_id": view.get("callback_id"),
                    "private_metadata": view.get("private_metadata", ""),
                    "state": {"values": state},
                    "hash": "h",
                },
            },
            **kw,
        )
