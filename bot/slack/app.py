"""The Bolt app: which Slack request goes to which handler.

Every listener comes in two halves. The acknowledgement runs inside the request (parsing
only, no I/O), so Slack gets its answer in milliseconds however busy the bot is; the work
(database, model, Web API) then runs on the app's worker pool, whose queue is bounded
(``BoundedPool``: when it is full the person is told "busy" at once). ``after_ack`` joins the two
halves. It does what Bolt's lazy listeners do for a long-running server without their cost
per request (a deep copy of the request and a second dispatch through the middleware), which
matters when a hundred interviews share one process. The same app serves HTTP mode and
Socket Mode.
"""

from __future__ import annotations

import inspect
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

from slack_bolt import App, Args, Assistant
from slack_sdk import WebClient

from bot.config import Settings
from bot.engine import InterviewEngine
from bot.slack import blocks
from bot.slack.assistant import AssistantPane, ignore_context_change
from bot.slack.connections import reuse_connections
from bot.slack.feedback import FeedbackActions
from bot.slack.home import ChartFiles, publish_home
from bot.slack.interviews import Interviews
from bot.slack.modals import CORRECT_CALLBACK, START_CALLBACK
from bot.slack.people import People
from bot.slack.stats import TeamStats
from bot.slack.web import make_client, redact_log_secrets

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


def _wanted(function: Callable[..., Any]) -> tuple[str, ...]:
    """The Bolt arguments a half asks for: its parameters without defaults (the others are ours)."""
    parameters = inspect.signature(function).parameters.values()
    return tuple(p.name for p in parameters if p.default is inspect.Parameter.empty)


BUSY = "I'm busy with many interviews right now; please try that again in a minute."
#: Work items a pool takes beyond its threads before it says busy (per worker thread).
QUEUE_PER_WORKER = 4


class Busy(RuntimeError):
    """The worker pool's queue is full."""


class BoundedPool(ThreadPoolExecutor):
    """A thread pool whose queue is bounded: ``submit`` raises ``Busy`` when ``limit`` items are
    running or waiting.

    Why: with an unbounded queue a burst beyond what the threads can serve waits, in memory, for
    minutes (every item holds a request body and a Web API client), and the person waiting sees
    nothing; a full queue instead answers "busy" at once and they try again.
    """

    def __init__(self, max_workers: int, limit: int, thread_name_prefix: str = "") -> None:
        super().__init__(max_workers=max_workers, thread_name_prefix=thread_name_prefix)
        self._slots = threading.BoundedSemaphore(limit)

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        if not self._slots.acquire(blocking=False):
            raise Busy(BUSY)
        try:
            future = super().submit(fn, *args, **kwargs)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future


def _say_busy(args: Args) -> None:
    """Tell the person their request was not taken: ephemerally where Slack allows it."""
    body, user = args.body, (args.body.get("user") or {}).get("id") or (args.body.get("event") or {}).get("user")
    try:
        if body.get("response_url") or body.get("command"):
            args.respond(text=BUSY, response_type="ephemeral", replace_original=False)
        elif args.context.channel_id and user:
            thread = (body.get("event") or {}).get("thread_ts")
            args.client.chat_postEphemeral(channel=args.context.channel_id, user=user, text=BUSY, thread_ts=thread)
    except Exception as exc:  # telling them is a courtesy; the refusal is logged either way
        log.warning("could not say busy: %s", exc)


def after_ack(
    pool: Executor, acknowledge: Callable[..., None], work: Callable[..., None]
) -> Callable[[Args], None]:
    """A Bolt listener: ``acknowledge`` inside the request, then ``work`` on ``pool``.

    Both take Bolt's usual argument names (``ack``, ``body``, ``client``, ``event``, ...).
    An exception in ``work`` is logged with the payload type, as Bolt's error handler would.
    """
    ack_names, work_names = _wanted(acknowledge), _wanted(work)

    def run(kwargs: dict[str, Any], body: dict[str, Any]) -> None:
        try:
            work(**kwargs)
        except Exception as exc:
            _log_error(exc, body)

    def listener(args: Args) -> None:
        acknowledge(**{name: getattr(args, name) for name in ack_names})
        try:
            pool.submit(run, {name: getattr(args, name) for name in work_names}, args.body)
        except Busy:
            log.warning("worker pool full: %s refused", args.body.get("type"))
            _say_busy(args)

    return listener


def build_app(
    engine: InterviewEngine,
    settings: Settings,
    *,
    client: WebClient | None = None,
    workers: int = 64,
    socket_mode: bool = False,
    tally_timeout_s: float = 10.0,
) -> App:
    """A Bolt app over ``engine``. ``workers`` bounds concurrent model work (after the acks)."""
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set (the bot token, xoxb-…).")
    secret = settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    if not secret and not socket_mode:
        raise ConfigError("SLACK_SIGNING_SECRET is not set; HTTP mode verifies every request with it.")
    redact_log_secrets()  # response URLs are credentials; the SDKs would log them
    reuse_connections()  # keep-alive for every Web API call, HTTP mode and Socket Mode
    pool = BoundedPool(workers, workers * QUEUE_PER_WORKER, thread_name_prefix="slack-work")
    app = App(
        name="mockingbird",
        logger=bolt_log,
        client=client or make_client(settings),
        signing_secret=secret,
        process_before_response=True,
        request_verification_enabled=True,
        listener_executor=pool,  # shut down with the app (``listener_runner.listener_executor``)
    )
    register(app, engine, pool, tally_timeout_s=tally_timeout_s)
    return app


def register(app: App, engine: InterviewEngine, pool: Executor, *, tally_timeout_s: float = 10.0) -> None:
    people = People(engine.settings)
    interviews = Interviews(engine, people)
    feedback = FeedbackActions(engine, people, tally_timeout_s=tally_timeout_s)
    stats = TeamStats(engine, people)
    charts = ChartFiles()  # the progress chart uploaded for each person's current figures

    def home(event: dict[str, Any], client: WebClient) -> None:
        publish_home(engine, people, client, event, charts)

    routes = [
        (app.command(INTERVIEW_COMMAND), interviews.ack_command, interviews.run_command),
        (app.view(START_CALLBACK), interviews.ack_form, interviews.run_form),
        (app.event("message"), _ack, interviews.run_message),
        (app.action(blocks.SURVEY), _ack, interviews.run_survey),
        (app.action(blocks.TRY_AGAIN), _ack, interviews.run_again),
        (app.action(blocks.RATE), _ack, feedback.run_rating),
        (app.action(blocks.LEGACY_RATE_UP), _ack, feedback.run_rating),
        (app.action(blocks.LEGACY_RATE_DOWN), _ack, feedback.run_rating),
        (app.action(blocks.CORRECT), _ack, feedback.run_open_form),
        (app.view(CORRECT_CALLBACK), feedback.ack_form, feedback.run_form),
        (app.command(STATS_COMMAND), stats.ack_command, stats.run_command),
        (app.event("app_home_opened"), _ack, home),
    ]
    for route, acknowledge, work in routes:
        route(after_ack(pool, acknowledge, work))
    # The Agents & AI Apps pane: Bolt's middleware takes direct-message threads before app.event("message").
    pane = AssistantPane(engine, people, interviews)
    assistant = Assistant(logger=bolt_log)
    assistant.thread_started(after_ack(pool, _ack, pane.greet))
    assistant.thread_context_changed(after_ack(pool, _ack, ignore_context_change))
    assistant.user_message(after_ack(pool, _ack, pane.run_message))
    app.use(assistant)
    app.error(_log_error)
