"""A fake Discord on loopback: enough of the REST API and the gateway for discord.py 2.x.

One aiohttp server in a thread of its own serves ``/api/v10/...`` and a gateway websocket at
``/gateway``; ``GET /gateway/bot`` points the client there, so setting ``Route.BASE`` to
``api_url`` is all a client needs. Every REST request is recorded (method, path, JSON body or
multipart ``payload_json`` and files) before it is answered, and tests wait on the record.

The gateway speaks the real protocol: HELLO, IDENTIFY (recorded, with its intents), READY and
GUILD_CREATE for one server with one text channel, heartbeat ACKs, and whatever events a test
dispatches (``INTERACTION_CREATE``, ``MESSAGE_CREATE``). Creating a thread over REST also
dispatches ``THREAD_CREATE``, as Discord does. Scripted failures: a 429 with ``retry_after``
or any status (``fail``) for the next N matching requests, a 401 at login, a gateway close
code (4014: disallowed intents). It refuses what Discord refuses (``discord_limits``): REST calls
without the bot token (401), a second response to one interaction (40060), content or embeds
over their limits (50035).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.fakes import discord_limits

API_PREFIX = "/api/v10"
EVERYONE_PERMISSIONS = str((1 << 41) - 1)  # every permission bit a bot could need


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _json(payload: Any, status: int, headers: dict[str, str] | None = None) -> web.Response:
    """JSON as Discord sends it: ``Content-Type: application/json`` exactly (discord.py compares it)."""
    return web.Response(
        body=json.dumps(payload).encode(),
        status=status,
        headers={**(headers or {}), "Content-Type": "application/json"},
    )


@dataclass
class Call:
    """One REST request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    json: Any
    files: dict[str, bytes] = field(default_factory=dict)
    status: int = 200
    response: Any = None

    def matches(self, method: str, pattern: str) -> bool:
        return self.method == method and re.fullmatch(pattern, self.path) is not None


@dataclass
class _Failure:
    method: str
    pattern: str
    status: int
    body: dict[str, Any]
    headers: dict[str, str]
    times: int


class FakeDiscord:
    """Discord for one bot in one server. Ids are strings, as on the wire."""

    def __init__(self) -> None:
        self._ids = itertools.count(1_200_000_000_000_000_000)
        self.application_id = self.new_id()
        self.bot_user = {
            "id": self.application_id,
            "username": "Mockingbird",
            "discriminator": "0",
            "global_name": "Mockingbird",
            "avatar": None,
            "bot": True,
        }
        self.guild_id = self.new_id()
        self.channel_id = self.new_id()
        self.recruiter_role_id = self.new_id()
        self.lead_role_id = self.new_id()
        self.calls: list[Call] = []
        self.identify_payloads: list[dict[str, Any]] = []
        self.messages: dict[str, dict[str, Any]] = {}
        self.threads: dict[str, dict[str, Any]] = {}
        self.login_status = 200
        self.gateway_close_code: int | None = None
        self.announce_threads = True  # False: GUILD_CREATE lists no threads (as if all were archived)
        self._failures: list[_Failure] = []
        self._originals: dict[str, str] = {}  # interaction token -> its original response message id
        self._interaction_channel: dict[str, str] = {}  # interaction token -> channel it came from
        self._responded: set[str] = set()  # interactions answered once (a second answer is 40060)
        self._sockets: list[web.WebSocketResponse] = []
        self._sequence = itertools.count(1)
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # ── lifecycle ───────────────────────────────────────────────────────────────────
    def start(self) -> FakeDiscord:
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), name="fake-discord", daemon=True)
        self._thread.start()
        if not started.wait(10):
            raise RuntimeError("the fake Discord did not start")
        return self

    def _serve(self, started: threading.Event) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=32 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", API_PREFIX + "/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        self._loop.run_until_complete(site.start())
        self.port = self._runner.addresses[0][1]
        started.set()
        self._loop.run_forever()

    def stop(self) -> None:
        if self._loop is None or self._runner is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread:
            self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        for socket in list(self._sockets):
            await socket.close()
        assert self._runner is not None
        await self._runner.cleanup()

    def __enter__(self) -> FakeDiscord:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.port}{API_PREFIX}"

    def new_id(self) -> str:
        return str(next(self._ids))

    # ── scripting and waiting ───────────────────────────────────────────────────────
    def rate_limit(self, method: str, pattern: str, *, retry_after: float = 0.3, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with 429 and ``retry_after`` seconds."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": retry_after,
            "global": False,
            "code": 0,
        }
        headers = {
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": str(retry_after),
            "X-RateLimit-Bucket": "fake-bucket",
            "X-RateLimit-Scope": "user",
        }
        self._failures.append(_Failure(method, pattern, 429, body, headers, times))

    def fail(self, method: str, pattern: str, status: int = 403, *, code: int = 50013, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with ``status`` (default: Missing Permissions)."""
        body = {"message": "Missing Permissions" if code == 50013 else "Scripted failure", "code": code}
        self._failures.append(_Failure(method, pattern, status, body, {}, times))

    def mark(self) -> int:
        """A cursor: ``wait_for(..., after=mark)`` only looks at requests made since."""
        with self._changed:
            return len(self.calls)

    def wait_for(self, predicate: Callable[[Call], bool], *, after: int = 0, timeout: float = 10) -> Call:
        """The first request since ``after`` that satisfies ``predicate``, waiting for it if need be."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((c for c in self.calls[after:] if predicate(c)), None), timeout
            )
        if found is None:
            seen = "\n".join(f"  {c.method} {c.path} -> {c.status}" for c in self.calls[after:])
            raise AssertionError(f"no matching request within {timeout}s; requests since the mark:\n{seen}")
        return found

    def wait_for_call(self, method: str, pattern: str, *, after: int = 0, timeout: float = 10) -> Call:
        return self.wait_for(
            lambda c: c.matches(method, pattern) and c.status < 300, after=after, timeout=timeout
        )

    def requests(self, method: str, pattern: str, *, after: int = 0) -> list[Call]:
        with self._changed:
            return [c for c in self.calls[after:] if c.matches(method, pattern)]

    # ── the gateway ─────────────────────────────────────────────────────────────────
    def dispatch(self, event: str, data: dict[str, Any]) -> None:
        """Send a gateway DISPATCH to every identified connection (from any thread)."""
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._dispatch(event, data), self._loop).result(10)

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        for socket in list(self._sockets):
            await socket.send_json({"op": 0, "t": event, "s": next(self._sequence), "d": data})

    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        await socket.send_json({"op": 10, "d": {"heartbeat_interval": 41250}})
        try:
            async for frame in socket:
                message = json.loads(frame.data)
                if message["op"] == 1:  # heartbeat
                    await socket.send_json({"op": 11})
                elif message["op"] == 2:  # identify
                    with self._changed:
                        self.identify_payloads.append(message["d"])
                        self._changed.notify_all()
                    if self.gateway_close_code is not None:
                        await socket.close(code=self.gateway_close_code, message=b"Disallowed intent(s).")
                        break
                    shard = message["d"].get("shard", [0, 1])
                    await socket.send_json(
                        {
                            "op": 0,
                            "t": "READY",
                            "s": next(self._sequence),
                            "d": {
                                "v": 10,
                                "user": self.bot_user,
                                "guilds": [{"id": self.guild_id, "unavailable": True}],
                                "session_id": "fake-session",
                                "resume_gateway_url": f"ws://127.0.0.1:{self.port}/gateway",
                                "shard": shard,
                                "application": {"id": self.application_id, "flags": 0},
                            },
                        }
                    )
                    await socket.send_json(
                        {"op": 0, "t": "GUILD_CREATE", "s": next(self._sequence), "d": self.guild_payload()}
                    )
                    self._sockets.append(socket)
        finally:
            if socket in self._sockets:
                self._sockets.remove(socket)
        return socket

    # ── REST ────────────────────────────────────────────────────────────────────────
    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["tail"]
        body: Any = None
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            body = await request.json()
        elif request.content_type == "multipart/form-data":
            form = await request.post()
            for name, value in form.items():
                if name == "payload_json":
                    body = json.loads(str(value))
                elif isinstance(value, web.FileField):
                    files[value.filename or name] = value.file.read()
        call = Call(request.method, path, dict(request.query), dict(request.headers), body, files)
        failure = next((f for f in self._failures if f.times > 0 and call.matches(f.method, f.pattern)), None)
        if failure is not None:
            failure.times -= 1
            call.status = failure.status
            self._record(call)
            return _json(failure.body, failure.status, failure.headers)
        status, payload = self._refusal(call) or self._answer(call)
        call.status, call.response = status, payload
        self._record(call)
        if status == 204:
            return web.Response(status=204)
        return _json(payload, status)

    def _record(self, call: Call) -> None:
        with self._changed:
            self.calls.append(call)
            self._changed.notify_all()

    def _refusal(self, call: Call) -> tuple[int, Any] | None:
        """What the real API refuses: no bot token, a second interaction response, oversize messages."""
        token_in_url = call.path.startswith(("/interactions/", "/webhooks/"))
        if not token_in_url and not call.headers.get("Authorization", "").startswith("Bot "):
            return 401, discord_limits.UNAUTHORIZED
        body = call.json
        if call.method == "POST" and (match := re.fullmatch(r"/interactions/(\d+)/[^/]+/callback", call.path)):
            if match.group(1) in self._responded:
                return 400, discord_limits.ACKNOWLEDGED
            self._responded.add(match.group(1))
            body = (body or {}).get("data")
        refused = discord_limits.form_error(body) if call.method in ("POST", "PATCH") else None
        return (400, refused) if refused else None

    def _answer(self, call: Call) -> tuple[int, Any]:
        m, p, body = call.method, call.path, call.json
        app = self.application_id
        if (m, p) == ("GET", "/users/@me"):
            if self.login_status != 200:
                return self.login_status, {"message": "401: Unauthorized", "code": 0}
            return 200, self.bot_user
        if (m, p) == ("GET", "/oauth2/applications/@me"):
            return 200, {
                "id": app,
                "name": "Mockingbird",
                "description": "",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": {**self.bot_user, "bot": False},
                "verify_key": "0" * 64,
                "flags": 0,
            }
        if (m, p) == ("GET", "/gateway/bot"):
            return 200, {
                "url": f"ws://127.0.0.1:{self.port}/gateway",
                "shards": 1,
                "session_start_limit": {
                    "total": 1000,
                    "remaining": 999,
                    "reset_after": 0,
                    "max_concurrency": 1,
                },
            }
        if m == "PUT" and re.fullmatch(rf"/applications/{app}(/guilds/\d+)?/commands", p):
            guild = re.search(r"/guilds/(\d+)/", p)
            return 200, [
                {
                    **command,
                    "id": self.new_id(),
                    "application_id": app,
                    "version": self.new_id(),
                    **({"guild_id": guild.group(1)} if guild else {}),
                }
                for command in body
            ]
        if m == "POST" and (match := re.fullmatch(r"/interactions/(\d+)/([^/]+)/callback", p)):
            return 200, self._callback(match.group(1), match.group(2), body)
        if m == "POST" and (match := re.fullmatch(rf"/webhooks/{app}/([^/]+)", p)):
            return 200, self._message(
                self._interaction_channel.get(match.group(1), self.channel_id), body, webhook=True
            )
        if m == "PATCH" and (match := re.fullmatch(rf"/webhooks/{app}/([^/]+)/messages/([^/]+)", p)):
            token, which = match.groups()
            message_id = self._originals.get(token) if which == "@original" else which
            return 200, self._message(
                self._interaction_channel.get(token, self.channel_id),
                body or {},
                webhook=True,
                message_id=message_id,
            )
        if m == "DELETE" and re.fullmatch(rf"/webhooks/{app}/[^/]+/messages/[^/]+", p):
            return 204, None
        if m == "POST" and (match := re.fullmatch(r"/channels/(\d+)/typing", p)):
            return 204, None
        if m == "POST" and (match := re.fullmatch(r"/channels/(\d+)/messages", p)):
            return 200, self._message(match.group(1), body or {})
        if m == "POST" and (match := re.fullmatch(r"/channels/(\d+)/messages/(\d+)/threads", p)):
            return 201, self._open_thread(match.group(1), body)
        return 404, {"message": f"Unknown route in the fake Discord: {m} {p}", "code": 0}

    def _callback(self, interaction_id: str, token: str, body: dict[str, Any]) -> dict[str, Any]:
        kind = body["type"]
        data = body.get("data") or {}
        result: dict[str, Any] = {
            "interaction": {
                "id": interaction_id,
                "type": 2,
                "response_message_loading": kind == 5,
                "response_message_ephemeral": bool(data.get("flags", 0) & 64),
            }
        }
        resource: dict[str, Any] = {"type": kind}
        if kind in (4, 5):  # a message (or the "thinking…" placeholder) becomes the original response
            message = self._message(self._interaction_channel.get(token, self.channel_id), data, webhook=True)
            self._originals[token] = message["id"]
            result["interaction"]["response_message_id"] = message["id"]
            resource["message"] = message
        result["resource"] = resource
        return result

    def _message(
        self, channel_id: str, body: dict[str, Any], *, webhook: bool = False, message_id: str | None = None
    ) -> dict[str, Any]:
        message_id = message_id or self.new_id()
        stored = self.messages.get(message_id, {})
        message = {
            "id": message_id,
            "channel_id": channel_id,
            "guild_id": self.guild_id,
            "author": self.bot_user,
            "content": body.get("content", stored.get("content", "")) or "",
            "embeds": body.get("embeds", stored.get("embeds", [])),
            "components": body.get("components", stored.get("components", [])),
            "attachments": [
                {
                    "id": self.new_id(),
                    "filename": a.get("filename", "file"),
                    "size": 1,
                    "url": f"http://127.0.0.1/{a.get('filename')}",
                    "proxy_url": "",
                }
                for a in body.get("attachments", [])
            ],
            "flags": body.get("flags", 0),
            "timestamp": _now(),
            "edited_timestamp": None,
            "type": 0,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "pinned": False,
        }
        if reference := body.get("message_reference"):
            message["message_reference"] = reference
            message["type"] = 19
        if webhook:
            message["webhook_id"] = self.application_id
            message["application_id"] = self.application_id
        self.messages[message_id] = message
        return message

    def _open_thread(self, channel_id: str, body: dict[str, Any]) -> dict[str, Any]:
        thread = self.thread_payload(
            self.new_id(), channel_id, body["name"], body.get("auto_archive_duration", 1440)
        )
        self.threads[thread["id"]] = thread
        assert self._loop is not None
        self._loop.create_task(self._dispatch("THREAD_CREATE", {**thread, "newly_created": True}))
        return thread

    # ── payloads ────────────────────────────────────────────────────────────────────
    def role(self, role_id: str, name: str, position: int) -> dict[str, Any]:
        return {
            "id": role_id,
            "name": name,
            "permissions": EVERYONE_PERMISSIONS if position == 0 else "0",
            "position": position,
            "color": 0,
            "hoist": False,
            "managed": False,
            "mentionable": False,
            "flags": 0,
        }

    def channel_payload(self) -> dict[str, Any]:
        return {
            "id": self.channel_id,
            "type": 0,
            "guild_id": self.guild_id,
            "name": "interviews",
            "position": 0,
            "permission_overwrites": [],
            "nsfw": False,
            "parent_id": None,
            "rate_limit_per_user": 0,
        }

    def thread_payload(
        self, thread_id: str, parent_id: str, name: str, archive: int = 1440
    ) -> dict[str, Any]:
        return {
            "id": thread_id,
            "type": 11,
            "guild_id": self.guild_id,
            "parent_id": parent_id,
            "owner_id": self.application_id,
            "name": name,
            "last_message_id": None,
            "message_count": 0,
            "member_count": 1,
            "rate_limit_per_user": 0,
            "flags": 0,
            "total_message_sent": 0,
            "thread_metadata": {
                "archived": False,
                "auto_archive_duration": archive,
                "archive_timestamp": _now(),
                "locked": False,
            },
        }

    def guild_payload(self) -> dict[str, Any]:
        return {
            "id": self.guild_id,
            "name": "Practice Server",
            "owner_id": self.new_id(),
            "unavailable": False,
            "roles": [
                self.role(self.guild_id, "@everyone", 0),
                self.role(self.recruiter_role_id, "Recruiters", 1),
                self.role(self.lead_role_id, "Team leads", 2),
            ],
            "channels": [self.channel_payload()],
            "threads": list(self.threads.values()) if self.announce_threads else [],
            "members": [
                {
                    "user": self.bot_user,
                    "roles": [],
                    "joined_at": _now(),
                    "deaf": False,
                    "mute": False,
                    "flags": 0,
                }
            ],
            "member_count": 10,
            "emojis": [],
            "stickers": [],
            "features": [],
            "large": False,
            "joined_at": _now(),
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "system_channel_flags": 0,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "nsfw_level": 0,
            "afk_timeout": 300,
        }

    def user(self, name: str, user_id: str | None = None) -> dict[str, Any]:
        return {
            "id": user_id or self.new_id(),
            "username": name,
            "discriminator": "0",
            "global_name": name.title(),
            "avatar": None,
        }

    def member(self, user: dict[str, Any], roles: tuple[str, ...] = ()) -> dict[str, Any]:
        return {
            "user": user,
            "roles": list(roles),
            "joined_at": _now(),
            "deaf": False,
            "mute": False,
            "flags": 0,
            "permissions": EVERYONE_PERMISSIONS,
        }

    def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        member: dict[str, Any],
        channel: dict[str, Any],
        message: dict[str, Any] | None = None,
        app_permissions: str = EVERYONE_PERMISSIONS,
    ) -> dict[str, Any]:
        token = f"token-{self.new_id()}"
        self._interaction_channel[token] = channel["id"]
        payload = {
            "id": self.new_id(),
            "application_id": self.application_id,
            "type": kind,
            "token": token,
            "version": 1,
            "guild_id": self.guild_id,
            "channel_id": channel["id"],
            "channel": channel,
            "member": member,
            "app_permissions": app_permissions,
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": 10 * 1024 * 1024,
            "authorizing_integration_owners": {"0": self.guild_id},
            "context": 0,
            "data": data,
        }
        if message is not None:
            payload["message"] = message
        return payload

    def slash(
        self,
        name: str,
        member: dict[str, Any],
        *,
        app_permissions: str = EVERYONE_PERMISSIONS,
        **options: Any,
    ) -> dict[str, Any]:
        """An ``INTERACTION_CREATE`` for ``/name``; an option given as ``("text", "focused")`` makes it
        the autocomplete request Discord sends while that option is being typed."""
        opts = []
        for key, value in options.items():
            focused = isinstance(value, tuple)  # ("typed text", "focused") marks the option being typed
            raw = value[0] if focused else value
            kind = 5 if isinstance(raw, bool) else 4 if isinstance(raw, int) else 3  # boolean, integer, string
            option: dict[str, Any] = {"name": key, "type": kind, "value": raw}
            if focused:
                option["focused"] = True
            opts.append(option)
        data = {"id": self.new_id(), "name": name, "type": 1, "options": opts, "guild_id": self.guild_id}
        kind = 4 if any(o.get("focused") for o in opts) else 2
        return self._interaction(kind, data, member, self.channel_payload(), app_permissions=app_permissions)

    def click(self, message: dict[str, Any], custom_id: str, member: dict[str, Any]) -> dict[str, Any]:
        """A button press on ``message`` (a message the bot sent, as recorded)."""
        channel = self.threads.get(message["channel_id"]) or self.channel_payload()
        return self._interaction(3, {"custom_id": custom_id, "component_type": 2}, member, channel, message)

    def submit(
        self,
        modal: dict[str, Any],
        values: dict[str, str],
        member: dict[str, Any],
        message: dict[str, Any] | None = None,
        channel_id: str | None = None,
    ) -> dict[str, Any]:
        """A modal submission; ``modal`` is the callback ``data`` the bot sent, ``values`` by label."""
        components = []
        for row in modal["components"]:
            inner = row["component"] if row["type"] == 18 else row["components"][0]
            label = row.get("label", inner.get("label"))
            components.append(
                {
                    "type": 18,
                    "component": {
                        "type": 4,
                        "custom_id": inner["custom_id"],
                        "value": values.get(label, inner.get("value", "")),
                    },
                }
            )
        channel = self.threads.get(channel_id or "") or self.channel_payload()
        return self._interaction(
            5, {"custom_id": modal["custom_id"], "components": components}, member, channel, message
        )

    def user_message(
        self, channel_id: str, member: dict[str, Any], content: str, message_id: str | None = None
    ) -> dict[str, Any]:
        """A ``MESSAGE_CREATE`` from a person (``member`` as built by ``member``)."""
        author = member["user"]
        member_data = {key: value for key, value in member.items() if key != "user"}
        return {
            "id": message_id or self.new_id(),
            "channel_id": channel_id,
            "guild_id": self.guild_id,
            "author": author,
            "member": member_data,
            "content": content,
            "timestamp": _now(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
        }


class BotRunner:
    """Runs a discord.py client against the fake, in a thread with its own event loop.

    The test thread stays synchronous: it dispatches gateway events through the fake and waits
    on the requests the client makes, exactly as Discord would see them.
    """

    def __init__(self, client: Any, token: str = "fake-token") -> None:
        self.client = client
        self.token = token
        self.error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, timeout: float = 15) -> BotRunner:
        self._thread = threading.Thread(target=self._run, name="discord-bot", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise AssertionError(f"the bot was not ready within {timeout}s")
        if self.error is not None:
            raise self.error
        return self

    def _run(self) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        finally:
            self._ready.set()
            self.loop.close()

    async def _main(self) -> None:
        try:
            await self.client.login(self.token)
            waiter = asyncio.create_task(self.client.wait_until_ready())
            waiter.add_done_callback(lambda _: self._ready.set())
            await self.client.connect()
        except BaseException as exc:  # handed to the test thread by start()/stop()
            self.error = exc
        finally:
            if not self.client.is_closed():
                await self.client.close()

    def call(self, coroutine: Any, timeout: float = 10) -> Any:
        """Run ``coroutine`` on the client's loop and return its result."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def stop(self, timeout: float = 10) -> None:
        if self._thread is None or not self._thread.is_alive():
            return
        assert self.loop is not None
        try:
            self.call(self.client.close(), timeout)
        except RuntimeError:  # the loop finished on its own meanwhile
            pass
        self._thread.join(timeout)
