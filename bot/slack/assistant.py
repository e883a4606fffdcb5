"""Mockingbird in Slack's Agents & AI Apps pane, through Bolt's ``Assistant`` middleware.

Opening the pane (``assistant_thread_started``) greets the candidate and offers suggested
prompts. A message in that assistant thread starts an interview there (the prompt's words are
``/interview``'s arguments), and once one runs, every message in the thread is an answer or a
thread command, exactly as in a channel thread (``Interviews.run_message``). While the model
grades, ``assistant.threads.setStatus`` says so (Slack clears it when the feedback is posted);
``setTitle`` names the interview in the pane's history. Channel ``/interview`` threads are not
affected: Bolt sends only direct-message threads here.

Like every listener, these acknowledge in the request and do their work on the worker pool
(``bot.slack.app.after_ack``); nothing is remembered between calls.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import BoltContext
from slack_bolt.context.set_status import SetStatus
from slack_bolt.context.set_suggested_prompts import SetSuggestedPrompts
from slack_bolt.context.set_title import SetTitle
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.engine import InterviewEngine
from bot.engine.text import thread_command
from bot.engine.views import FINISHED
from bot.slack import blocks, web
from bot.slack.blocks import HELP_TEXT
from bot.slack.commands import ForgetMe, InterviewRequest, parse_interview
from bot.slack.home import trend_text
from bot.slack.interviews import Interviews
from bot.slack.people import PLATFORM, People

log = logging.getLogger(__name__)

PROGRESS_WORDS = {"my progress", "progress", "my interviews", "history"}
SUGGESTED_PROMPTS = [
    {"title": "Backend, technical, senior", "message": "backend technical senior 3"},
    {"title": "Behavioral practice", "message": "product-management behavioral mid 3"},
    {"title": "My progress", "message": "my progress"},
    {"title": "How does this work?", "message": "help"},
]
GREETING = (
    "Hi! I'm Mockingbird, your mock interviewer. Pick a prompt below, or tell me the interview you "
    "want, e.g. `frontend technical junior 2`. I ask the questions here and answer each reply with "
    "feedback."
)
GRADING_STATUS = "is reading your answer…"
ASKING_STATUS = "is preparing your first question…"


class AssistantPane:
    def __init__(self, engine: InterviewEngine, people: People, interviews: Interviews) -> None:
        self.engine = engine
        self.people = people
        self.interviews = interviews

    def greet(self, event: dict[str, Any], client: WebClient, set_suggested_prompts: SetSuggestedPrompts) -> None:
        """``assistant_thread_started``: a greeting and the suggested prompts."""
        thread = event["assistant_thread"]
        try:
            web.post(client, thread["channel_id"], *blocks.notice(GREETING), thread_ts=thread["thread_ts"])
            set_suggested_prompts(prompts=SUGGESTED_PROMPTS, title="What shall we practise?")
        except SlackClientError as exc:
            log.warning("could not greet in the assistant pane: %s", web.error_code(exc))

    def run_message(
        self, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext,
        set_status: SetStatus, set_title: SetTitle,
    ) -> None:
        """A candidate's message in an assistant thread: an answer, or the interview to start."""
        channel, thread, user = event.get("channel"), event.get("thread_ts"), event.get("user")
        if not channel or not thread or not user or event.get("bot_id"):
            return

        def status(text: str) -> None:
            try:
                set_status(text)
            except SlackClientError as exc:  # a missing status must not lose the answer
                log.warning("assistant.threads.setStatus failed: %s", web.error_code(exc))

        interview = self.engine.in_thread(PLATFORM, channel, thread)
        text = (event.get("text") or "").strip()
        # A finished interview takes one more thread command: 'again' reopens it for a second attempt.
        if interview is not None and (interview.state not in FINISHED or thread_command(text) == "again"):
            self.interviews.run_message(body, event, client, context, working=lambda: status(GRADING_STATUS))
            return
        if text.lower().rstrip(".!?") in PROGRESS_WORDS:
            actor = self.people.actor(user)
            figures = self.engine.progress(actor)
            detail = "\n" + "\n".join(figures.as_text().splitlines()[1:]) if figures.answers else ""
            self._say(client, channel, thread, trend_text(self.engine.history(actor)) + blocks.esc(detail))
            return
        parsed = parse_interview(text, self.engine.bank, self.engine.settings.max_questions)
        if isinstance(parsed, ForgetMe):
            deleted = self.engine.forget_me(self.people.actor(user))
            self._say(client, channel, thread, "Done: everything I stored about you is deleted."
                      if deleted else "I had no data stored about you.")
        elif isinstance(parsed, InterviewRequest) and interview is not None:
            self._say(client, channel, thread, "This interview is over. Start a new chat for another one.")
        elif isinstance(parsed, InterviewRequest):
            self._start(client, user, channel, thread, parsed, status, set_title)
        else:
            self._say(client, channel, thread, HELP_TEXT if parsed is None or parsed.text == "help" else parsed.text)

    def _start(
        self,
        client: WebClient,
        user: str,
        channel: str,
        thread: str,
        request: InterviewRequest,
        status: Callable[[str], None],
        set_title: SetTitle,
    ) -> None:
        spec = self.engine.bank.roles.get(request.role)
        title = f"{spec.title if spec else request.role} interview · {request.kind} · {request.level}"
        try:
            set_title(title)
        except SlackClientError as exc:
            log.warning("assistant.threads.setTitle failed: %s", web.error_code(exc))
        status(ASKING_STATUS)
        self.interviews.start(client, user, channel, request, lambda text: self._say(client, channel, thread, text),
                              thread=thread)

    @staticmethod
    def _say(client: WebClient, channel: str, thread: str, text: str) -> None:
        try:
            web.post(client, channel, *blocks.notice(text), thread_ts=thread)
        except SlackClientError as exc:
            log.warning("could not reply in the assistant thread: %s", web.error_code(exc))


def ignore_context_change() -> None:
    """``assistant_thread_context_changed``: the channel the candidate is looking at changes nothing here.

    Registered so that Bolt's default (saving the context into the thread's first message through
    ``conversations.replies`` and ``chat.update``) makes no Web API calls for a context we never read.
    """
