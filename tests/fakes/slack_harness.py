"""The Slack bot running for real in HTTP mode against ``FakeSlackAPI``, plus steps tests repeat.

``running_bot`` builds the engine through the composition root (``bot.app.build_engine``),
the Bolt app through ``bot.slack.app.build_app``, and serves its WSGI handler
(``bot.slack.server.wsgi_app``) on a free loopback port; ``SlackSender`` then talks to it
exactly as Slack would (signed requests). Waitress, which serves it in production, has no
public way to stop from another thread, so tests use the stdlib's WSGI server, whose
``shutdown()`` is made for that; ``test_slack_cli`` covers waitress serving the same app.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import ThreadingHTTPServer
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from slack_bolt import App

from bot.app import build_engine
from bot.config import Settings
from bot.engine import InterviewEngine
from bot.slack.app import build_app
from bot.slack.server import EVENTS_PATH, wsgi_app
from bot.store.db import Database
from tests.fakes.loopback import LoopbackServer
from tests.fakes.slack_api import Call, FakeSlackAPI, SlackSender

SECRET = "test-signing-secret"
CHANNEL = "C0001"
GOOD_ANSWER = (
    "At my last job I led the migration of our billing API. I measured p99 latency before and after, "
    "added idempotency keys so retries were safe, and rolled it out behind a feature flag; the error "
    "rate fell by 40% and I wrote the runbook the on-call team still uses."
)


class _ThreadingWSGIServer(ThreadingHTTPServer, WSGIServer):
    """The stdlib WSGI server, one thread a request (as waitress answers requests concurrently)."""


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


class BoltServer(LoopbackServer):
    """The Bolt app's WSGI handler on a loopback port, served from a thread until ``stop()``."""

    def __init__(self, app: App) -> None:
        self._listen(_QuietHandler, _ThreadingWSGIServer)
        self._server.set_app(wsgi_app(app))  # type: ignore[attr-defined]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{EVENTS_PATH}"


def slack_settings(fake: FakeSlackAPI, database_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake.url,
        "DATABASE_URL": database_url,
        "RECRUITERS": "slack:URECRUIT,slack:SRECRUITERS",
        "TEAM_LEADS": "slack:ULEAD",
        "DEFAULT_QUESTIONS": 2,
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class RunningBot:
    fake: FakeSlackAPI
    sender: SlackSender
    server: BoltServer
    engine: InterviewEngine

    # ── steps ───────────────────────────────────────────────────────────────────────
    def start_interview(
        self, user: str, text: str = "backend technical mid 2", channel: str = CHANNEL
    ) -> str:
        """``/interview`` and wait for the first question; returns the thread ts (the parent message)."""
        before = len(self.fake.calls_to("chat.postMessage", ok=True))
        sent = self.sender.command("/interview", text, user, channel)
        assert sent.status == 200 and sent.elapsed_s < 3, sent
        posts = self.fake.wait_calls("chat.postMessage", before + 2, ok=True)
        parent = posts[before]
        assert parent.params.get("thread_ts") is None and f"<@{user}>" in parent.params["text"]
        question = posts[before + 1]
        assert question.params["thread_ts"] == parent.response["ts"]
        return str(parent.response["ts"])

    def answer(
        self, user: str, thread: str, text: str = GOOD_ANSWER, channel: str = CHANNEL, **kw: Any
    ) -> Call:
        """Reply in the thread and wait for the feedback; returns the call that showed it.

        Normally that is the ``chat.update`` of the "thinking…" placeholder; when a redelivery
        of the same event won the race it is a new ``chat.postMessage`` (see ``message_ts``).
        """
        before = len(self.feedback_calls(thread))
        sent = self.sender.reply(user, channel, thread, text, **kw)
        assert sent.status == 200 and sent.elapsed_s < 3, sent
        return self.fake.wait_for(
            lambda: (u := self.feedback_calls(thread)) and len(u) > before and u[-1], what="feedback posted"
        )

    def feedback_updates(self, thread: str) -> list[Call]:
        """Placeholders (or streamed previews) replaced by feedback, in order."""
        placeholders = {
            c.response.get("ts")
            for c in self.fake.calls_to("chat.postMessage", ok=True)
            if c.params.get("thread_ts") == thread and "Thinking" in c.params.get("text", "")
        } | {c.response.get("ts") for c in self.fake.calls_to("chat.startStream", ok=True)
             if c.params.get("thread_ts") == thread}
        return [
            c
            for c in self.fake.calls_to("chat.update", ok=True)
            if c.params.get("ts") in placeholders and c.params["text"].startswith("Feedback")
        ]

    def feedback_calls(self, thread: str) -> list[Call]:
        """Every call that first showed a feedback in the thread (placeholder updates and new posts)."""
        posted = [c for c in self.thread_posts(thread) if c.params["text"].startswith("Feedback")]
        return sorted(self.feedback_updates(thread) + posted, key=lambda c: c.at)

    def thread_posts(self, thread: str) -> list[Call]:
        return [
            c for c in self.fake.calls_to("chat.postMessage", ok=True) if c.params.get("thread_ts") == thread
        ]


@contextmanager
def running_bot(fake: FakeSlackAPI, db: Database, **overrides: Any) -> Iterator[RunningBot]:
    tally_timeout_s = float(overrides.pop("tally_timeout_s", 10))
    settings = slack_settings(fake, db.url, **overrides)
    engine = build_engine(settings, db=db, serving=True)  # warmed up, as `mockingbird slack` serves
    app = build_app(engine, settings, workers=16, tally_timeout_s=tally_timeout_s)
    server = BoltServer(app).start()
    try:
        yield RunningBot(fake, SlackSender(server.url, SECRET, fake), server, engine)
    finally:
        server.stop()
        app.listener_runner.listener_executor.shutdown(wait=True)  # type: ignore[attr-defined]


def _feedback_buttons(call: Call) -> dict[str, Any]:
    ratings = [b for b in call.params.get("blocks", []) if b.get("type") == "context_actions"][-1]
    return next(e for e in ratings["elements"] if e["type"] == "feedback_buttons")


def rating_labels(call: Call) -> dict[str, str]:
    """``{"up": label, "down": label}`` of the native 👍 / 👎 of a posted or updated feedback."""
    buttons = _feedback_buttons(call)
    return {"up": buttons["positive_button"]["text"]["text"], "down": buttons["negative_button"]["text"]["text"]}


def action_ids(call: Call) -> list[str]:
    """The action ids of every interactive element of a message, in order."""
    return [
        e["action_id"]
        for b in call.params.get("blocks", [])
        if b.get("type") in ("actions", "context_actions")
        for e in b["elements"]
    ]


def turn_of(call: Call) -> str:
    """The turn id a feedback message's 👍 carries (``"<turn>:up"``)."""
    return str(_feedback_buttons(call)["positive_button"]["value"]).split(":")[0]


def message_ts(call: Call) -> str:
    """The ts of the message a ``chat.update`` or ``chat.postMessage`` call showed."""
    return str(call.params["ts"] if call.method == "chat.update" else call.response["ts"])
