"""The interview thread: the candidate's messages are answers; feedback, questions and the report
are posted back. Only the candidate is heard; anyone else in the thread is ignored."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import discord

from bot.discord import render
from bot.discord.actors import PLATFORM, actor_of
from bot.discord.components import feedback_view, survey_view
from bot.discord.replies import offload
from bot.engine import EngineError, InterviewEngine, Progress, SessionView
from bot.engine.text import THREAD_HELP, thread_command

log = logging.getLogger(__name__)

NO_PINGS = discord.AllowedMentions.none()


async def handle_message(engine: InterviewEngine, message: discord.Message) -> None:
    """Answer, skip, end, retry or help for the candidate of the interview running in this thread.

    A message delivered twice (a gateway replay, two processes on one shard) is handled once:
    its id is claimed first (``claim_message``), and it is also the answer's event id, so the
    engine would report a second grading as a duplicate anyway.
    """
    # A thread missing from the cache (archived, then revived after a restart) arrives as a
    # PartialMessageable; the database says whether it is an interview.
    in_thread = isinstance(message.channel, discord.Thread | discord.PartialMessageable)
    if message.author.bot or message.guild is None or not in_thread:
        return
    session = await offload(engine.in_thread, PLATFORM, None, str(message.channel.id))
    command = thread_command(message.content)
    if session is None or session.candidate_user_id != str(message.author.id):
        return
    if session.finished and command != "again":  # a finished interview reopens only to try again
        return
    if not await offload(claim_message, engine, message.id):
        log.info("message %s in thread %s was already handled", message.id, message.channel.id)
        return
    if command == "help":
        await message.reply(THREAD_HELP, mention_author=False, allowed_mentions=NO_PINGS)
        return
    actor = actor_of(message.author)
    try:
        async with typing(message.channel):
            if command is None:
                progress = await offload(
                    engine.answer, session.id, actor, message.content, event_id=str(message.id)
                )
            else:
                call = {"skip": engine.skip, "end": engine.end, "retry": engine.retry, "again": engine.again}[command]
                progress = await offload(call, session.id, actor)
    except EngineError as exc:
        await message.reply(render.md(str(exc)), mention_author=False, allowed_mentions=NO_PINGS)
        return
    except Exception:
        log.exception("session %s: handling message %s failed", session.id, message.id)
        await message.reply(
            "Sorry, something went wrong on my side. Type `retry` in a minute: it grades your answer "
            "if I saved it, or asks the question again so you can send it again.",
            mention_author=False,
            allowed_mentions=NO_PINGS,
        )
        return
    if progress.duplicate:
        log.info("message %s in thread %s was already answered", message.id, message.channel.id)
        return
    await post_progress(
        message.channel, progress, reply_to=message, max_chars=engine.settings.max_answer_chars
    )


def claim_message(engine: InterviewEngine, message_id: int) -> bool:
    """True the first time a message is seen, on any shard or replica; False for a redelivery.

    Answers are also deduplicated by the engine through their event id; the claim covers skip,
    end and retry too, and keeps a duplicate racing the original from getting a "someone else
    answered" reply.
    """
    return engine.claim_event(f"discord:message:{message_id}")


@asynccontextmanager
async def typing(channel: discord.Thread | discord.PartialMessageable) -> AsyncIterator[None]:
    """ "Mockingbird is typing…" while the model works; failing to show it never blocks an answer."""
    indicator = channel.typing()
    try:
        await indicator.__aenter__()
    except discord.HTTPException as exc:
        log.warning("no typing indicator in %s: %s", channel.id, exc)
        yield
        return
    try:
        yield
    finally:
        await indicator.__aexit__(None, None, None)


async def post_progress(
    thread: discord.abc.Messageable,
    progress: Progress,
    *,
    reply_to: discord.Message | None = None,
    max_chars: int = 0,
) -> None:
    """Feedback (with rating and correction buttons), then the next question or the report."""
    session = progress.session
    graded = progress.graded
    if graded is not None and graded.feedback is not None:
        note = (
            f"Your answer was longer than {max_chars} characters; only the first part was graded."
            if graded.answer_truncated
            else None
        )
        await thread.send(
            note,
            embed=render.graded_embed(graded, session),
            view=feedback_view(graded.id, session.id),
            reference=reply_to,
            mention_author=False,
            allowed_mentions=NO_PINGS,
        )
    if progress.next_question is not None:
        await post_question(thread, session, progress)
    elif progress.report is not None:
        await thread.send(
            embed=render.report_embed(progress.report),
            view=survey_view(session.id),
            allowed_mentions=NO_PINGS,
        )


async def post_question(
    thread: discord.abc.Messageable, session: SessionView, progress: Progress, mention: str | None = None
) -> None:
    assert progress.next_question is not None
    content = f"{mention}, here is your first question." if mention else None
    await thread.send(
        content,
        embed=render.question_embed(progress.next_question, session),
        allowed_mentions=discord.AllowedMentions(users=True, roles=False, everyone=False),
    )
