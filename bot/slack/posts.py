"""What the bot posts in an interview's thread as the engine moves on: the "Thinking…"
placeholder, feedback in its place, the next question, the report, and a notice when a step
failed. Every post is a courtesy beyond what is stored: a failed one is logged, never raised,
since ``retry`` or the App Home shows the stored content again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, NamedTuple

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.engine import EngineError, Progress
from bot.slack import blocks, web

log = logging.getLogger(__name__)


class Thread(NamedTuple):
    """Where an interview runs: the channel and the parent message's ts."""

    channel: str
    thread: str


def post(client: WebClient, where: Thread, text: str, body: list[dict[str, Any]]) -> None:
    try:
        web.post(client, where.channel, text, body, thread_ts=where.thread)
    except SlackClientError as exc:  # the content is stored; 'retry' or the App Home shows it again
        log.warning("could not post in %s/%s: %s", where.channel, where.thread, web.error_code(exc))


def delete(client: WebClient, channel: str, ts: str | None) -> None:
    if ts is None:
        return
    try:
        client.chat_delete(channel=channel, ts=ts)
    except SlackClientError as exc:
        log.warning("could not delete %s/%s: %s", channel, ts, web.error_code(exc))


def placeholder(client: WebClient, where: Thread) -> str | None:
    """Post "Thinking…" and return its ts (None when it could not be posted)."""
    try:
        return web.post(client, where.channel, *blocks.thinking_message(), thread_ts=where.thread)
    except SlackClientError as exc:
        log.warning("could not post the placeholder in %s: %s", where.channel, web.error_code(exc))
        return None


def notice(client: WebClient, where: Thread, shown_in: str | None, exc: Exception) -> None:
    """Say what went wrong, in place of the placeholder ``shown_in`` where there is one."""
    message = blocks.notice(f":warning: {blocks.esc(exc)}")
    if shown_in is None or not web.update(client, where.channel, shown_in, *message):
        post(client, where, *message)


def run(client: WebClient, where: Thread, shown_in: str | None, call: Callable[[], Progress]) -> None:
    """An engine step (skip, end, retry, try again): its progress shown, or its refusal as a notice."""
    try:
        progress = call()
    except EngineError as exc:
        notice(client, where, shown_in, exc)
        return
    show(client, where, progress, shown_in)


def show(
    client: WebClient, where: Thread, progress: Progress, shown_in: str | None = None, *, feedback_shown: bool = False
) -> None:
    """Feedback (replacing the placeholder ``shown_in``), then the next question or the report."""
    if progress.duplicate:
        delete(client, where.channel, shown_in)
        return
    graded = progress.graded
    if graded is not None and graded.feedback is not None and not feedback_shown:
        message = blocks.feedback_message(graded, progress.session)
        if shown_in is None or not web.update(client, where.channel, shown_in, *message):
            post(client, where, *message)
    elif not feedback_shown:
        delete(client, where.channel, shown_in)
    if progress.next_question is not None:
        post(client, where, *blocks.question_message(progress.next_question, progress.session))
    if progress.report is not None:
        post(client, where, *blocks.report_message(progress.report))
