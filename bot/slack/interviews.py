"""Interviews in threads: ``/interview``, the start form, the candidate's replies, the survey.

Each handler comes in two halves. ``ack_*`` runs inside the HTTP request and only
parses and acknowledges (well under Slack's 3 seconds); the rest runs afterwards on the
app's worker pool (``bot.slack.app.after_ack``) and does the database and model work.
Nothing is remembered between calls: the thread's interview is looked up in the database
on every reply.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict
from functools import partial
from typing import Any

from slack_bolt import BoltContext
from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError
from slack_sdk.webhook import WebhookClient

from bot.engine import Actor, ConcurrentUpdate, EngineError, InterviewEngine, SessionView, TurnView
from bot.engine.text import THREAD_HELP, thread_command
from bot.slack import blocks, posts, web
from bot.slack.blocks import HELP_TEXT
from bot.slack.commands import ForgetMe, InterviewRequest, Reply, parse_interview
from bot.slack.modals import metadata, parse_start, start_form
from bot.slack.people import PLATFORM, People
from bot.slack.posts import Thread
from bot.slack.streaming import FeedbackStream

log = logging.getLogger(__name__)

# Message subtypes that are still a person typing in the thread; everything else is not an answer.
ANSWER_SUBTYPES = {None, "thread_broadcast", "file_share"}

Notify = Callable[[str], None]
SOMETHING_WENT_WRONG = EngineError(
    "Sorry, something went wrong on my side. Anything I received is kept; type `retry` in a minute."
)
ANSWER_NOT_TAKEN = EngineError(
    "Sorry, something went wrong on my side and your answer was not saved. Please send it again in a minute."
)
START_FAILED = EngineError("Sorry, something went wrong on my side. Please run `/interview` again in a minute.")


def webhook_notifier(response_url: str | None) -> Notify:
    """Ephemeral replies through a slash command's ``response_url`` (works where the bot is not a member)."""

    def notify(text: str) -> None:
        if not response_url:
            log.info("nowhere to send: %s", text)
            return
        try:
            WebhookClient(response_url).send(text=text, response_type="ephemeral")
        except Exception as exc:  # a failed courtesy message must not fail the handler
            # the URL is a credential: name the failure, never the address (web.redact_secrets)
            log.warning("response_url post failed: %s: %s", type(exc).__name__, web.redact_secrets(str(exc)))

    return notify


class Interviews:
    def __init__(self, engine: InterviewEngine, people: People) -> None:
        self.engine = engine
        self.people = people
        # Posts the "thinking…" placeholder while the engine is already at work on the answer.
        self._posts = ThreadPoolExecutor(max_workers=16, thread_name_prefix="slack-post")

    def _parse(self, text: str) -> InterviewRequest | ForgetMe | Reply | None:
        settings = self.engine.settings
        return parse_interview(text, self.engine.bank, settings.max_questions)

    # ── /interview ──────────────────────────────────────────────────────────────────
    def ack_command(self, ack: Callable[..., Any], command: dict[str, Any]) -> None:
        parsed = self._parse(command.get("text") or "")
        if isinstance(parsed, Reply):
            ack(text=HELP_TEXT if parsed.text == "help" else parsed.text, response_type="ephemeral")
        elif isinstance(parsed, ForgetMe):
            ack(text="Deleting your Mockingbird data…", response_type="ephemeral")
        else:
            ack()

    def run_command(self, command: dict[str, Any], client: WebClient) -> None:
        parsed = self._parse(command.get("text") or "")
        if isinstance(parsed, Reply):
            return
        notify = webhook_notifier(command.get("response_url"))
        if isinstance(parsed, ForgetMe):
            deleted = self.engine.forget_me(self.people.actor(command["user_id"]))
            notify("Done: your interviews, answers, ratings and feedback are deleted, and future exports "
                   "will not contain them." if deleted else "I had no data stored about you.")
            return
        if parsed is None:
            settings = self.engine.settings
            meta = {"channel": command["channel_id"], "response_url": command.get("response_url")}
            form = start_form(self.engine.bank, settings.max_questions, settings.default_questions, meta)
            try:
                client.views_open(trigger_id=command["trigger_id"], view=form)
            except SlackClientError as exc:
                notify(f"{web.explain(exc)} You can also type `/interview backend technical mid 3`.")
            return
        self.start(client, command["user_id"], command["channel_id"], parsed, notify)

    # ── the start form ──────────────────────────────────────────────────────────────
    def ack_form(self, ack: Callable[..., Any], view: dict[str, Any]) -> None:
        parsed = parse_start(view, self.engine.bank, self.engine.settings.max_questions)
        if isinstance(parsed, dict):
            ack(response_action="errors", errors=parsed)
        else:
            ack()

    def run_form(self, body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        parsed = parse_start(view, self.engine.bank, self.engine.settings.max_questions)
        if isinstance(parsed, dict):
            return
        meta = metadata(view)
        user = body["user"]["id"]
        channel = meta.get("channel") or user  # without a channel, the app's DM with the user
        self.start(client, user, channel, parsed, webhook_notifier(meta.get("response_url")))

    # ── starting ────────────────────────────────────────────────────────────────────
    def start(
        self,
        client: WebClient,
        user: str,
        channel: str,
        request: InterviewRequest,
        notify: Notify,
        *,
        thread: str | None = None,
    ) -> None:
        """Post the parent message, create the session on its thread, ask the first question.

        With ``thread`` (an assistant thread) the interview runs in that existing thread instead,
        and the intro is its first reply.
        """
        actor = self.people.actor(user)
        spec = self.engine.bank.roles.get(request.role)
        title = spec.title if spec else request.role
        count = request.questions or self.engine.settings.default_questions
        intro = (
            f"<@{user}> started a mock interview: *{title}*, {request.kind}, {request.level}, "
            f"{count} question{'s' if count != 1 else ''}"
            f"{', tailored to a job ad' if request.job_ad else ''}{'' if request.adaptive else ', fixed level'}. "
            "The questions and answers go in this thread."
        )
        try:
            posted = web.post(client, channel, intro, [blocks.section(intro)], thread_ts=thread)
        except SlackClientError as exc:
            notify(web.explain(exc))
            return
        parent = thread or posted
        try:
            started = self.engine.start(actor, **asdict(request), channel_id=channel, thread_id=parent)
        except EngineError as exc:
            failed = self.engine.in_thread(PLATFORM, channel, parent)
            extra = " Type `retry` in this thread to try again." if failed is not None else ""
            web.update(client, channel, posted, *blocks.notice(f"{intro}\n:warning: {blocks.esc(exc)}{extra}"))
            return
        except Exception:  # e.g. the database went away: the intro must not promise a question
            web.update(client, channel, posted, *blocks.notice(f"{intro}\n:warning: {START_FAILED}"))
            raise
        posts.post(client, Thread(channel, parent), *blocks.question_message(started.question, started.session))

    # ── replies in a thread ─────────────────────────────────────────────────────────
    def run_message(
        self, body: dict[str, Any], event: dict[str, Any], client: WebClient, context: BoltContext,
        working: Callable[[], None] | None = None,
    ) -> None:
        """A message event: an answer or a thread command when it is the candidate's reply.

        ``working`` replaces the "Thinking…" placeholder while the model grades (the assistant
        pane shows a status instead); the feedback is then posted as a new message.
        """
        if event.get("subtype") not in ANSWER_SUBTYPES or event.get("bot_id"):
            return
        thread, channel, user = event.get("thread_ts"), event.get("channel"), event.get("user")
        if not thread or thread == event.get("ts") or not channel or not user:
            return  # not a reply in a thread
        where = Thread(channel, thread)
        event_id = str(body.get("event_id") or f"{channel}:{event.get('ts')}")
        actor = self.people.actor(user)
        text = event.get("text") or ""
        command = thread_command(text)
        if command is None:
            # Slack names the thread's author: only the bot's own threads can be interviews.
            ours = bool(context.bot_user_id) and event.get("parent_user_id") == context.bot_user_id
            stream = FeedbackStream(client, channel, thread, user=user, team=context.team_id)
            self._answer(client, where, actor, text, event_id, bot_thread=ours, working=working, stream=stream)
            return
        interview = self.engine.in_thread(PLATFORM, channel, thread)
        if interview is None or interview.candidate_user_id != user:
            return  # not an interview thread, or someone else talking in it
        # Commands change the session without an event id of their own: the claim makes them once-only.
        if not self.engine.claim_event(f"{PLATFORM}:event:{event_id}"):
            log.info("duplicate delivery of %s ignored", event_id)
        elif command == "help":
            web.tell(client, channel, user, THREAD_HELP, thread_ts=thread)
        elif command == "skip":
            posts.run(client, where, None, lambda: self.engine.skip(interview.id, actor))
        elif command == "end":
            posts.run(client, where, None, lambda: self.engine.end(interview.id, actor))
        elif command == "again":
            posts.run(client, where, None, lambda: self.engine.again(interview.id, actor))
        else:
            shown_in = working() if working else posts.placeholder(client, where)
            posts.run(client, where, shown_in, lambda: self.engine.retry(interview.id, actor))

    def _answer(
        self,
        client: WebClient,
        where: Thread,
        actor: Actor,
        text: str,
        event_id: str,
        *,
        bot_thread: bool = True,
        working: Callable[[], None] | None = None,
        stream: FeedbackStream | None = None,
    ) -> None:
        """Grading, with a placeholder replaced by the feedback, then the next question or the report.

        One engine call finds the thread's interview and stores the answer; a reply that is not
        the candidate's answer to an interview stores and shows nothing. The engine deduplicates
        by ``event_id``: a redelivery (``X-Slack-Retry-Num``) of an answer already taken changes
        and shows nothing. The placeholder is posted while the model works, and the feedback is
        shown the moment it is stored (``on_graded``), before the next question is prepared.
        An unexpected failure (the database down) is explained in the thread: "kept, type retry"
        once the answer is stored, "send it again" before that, but then only in the bot's own
        threads (``bot_thread``), since the interview could not be looked up. When the provider
        streams, the feedback's text streams into ``stream`` and that message becomes the feedback
        (or the notice of a failure) in place of the placeholder.
        """
        channel, thread = where
        pending: list[Future[str | None]] = []
        shown: list[bool] = []

        def on_claimed() -> None:
            # A status (``working``) is awaited like a placeholder, so it is set before the feedback clears it.
            show = working or (lambda: posts.placeholder(client, where))
            pending.append(self._posts.submit(show))

        def placeholder() -> str | None:
            return pending[0].result() if pending else None

        def settled(message: tuple[str, list[dict[str, Any]]]) -> bool:
            """The streamed message rewritten as ``message``, the placeholder gone; False without a stream."""
            if stream is None or not stream.finish(*message):
                return False
            posts.delete(client, channel, placeholder())
            return True

        def on_graded(turn: TurnView, session: SessionView) -> None:
            message = blocks.feedback_message(turn, session)
            if not settled(message):
                ts = placeholder()
                if ts is None or not web.update(client, channel, ts, *message):
                    web.post(client, channel, *message, thread_ts=thread)
            shown.append(True)

        try:
            progress = self.engine.answer_in_thread(
                PLATFORM, channel, thread, actor, text, event_id=event_id, on_claimed=on_claimed, on_graded=on_graded,
                on_text=stream.text if stream is not None else None,
            )
        except ConcurrentUpdate as exc:
            interview = self.engine.in_thread(PLATFORM, channel, thread)
            if interview is not None and self.engine.answer_stored(interview.id, event_id):
                return  # our own redelivery won the race
            posts.notice(client, where, placeholder(), exc)
            return
        except EngineError as exc:
            if not settled(blocks.notice(f":warning: {blocks.esc(exc)}")):
                posts.notice(client, where, placeholder(), exc)
            return
        except Exception:  # e.g. the database went away: say so, then let the error handler log it
            if pending:  # a stream, if one began, becomes the notice; else the placeholder does
                if not settled(blocks.notice(f":warning: {SOMETHING_WENT_WRONG}")):
                    posts.notice(client, where, placeholder(), SOMETHING_WENT_WRONG)
            elif bot_thread:
                posts.notice(client, where, None, ANSWER_NOT_TAKEN)
            raise
        if progress is not None:
            posts.show(client, where, progress, placeholder(), feedback_shown=bool(shown))

    # ── the end-of-session survey ───────────────────────────────────────────────────
    def run_again(self, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        """The "Try again" button under a feedback: the candidate answers that question once more."""
        user, channel, thread = _clicked_in(body)
        session_id, _, turn_id = str(action.get("value", "")).partition(":")
        if not channel or not thread or not session_id.isdecimal() or not turn_id.isdecimal():
            return
        again = partial(self.engine.again, int(session_id), self.people.actor(user), int(turn_id))
        posts.run(client, Thread(channel, thread), None, again)

    def run_survey(self, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        user, channel, thread = _clicked_in(body)
        try:
            session_id, value = (int(part) for part in str(action.get("value", "")).split(":", 1))
            self.engine.survey(session_id, self.people.actor(user), value)
            reply = f"Thanks! You rated this practice {value}/5."
        except EngineError as exc:
            reply = blocks.esc(exc)
        except ValueError:
            reply = "That survey button is not valid any more."
        if channel:
            web.tell(client, channel, user, reply, thread_ts=thread)


def _clicked_in(body: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """Who clicked a button, and the channel and thread of its message."""
    thread = (body.get("container") or {}).get("thread_ts") or (body.get("message") or {}).get("thread_ts")
    return body["user"]["id"], (body.get("channel") or {}).get("id"), thread
