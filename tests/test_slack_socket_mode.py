"""Socket Mode: the same Bolt app, connected over a WebSocket to a fake Socket Mode server."""

from __future__ import annotations

import time

from sqlalchemy import select

from bot.app import build_engine
from bot.slack.app import build_app
from bot.slack.server import socket_mode_handler
from bot.store.db import Database
from bot.store.models import Turn, TurnState
from tests.fakes.slack_api import FakeSlackAPI, FakeSocketMode
from tests.fakes.slack_harness import GOOD_ANSWER, slack_settings


def test_socket_mode_runs_an_interview(sqlite_db: Database) -> None:
    with FakeSlackAPI() as fake, FakeSocketMode() as socket:
        fake.socket_url = socket.url
        settings = slack_settings(fake, sqlite_db.url, SLACK_SIGNING_SECRET=None, SLACK_APP_TOKEN="xapp-test")
        app = build_app(build_engine(settings, db=sqlite_db), settings, socket_mode=True, workers=4)
        handler = socket_mode_handler(app, "xapp-test")
        handler.connect()
        try:
            command = {
                "command": "/interview",
                "text": "backend technical mid 1",
                "user_id": "USOCK",
                "channel_id": "C0001",
                "team_id": "T0001",
                "api_app_id": "A0001",
                "response_url": fake.response_url(),
                "trigger_id": "1.2.trigger",
            }
            ack = socket.send("slash_commands", command)
            assert ack["elapsed_s"] < 3 and not ack.get("payload")
            posts = fake.wait_calls("chat.postMessage", 2)
            thread = posts[0].response["ts"]
            assert posts[1].params["thread_ts"] == thread
            ts = f"{time.time():.6f}"
            socket.send(
                "events_api",
                {
                    "type": "event_callback",
                    "team_id": "T0001",
                    "api_app_id": "A0001",
                    "event_id": "EvSOCK1",
                    "event": {
                        "type": "message",
                        "channel": "C0001",
                        "user": "USOCK",
                        "text": GOOD_ANSWER,
                        "ts": ts,
                        "thread_ts": thread,
                        "channel_type": "channel",
                    },
                },
            )
            fake.wait_for(
                lambda: any(
                    c.params["text"].startswith("Interview report")
                    for c in fake.calls_to("chat.postMessage", ok=True)
                ),
                what="report",
            )
            help_ack = socket.send("slash_commands", {**command, "text": "help"})
            assert "Mock interviews" in help_ack["payload"]["text"]
        finally:
            handler.close()  # the SDK's client stops its background loops: about 3 s
            app.listener_runner.listener_executor.shutdown(wait=True)  # type: ignore[attr-defined]
    assert fake.calls_to("apps.connections.open")[0].headers["authorization"] == "Bearer xapp-test"
    with sqlite_db.session() as session:
        turn = session.scalars(select(Turn)).one()
        assert turn.state == TurnState.graded and turn.answer_event_id == "EvSOCK1"
