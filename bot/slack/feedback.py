"""👍 / 👎 on a feedback message, and a recruiter's "Correct" form.

The 👍 / 👎 are Slack's native ``feedback_buttons`` (``blocks.rating_block``); clicks on the
custom buttons of older messages take the same path. A rating goes to the engine, which hands
it to the signal sink (the Celery task ``record_rating`` when ``REDIS_URL`` is set); once it is
stored the message is redrawn with the tally read from the database (the rest of the message
comes from the click's payload). A click on the other button changes the rating, a second
click on the same one changes nothing. Corrections are for recruiters only: the role is
checked when the form is opened and again, by the engine, when it is submitted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.engine import EngineError, Forbidden, InterviewEngine, UserRole
from bot.slack import blocks, settled, web
from bot.slack.modals import correction_form, metadata, parse_correction
from bot.slack.people import People

log = logging.getLogger(__name__)
REDRAWS = 3  # a message redrawn this often in one click has a stream of clicks, each of which redraws it too


def _ids(body: dict[str, Any]) -> tuple[str, str | None, str | None, str | None]:
    """user, channel, message ts, thread ts of a ``block_actions`` payload."""
    container = body.get("container") or {}
    message = body.get("message") or {}
    return (
        body["user"]["id"],
        (body.get("channel") or {}).get("id"),
        container.get("message_ts") or message.get("ts"),
        container.get("thread_ts") or message.get("thread_ts"),
    )


class FeedbackActions:
    def __init__(self, engine: InterviewEngine, people: People, *, tally_timeout_s: float = 10.0) -> None:
        self.engine = engine
        self.people = people
        self.tally_timeout_s = tally_timeout_s

    # ── ratings ─────────────────────────────────────────────────────────────────────
    def run_rating(self, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        user, channel, ts, thread = _ids(body)
        actor = self.people.actor(user, client, roles=True)
        try:
            turn_id, value = blocks.parse_rating(action)
            rated = self.engine.rate(turn_id, actor, value)
        except (EngineError, ValueError) as exc:
            _refuse(client, channel, user, thread, exc)
            return
        counts, stored = settled.settled_tally(
            self.engine, turn_id, actor, value, self.tally_timeout_s, known=rated.get("tally")
        )
        if not stored:
            log.warning(
                "rating on turn %s by %s not stored after %.0fs; showing the tally as it is",
                turn_id,
                user,
                self.tally_timeout_s,
            )
        if not (channel and ts):
            return
        shown = body.get("message") or {}
        for _ in range(REDRAWS):
            self._redraw(client, channel, ts, shown, turn_id, counts)
            # Two clicks on one message run side by side, and each draws the tally it read: the one read
            # first can land last. Reading again after drawing, the last to land sees every rating stored
            # before it landed (and a rating stored later draws again itself), so the message ends right.
            latest = self.engine.tally(turn_id, actor)
            if blocks.tally_labels(latest) == blocks.tally_labels(counts):
                return
            counts = latest

    def _redraw(self, client: WebClient, channel: str, ts: str, shown: dict[str, Any], turn_id: int,
                counts: dict[str, Any]) -> None:
        redrawn = blocks.with_tally(shown.get("blocks") or [], turn_id, counts)
        if redrawn is not None:
            web.update(client, channel, ts, shown.get("text") or "Feedback", redrawn)
        else:
            turn, session = self.engine.feedback_of(turn_id)
            web.update(client, channel, ts, *blocks.feedback_message(turn, session, counts))

    # ── corrections ─────────────────────────────────────────────────────────────────
    def run_open_form(self, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        user, channel, ts, thread = _ids(body)
        try:
            turn_id = int(action["value"])
            self.engine.require(
                self.people.actor(user, client, roles=True), UserRole.recruiter, "correct feedback"
            )
            turn, session = self.engine.feedback_of(turn_id)
        except (EngineError, ValueError) as exc:
            _refuse(client, channel, user, thread, exc)
            return
        assert turn.feedback is not None
        meta = {
            "turn": turn_id,
            "channel": channel or session.channel_id,
            "thread": session.thread_id,
            "message": ts,
        }
        try:
            client.views_open(trigger_id=body["trigger_id"], view=correction_form(turn.feedback, meta))
        except SlackClientError as exc:
            if channel:
                web.tell(client, channel, user, web.explain(exc), thread_ts=thread)

    def ack_form(self, ack: Callable[..., Any], view: dict[str, Any]) -> None:
        parsed = parse_correction(view)
        if isinstance(parsed, dict):
            ack(response_action="errors", errors=parsed)
        else:
            ack()

    def run_form(self, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        user, meta = body["user"]["id"], metadata(view)
        channel, thread = meta.get("channel"), meta.get("thread")
        try:
            turn_id = int(meta.get("turn"))  # type: ignore[arg-type]
            turn, session = self.engine.feedback_of(turn_id)
            assert turn.feedback is not None
            parsed = parse_correction(view, turn.feedback.criteria)
            if isinstance(parsed, dict):
                return  # already refused in the acknowledgement
            corrected, note = parsed
            self.engine.correct(turn_id, self.people.actor(user, client, roles=True), corrected, note)
        except Forbidden as exc:
            if channel:
                web.tell(client, channel, user, f"{blocks.esc(exc)} Nothing was saved.", thread_ts=thread)
            return
        except (EngineError, TypeError, ValueError) as exc:
            if channel:
                web.tell(
                    client,
                    channel,
                    user,
                    blocks.esc(exc) if isinstance(exc, EngineError) else "That form is not valid any more.",
                    thread_ts=thread,
                )
            return
        if channel:
            try:
                web.post(
                    client,
                    channel,
                    *blocks.correction_message(turn, session, corrected, user, note),
                    thread_ts=thread,
                )
            except SlackClientError as exc:
                log.warning("could not post the correction in %s: %s", channel, web.error_code(exc))
                web.tell(client, channel, user, f"Your correction is saved. {web.explain(exc)}")


def _refuse(client: WebClient, channel: str | None, user: str, thread: str | None, exc: Exception) -> None:
    """Tell only the clicker why nothing happened (an engine refusal, or a button from a stale message)."""
    if channel:
        text = blocks.esc(exc) if isinstance(exc, EngineError) else "That button is not valid any more."
        web.tell(client, channel, user, text, thread_ts=thread)
