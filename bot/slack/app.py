"""The Bolt app: which Slack request goes to which handler.

``process_before_response=True`` with lazy listeners: the acknowledgement function runs
inside the request (parsing only, no I/O), so Slack gets its answer in milliseconds however
busy the workers are; the work runs afterwards on ``listener_executor`` threads. The same
app serves HTTP mode and Socket Mode.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App
from slack_sdk import WebClient

from bot.config import Settings
from bot.engine import InterviewEngine
from bot.slack import blocks
from bot.slack.feedback import FeedbackActions
from bot.slack.home import publish_home
from bot.slack.interviews import Interviews
from bot.slack.modals import CORRECT_CALLBACK, START_CALLBACK
from bot.slack.people import People
from bot.slack.stats import TeamStats
from bot.slack.web import make_client

log = logging.getLogger(__name__)

INTERVIEW_COMMAND, STATS_COMMAND = "/interview", "/interview-stats"


class _SkipTokenNotice(logging.Filter):
    """Bolt notes that ``SLACK_BOT_TOKEN`` is unused when a client is given; ours carries that token."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "`token` will be unused" not in record.getMessage()


bolt_log = logging.getLogger("bot.slack.bolt")
bolt_log.addFilter(_SkipTokenNotice())


class ConfigError(ValueError):
    """A missing or unusable Slack setting; the message says which variable to set."""


def _ack(ack: Any) -> None:
    ack()


def _log_error(error: Exception, body: dict[str, Any]) -> None:
    log.error("unhandled error in a Slack listener (%s): %s", body.get("type"), error, exc_info=error)


def build_app(
    engine: InterviewEngine,
    settings: Settings,
    *,
    client: WebClient | None = None,
    workers: int = 64,
    token_verification: bool = True,
    socket_mode: bool = False,
    tally_timeout_s: float = 10.0,
) -> App:
    """A Bolt app over ``engine``. ``workers`` bounds concurrent model work (lazy listeners)."""
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…).")
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret and not socket_mode:
        raise ConfigError("SLACK_SIGNING_SECRET is not set; HTTP mode verifies every request with it.")
    app = App(
        name="mockingbird",
        logger=bolt_log,
        client=client or make_client(settings),
        signing_secret=secret,
        process_before_response=True,
        token_verification_enabled=token_verification,
        request_verification_enabled=True,
        listener_executor=ThreadPoolExecutor(max_workers=workers, thread_name_prefix="slack-work"),
    )
    register(app, engine, tally_timeout_s=tally_timeout_s)
    return app


def register(app: App, engine: InterviewEngine, *, tally_timeout_s: float = 10.0) -> None:
    people = People(engine.settings)
    interviews = Interviews(engine, people)
    feedback = FeedbackActions(engine, people, tally_timeout_s=tally_timeout_s)
    stats = TeamStats(engine, people)

    app.command(INTERVIEW_COMMAND)(ack=interviews.ack_command, lazy=[interviews.run_command])
    app.view(START_CALLBACK)(ack=interviews.ack_form, lazy=[interviews.run_form])
    app.event("message")(ack=_ack, lazy=[interviews.run_message])
    app.action(blocks.SURVEY)(ack=_ack, lazy=[interviews.run_survey])

    app.action(blocks.RATE_UP)(ack=_ack, lazy=[feedback.run_rating])
    app.action(blocks.RATE_DOWN)(ack=_ack, lazy=[feedback.run_rating])
    app.action(blocks.CORRECT)(ack=_ack, lazy=[feedback.run_open_form])
    app.view(CORRECT_CALLBACK)(ack=feedback.ack_form, lazy=[feedback.run_form])

    app.command(STATS_COMMAND)(ack=stats.ack_command, lazy=[stats.run_command])

    def home(event: dict[str, Any], client: WebClient) -> None:
        publish_home(engine, people, client, event)

    app.event("app_home_opened")(ack=_ack, lazy=[home])
    app.error(_log_error)
