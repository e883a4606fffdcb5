"""Feedback streamed into a thread while the model writes it, then replaced by the validated feedback.

slack_sdk's ``chat_stream`` helper (``chat.startStream`` / ``appendStream`` / ``stopStream``) carries
the text; the engine hands over the readable feedback so far (``on_text``), already free of JSON.
When the feedback is stored, the stream is stopped and the same message is rewritten
(``chat.update``) as the Block Kit feedback with its controls, so what stays in the thread is
always the validated, repaired or fallback feedback, never the half-written preview.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.web.chat_stream import ChatStream

from bot.slack import blocks, web

log = logging.getLogger(__name__)

# Characters buffered before each stream call: the first words show within a few model chunks,
# and a long feedback costs a handful of calls, well inside appendStream's rate limit.
BUFFER_CHARS = 40


class FeedbackStream:
    """One feedback's preview in one thread; ``text`` on the grading thread, then ``finish`` once."""

    def __init__(
        self, client: WebClient, channel: str, thread: str, *, user: str, team: str | None
    ) -> None:
        self.client, self.channel, self.thread = client, channel, thread
        self.user, self.team = user, team
        self._stream: ChatStream | None = None
        self._sent = ""  # the escaped text handed to the stream so far
        self._broken = False

    def text(self, readable: str) -> None:
        """The readable feedback so far: its new ending is appended (escaped like every model text)."""
        escaped = blocks.esc(readable)
        if self._broken or not escaped.startswith(self._sent) or escaped == self._sent:
            return  # an earlier part was rewritten: the final message will show it
        try:
            if self._stream is None:
                self._stream = self.client.chat_stream(
                    channel=self.channel,
                    thread_ts=self.thread,
                    recipient_user_id=self.user,
                    recipient_team_id=self.team,
                    buffer_size=BUFFER_CHARS,
                )
            self._stream.append(markdown_text=escaped[len(self._sent) :])
            self._sent = escaped
        except SlackClientError as exc:  # the preview is a courtesy: the feedback is posted regardless
            self._broken = True
            log.warning("feedback stream in %s failed: %s", self.channel, web.error_code(exc))

    @property
    def ts(self) -> str | None:
        """The streamed message, once Slack has one (the helper buffers its first characters)."""
        return self._stream.ts if self._stream is not None else None

    def finish(self, text: str, body: list[dict[str, Any]]) -> bool:
        """Stop the stream and rewrite its message as ``text`` / ``body``.

        False when there is no streamed message to rewrite (nothing flushed yet, or Slack refused):
        the caller posts the message as it would without a stream.
        """
        ts = self.ts
        if self._stream is None or ts is None:
            return False
        try:
            self._stream.stop()
        except SlackClientError as exc:  # e.g. the stream already expired: chat.update still works
            log.info("chat.stopStream in %s failed: %s", self.channel, web.error_code(exc))
        return web.update(self.client, self.channel, ts, text, body)
