"""Feedback streamed into a thread while the model writes it, then replaced by the validated feedback.

slack_sdk's ``chat_stream`` helper (``chat.startStream`` / ``appendStream`` / ``stopStream``) carries
the text; the engine hands over the readable feedback so far (``on_text``), already free of JSON.
When the feedback is stored, the stream is stopped and the same message is rewritten
(``chat.update``) as the Block Kit feedback with its controls, so what stays in the thread is
always the validated, repaired or fallback feedback, never the half-written preview.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.web.chat_stream import ChatStream

from bot.slack import blocks, web

log = logging.getLogger(__name__)

# The first words go out at once (chat.startStream); after that the text is sent at most once per
# interval (chat.appendStream), and what is left with chat.stopStream, which ``finish`` makes anyway.
# A model writes its reply in chunks of a few characters: one call per chunk, or per 40 characters
# as before, made ~15 Web API calls per feedback, each a round trip the grading thread waits for and
# most of the bot's Slack CPU per answer. Twice a second still reads as live.
FLUSH_INTERVAL_S = 0.5


class FeedbackStream:
    """One feedback's preview in one thread; ``text`` on the grading thread, then ``finish`` once."""

    def __init__(
        self,
        client: WebClient,
        channel: str,
        thread: str,
        *,
        user: str,
        team: str | None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client, self.channel, self.thread = client, channel, thread
        self.user, self.team, self.clock = user, team, clock
        self._stream: ChatStream | None = None
        self._seen = ""  # the escaped text so far: what was sent, then what waits for the next call
        self._sent = 0  # how much of it Slack has
        self._sent_at = 0.0  # the clock's time of the last call that carried text
        self._broken = False

    def text(self, readable: str) -> None:
        """The readable feedback so far: its new ending is appended (escaped like every model text)."""
        escaped = blocks.esc(readable)
        if self._broken or not escaped.startswith(self._seen) or escaped == self._seen:
            return  # an earlier part was rewritten: the final message will show it
        self._seen = escaped
        if self._stream is not None and self.clock() - self._sent_at < FLUSH_INTERVAL_S:
            return  # sent with the next call
        try:
            if self._stream is None:
                # The helper's own buffer is off (one character flushes): the interval above decides.
                self._stream = self.client.chat_stream(
                    channel=self.channel,
                    thread_ts=self.thread,
                    recipient_user_id=self.user,
                    recipient_team_id=self.team,
                    buffer_size=1,
                )
            self._stream.append(markdown_text=escaped[self._sent :])
            self._sent, self._sent_at = len(escaped), self.clock()
        except SlackClientError as exc:  # the preview is a courtesy: the feedback is posted regardless
            self._broken = True
            log.warning("feedback stream in %s failed: %s", self.channel, web.error_code(exc))

    @property
    def ts(self) -> str | None:
        """The streamed message, once Slack has one (None until the first text, or if Slack refused)."""
        return self._stream.ts if self._stream is not None else None

    def finish(self, text: str, body: list[dict[str, Any]]) -> bool:
        """Stop the stream and rewrite its message as ``text`` / ``body``.

        False when there is no streamed message to rewrite (nothing flushed yet, or Slack refused):
        the caller posts the message as it would without a stream.
        """
        ts = self.ts
        if self._stream is None or ts is None:
            return False
        try:  # the text not sent yet goes with the stop, so the stream ends whole before its rewrite
            self._stream.stop(markdown_text=self._seen[self._sent :] or None)
        except SlackClientError as exc:  # e.g. the stream already expired: chat.update still works
            log.info("chat.stopStream in %s failed: %s", self.channel, web.error_code(exc))
        return web.update(self.client, self.channel, ts, text, body)
