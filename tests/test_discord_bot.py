"""The Discord bot end to end: discord.py's own client against a fake Discord (REST + gateway) on loopback.

Slash commands, button presses and modal submissions arrive as ``INTERACTION_CREATE`` and thread
replies as ``MESSAGE_CREATE`` over the gateway; discord.py builds its own ``Interaction`` and
``Message`` objects from them and runs the bot's handlers. Assertions are on what the bot sends
(interaction callbacks, follow-ups, threads, messages with embeds and components) and on what
the engine stored.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from discord.http import Route
from sqlalchemy import select

from bot.app import build_engine
from bot.config import Settings
from bot.discord.client import MockingbirdBot, use_api_url
from bot.engine import InterviewEngine, SessionView
from bot.engine.text import THREAD_HELP
from bot.store.db import Database
from bot.store.models import (
    Correction,
    InterviewSession,
    OutboxMessage,
    Rating,
    SessionState,
    SurveyResponse,
    TurnState,
)
from chains.providers.offline import OfflineProvider
from tasks.pipeline.dispatch import InProcessSink
from tasks.pipeline.sink import CelerySink
from tests.celery_support import celery_worker, fresh_postgres, stored_signals, wait_for
from tests.fakes.discord_api import BotRunner, Call, FakeDiscord
from tests.fakes.llm_env import KEYS, env_for
from tests.fakes.llm_server import SERVER_ERROR, VALID
from tests.fakes.openai_server import FakeOpenAI

STRONG = (
    "When our checkout failed 3% of the time I owned the fix: my goal was two weeks. I analysed the logs, "
    "wrote a retry policy and led the rollout. As a result failures dropped to 0.2%, and I learned to "
    "measure before changing anything."
)
CALLBACK = r"/interactions/\d+/[^/]+/callback"
FOLLOWUP = r"/webhooks/\d+/[^/]+"
ORIGINAL = r"/webhooks/\d+/[^/]+/messages/@original"


class ObservedBot(MockingbirdBot):
    """The real bot, plus a record of which gateway messages it has finished handling."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.handled: Counter[int] = Counter()
        self.changed = threading.Condition()

    async def on_message(self, message: Any) -> None:
        try:
            await super().on_message(message)
        finally:
            with self.changed:
                self.handled[message.id] += 1
                self.changed.notify_all()

    def wait_handled(self, message_id: str, times: int = 1, timeout: float = 10) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.handled[int(message_id)] >= times, timeout), (
                "not handled"
            )


def session_in(engine: InterviewEngine, thread_id: str) -> SessionView:
    """The interview a Discord thread runs, as the engine stores it."""
    interview = engine.in_thread("discord", None, thread_id)
    assert interview is not None, f"no interview in thread {thread_id}"
    return engine.get(interview.id)


@pytest.fixture
def fake() -> Iterator[FakeDiscord]:
    before = Route.BASE
    with FakeDiscord() as server:
        use_api_url(server.api_url)
        yield server
    Route.BASE = before


@pytest.fixture
def people(fake: FakeDiscord) -> dict[str, dict[str, Any]]:
    lead = fake.user("lena")
    return {
        "candidate": fake.member(fake.user("cara")),
        "recruiter": fake.member(fake.user("rita"), roles=(fake.recruiter_role_id,)),
        "lead": fake.member(lead),
        "bystander": fake.member(fake.user("bob")),
    }


@pytest.fixture
def discord_env(fake: FakeDiscord, people: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Recruiters by Discord role id, team leads by Discord user id, commands synced to the test server."""
    return {
        "RECRUITERS": f"discord:{fake.recruiter_role_id}",
        "TEAM_LEADS": f"discord:{people['lead']['user']['id']}",
        "DISCORD_GUILD_IDS": fake.guild_id,
    }


@pytest.fixture
def discord_settings(discord_env: dict[str, str]) -> Settings:
    return Settings(**discord_env)


@pytest.fixture
def discord_engine(sqlite_db: Database, discord_settings: Settings) -> InterviewEngine:
    return InterviewEngine(sqlite_db, OfflineProvider(), discord_settings, signals=InProcessSink(sqlite_db))


@contextmanager
def running_bot(engine: InterviewEngine, settings: Settings) -> Iterator[ObservedBot]:
    """The bot connected to the fake Discord until the block ends."""
    bot = ObservedBot(engine, settings, guild_ready_timeout=0.05)
    runner = BotRunner(bot).start()
    try:
        yield bot
    finally:
        runner.stop()


@pytest.fixture
def bot(fake: FakeDiscord, discord_engine: InterviewEngine, discord_settings: Settings) -> Iterator[ObservedBot]:
    """The bot over ``discord_engine``, connected to the fake."""
    with running_bot(discord_engine, discord_settings) as client:
        yield client


@pytest.fixture
def bot_on_each_db(fake: FakeDiscord, database: Database, discord_settings: Settings) -> Iterator[ObservedBot]:
    """The bot over an engine on SQLite and on PostgreSQL (the ``database`` fixture's two parameters)."""
    engine = InterviewEngine(database, OfflineProvider(), discord_settings, signals=InProcessSink(database))
    with running_bot(engine, discord_settings) as client:
        yield client


def start_interview(fake: FakeDiscord, member: dict[str, Any], **options: Any) -> tuple[dict[str, Any], Call]:
    """Run ``/interview`` and return the thread it opened and the first question's message request."""
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview", member, **options))
    fake.wait_for_call("POST", r"/channels/\d+/messages/\d+/threads", after=mark)
    question = fake.wait_for(
        lambda c: (
            c.matches("POST", r"/channels/\d+/messages") and c.status == 200 and bool(c.json.get("embeds"))
        ),
        after=mark,
    )
    thread_id = question.path.split("/")[2]
    return fake.threads[thread_id], question


def answer(
    fake: FakeDiscord,
    bot: ObservedBot,
    thread: dict[str, Any],
    member: dict[str, Any],
    text: str,
    message_id: str | None = None,
    times: int = 1,
) -> tuple[int, str]:
    """Post ``text`` in the thread as ``member`` and wait until the bot has handled it."""
    mark = fake.mark()
    payload = fake.user_message(thread["id"], member, text, message_id)
    fake.dispatch("MESSAGE_CREATE", payload)
    bot.wait_handled(payload["id"], times)
    return mark, payload["id"]


def sent_messages(fake: FakeDiscord, thread: dict[str, Any], after: int = 0) -> list[Call]:
    return fake.requests("POST", rf"/channels/{thread['id']}/messages", after=after)


# ── the interview ───────────────────────────────────────────────────────────────────
def test_interview_opens_a_thread_grades_answers_and_reports(
    fake: FakeDiscord, bot_on_each_db: ObservedBot, people: dict[str, dict[str, Any]]
) -> None:
    bot = bot_on_each_db  # the engine on SQLite and on PostgreSQL: bot.engine
    candidate = people["candidate"]
    thread, question = start_interview(
        fake, candidate, role="backend", kind="behavioral", level="mid", count=2
    )

    # acknowledged at once with a deferral ("thinking…"), then the parent message and the thread
    callback = fake.requests("POST", CALLBACK)[0]
    assert callback.json["type"] == 5
    parent = fake.wait_for_call("PATCH", ORIGINAL)
    assert parent.json["embeds"][0]["title"] == "Mock interview: backend, behavioral, mid"
    assert thread["parent_id"] == fake.channel_id and "backend" in thread["name"]
    assert question.json["embeds"][0]["title"] == "Question 1 of 2"
    assert f"<@{candidate['user']['id']}>" in question.json["content"]
    with bot.engine.db.session() as session:
        record = session.scalars(select(InterviewSession)).one()
        assert (record.platform, record.thread_id, record.channel_id) == (
            "discord",
            thread["id"],
            fake.channel_id,
        )

    mark, message_id = answer(fake, bot, thread, candidate, STRONG)
    feedback, second = sent_messages(fake, thread, mark)
    embed = feedback.json["embeds"][0]
    assert embed["title"] == "Feedback · Question 1 of 2"
    assert embed["fields"][0]["name"] == "Score" and "/10" in embed["fields"][0]["value"]
    assert str(feedback.json["message_reference"]["message_id"]) == message_id
    buttons = [b["custom_id"] for row in feedback.json["components"] for b in row["components"]]
    turn_id = bot.engine.get(record.id).turns[0].id
    assert buttons == [f"mb:rate:{turn_id}:up", f"mb:rate:{turn_id}:down", f"mb:again:{record.id}:{turn_id}",
                       f"mb:correct:{turn_id}"]
    assert second.json["embeds"][0]["title"] == "Question 2 of 2"
    assert fake.requests("POST", rf"/channels/{thread['id']}/typing", after=mark)

    mark, _ = answer(fake, bot, thread, candidate, "skip")
    (report,) = sent_messages(fake, thread, mark)
    assert report.json["embeds"][0]["title"] == "Session report: backend, behavioral, mid"
    assert [b["custom_id"] for b in report.json["components"][0]["components"]] == [
        f"mb:survey:{record.id}:{n}" for n in range(1, 6)
    ]
    view = bot.engine.get(record.id)
    assert view.state == SessionState.completed
    assert [t.state for t in view.turns] == [TurnState.graded, TurnState.skipped]


def test_only_the_candidates_messages_are_answers_and_each_only_once(
    fake: FakeDiscord, bot_on_each_db: ObservedBot, people: dict[str, dict[str, Any]]
) -> None:
    bot = bot_on_each_db  # the engine on SQLite and on PostgreSQL: bot.engine
    thread, _ = start_interview(fake, people["candidate"], role="backend", count=2)
    mark, _ = answer(fake, bot, thread, people["bystander"], STRONG)
    answer(fake, bot, thread, people["recruiter"], "skip")
    assert sent_messages(fake, thread, mark) == []
    session = session_in(bot.engine, thread["id"])
    assert session is not None and [t.state for t in session.turns] == [TurnState.asked]

    # the same message delivered twice at once (two processes on one shard), then once more later
    mark = fake.mark()
    payload = fake.user_message(thread["id"], people["candidate"], STRONG)
    fake.dispatch("MESSAGE_CREATE", payload)
    fake.dispatch("MESSAGE_CREATE", payload)
    bot.wait_handled(payload["id"], times=2)
    answer(fake, bot, thread, people["candidate"], STRONG, message_id=payload["id"], times=3)
    feedback, question = sent_messages(fake, thread, mark)
    assert feedback.json["embeds"][0]["title"].startswith("Feedback")
    assert question.json["embeds"][0]["title"] == "Question 2 of 2"
    session = bot.engine.get(session.id)
    assert [t.state for t in session.turns] == [TurnState.graded, TurnState.asked]


def test_end_finishes_early_with_the_report_and_later_chatter_is_ignored(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    thread, _ = start_interview(fake, people["candidate"], role="frontend", kind="technical", count=3)
    answer(fake, bot, thread, people["candidate"], STRONG)
    mark, _ = answer(fake, bot, thread, people["candidate"], "Help!")  # the same words as on Slack
    (help_reply,) = sent_messages(fake, thread, mark)
    assert help_reply.json["content"] == THREAD_HELP
    mark, _ = answer(fake, bot, thread, people["candidate"], "/Finish.")
    (report,) = sent_messages(fake, thread, mark)
    embed = report.json["embeds"][0]
    assert embed["title"] == "Session report: frontend, technical, mid"
    assert "2. " in embed["fields"][0]["value"] and "skipped" in embed["fields"][0]["value"]
    mark, _ = answer(fake, bot, thread, people["candidate"], "thanks, that was useful!")
    assert sent_messages(fake, thread, mark) == []
    session = session_in(discord_engine, thread["id"])
    assert session is not None and session.state == SessionState.ended


def test_an_empty_answer_is_refused_with_a_reply_and_nothing_is_lost(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    thread, _ = start_interview(fake, people["candidate"], role="backend", count=1)
    mark, message_id = answer(fake, bot, thread, people["candidate"], "")  # e.g. an image-only message
    (reply,) = sent_messages(fake, thread, mark)
    assert (
        "empty" in reply.json["content"] and str(reply.json["message_reference"]["message_id"]) == message_id
    )
    session = session_in(discord_engine, thread["id"])
    assert session is not None and session.state == SessionState.awaiting_answer


# ── buttons and forms ───────────────────────────────────────────────────────────────
def graded_once(
    fake: FakeDiscord, bot: ObservedBot, people: dict[str, dict[str, Any]], count: int = 2
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """An interview with one graded answer: (thread, feedback message as sent, turn id)."""
    thread, _ = start_interview(fake, people["candidate"], role="backend", count=count)
    mark, _ = answer(fake, bot, thread, people["candidate"], STRONG)
    feedback = sent_messages(fake, thread, mark)[0].response
    turn_id = int(feedback["components"][0]["components"][0]["custom_id"].split(":")[2])
    return thread, feedback, turn_id


def press(
    fake: FakeDiscord, message: dict[str, Any], custom_id: str, member: dict[str, Any]
) -> tuple[int, Call]:
    """Press a button; returns the mark before it and the interaction callback the bot sent."""
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.click(message, custom_id, member))
    return mark, fake.wait_for_call("POST", CALLBACK, after=mark)


def ratings(db: Database) -> list[tuple[int, int]]:
    with db.session() as session:
        return [(r.turn_id, r.value) for r in session.scalars(select(Rating).order_by(Rating.id))]


def test_thumbs_are_deferred_privately_and_stored_once_per_person(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    _, feedback, turn_id = graded_once(fake, bot, people)
    mark, callback = press(fake, feedback, f"mb:rate:{turn_id}:up", people["candidate"])
    assert callback.json == {"type": 5, "data": {"flags": 64}}  # deferred, ephemeral
    thanks = fake.wait_for_call("POST", FOLLOWUP, after=mark)
    assert thanks.json["flags"] & 64 and "👍" in thanks.json["content"]
    assert ratings(discord_engine.db) == [(turn_id, 1)]

    mark, _ = press(fake, feedback, f"mb:rate:{turn_id}:down", people["candidate"])
    fake.wait_for_call("POST", FOLLOWUP, after=mark)
    mark, _ = press(fake, feedback, f"mb:rate:{turn_id}:up", people["bystander"])
    fake.wait_for_call("POST", FOLLOWUP, after=mark)
    assert sorted(ratings(discord_engine.db)) == [(turn_id, -1), (turn_id, 1)]  # candidate changed their mind


def test_buttons_keep_working_after_a_restart(
    fake: FakeDiscord,
    discord_engine: InterviewEngine,
    discord_settings: Settings,
    people: dict[str, dict[str, Any]],
) -> None:
    with running_bot(discord_engine, discord_settings) as first:
        thread, feedback, turn_id = graded_once(fake, first, people, count=1)
        mark, _ = answer(fake, first, thread, people["candidate"], "skip")  # nothing open any more
    assert first.is_closed()

    # a new process: nothing in memory but the registered button classes
    with running_bot(discord_engine, discord_settings):
        mark, callback = press(fake, feedback, f"mb:rate:{turn_id}:up", people["candidate"])
        fake.wait_for_call("POST", FOLLOWUP, after=mark)
        assert ratings(discord_engine.db) == [(turn_id, 1)]
        report = fake.requests("POST", rf"/channels/{thread['id']}/messages")[-1].response
        session_id = int(report["components"][0]["components"][0]["custom_id"].split(":")[2])
        mark, _ = press(fake, report, f"mb:survey:{session_id}:4", people["candidate"])
        fake.wait_for_call("POST", FOLLOWUP, after=mark)
        with discord_engine.db.session() as session:
            assert session.scalars(select(SurveyResponse.usefulness)).all() == [4]
        mark, _ = press(fake, report, f"mb:survey:{session_id}:1", people["bystander"])
        refusal = fake.wait_for_call("POST", FOLLOWUP, after=mark)
        assert refusal.json["flags"] & 64 and "Only the candidate" in refusal.json["content"]
        with discord_engine.db.session() as session:
            assert session.scalars(select(SurveyResponse.usefulness)).all() == [4]


def test_correct_is_refused_privately_to_anyone_but_recruiters(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    _, feedback, turn_id = graded_once(fake, bot, people)
    for who in ("candidate", "bystander", "lead"):
        _, callback = press(fake, feedback, f"mb:correct:{turn_id}", people[who])
        assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
        assert callback.json["data"]["content"] == "Sorry, only recruiters can correct feedback."
    with discord_engine.db.session() as session:
        assert session.scalars(select(Correction)).all() == []


def test_a_recruiter_corrects_feedback_through_a_prefilled_form(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    thread, feedback, turn_id = graded_once(fake, bot, people)
    original = discord_engine.feedback_of(turn_id)[0].feedback
    assert original is not None
    _, callback = press(fake, feedback, f"mb:correct:{turn_id}", people["recruiter"])
    assert callback.json["type"] == 9  # a modal
    modal = callback.json["data"]
    prefilled = {row["label"]: row["component"].get("value") for row in modal["components"]}
    assert prefilled["Score (1-10)"] == str(original.score)
    assert prefilled["Strengths"] == "\n".join(original.strengths)
    assert prefilled["Summary"] == original.summary

    mark = fake.mark()
    values = {
        "Score (1-10)": "4",
        "Strengths": "• Clear structure\n- Concrete numbers\n\n",
        "Weaknesses": "Too little about the team",
        "Suggestions": "Name the trade-offs",
        "Summary": "Solid, but say more about collaboration.",
    }
    fake.dispatch(
        "INTERACTION_CREATE", fake.submit(modal, values, people["recruiter"], feedback, thread["id"])
    )
    saved = fake.wait_for_call("POST", FOLLOWUP, after=mark)
    assert saved.json["content"] == "Correction saved. Thank you!" and saved.json["flags"] & 64
    shown = fake.wait_for_call("POST", rf"/channels/{thread['id']}/messages", after=mark)
    assert shown.json["embeds"][0]["title"] == "Corrected feedback"
    assert shown.json["embeds"][0]["footer"]["text"] == "Corrected by Rita"
    with discord_engine.db.session() as session:
        (correction,) = session.scalars(select(Correction)).all()
        stored = correction.feedback
    assert stored["score"] == 4 and stored["strengths"] == ["Clear structure", "Concrete numbers"]
    assert stored["weaknesses"] == ["Too little about the team"] and stored["criteria"] == original.criteria


def test_an_invalid_correction_is_not_stored_and_the_text_comes_back(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    thread, feedback, turn_id = graded_once(fake, bot, people)
    _, callback = press(fake, feedback, f"mb:correct:{turn_id}", people["recruiter"])
    mark = fake.mark()
    values = {"Score (1-10)": "eleven", "Weaknesses": "Rambling answer"}
    fake.dispatch(
        "INTERACTION_CREATE",
        fake.submit(callback.json["data"], values, people["recruiter"], feedback, thread["id"]),
    )
    refusal = fake.wait_for_call("POST", CALLBACK, after=mark)
    assert refusal.json["type"] == 4 and refusal.json["data"]["flags"] & 64
    assert "whole number from 1 to 10" in refusal.json["data"]["content"]
    (returned,) = refusal.files.values()
    assert b"Score: eleven" in returned and b"Rambling answer" in returned
    with discord_engine.db.session() as session:
        assert session.scalars(select(Correction)).all() == []


@pytest.mark.parametrize("failure", ["not a recruiter", "answer deleted", "crash"])
def test_a_correction_that_cannot_be_saved_hands_the_text_back(
    fake: FakeDiscord,
    bot: ObservedBot,
    discord_engine: InterviewEngine,
    people: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    failure: str,
) -> None:
    thread, feedback, turn_id = graded_once(fake, bot, people)
    _, callback = press(fake, feedback, f"mb:correct:{turn_id}", people["recruiter"])
    submitter, expected = people["recruiter"], "Sorry, something went wrong saving your correction."
    if failure == "not a recruiter":  # e.g. the role was taken away while the form was open
        submitter, expected = people["bystander"], "Sorry, only recruiters can correct feedback."
    elif failure == "answer deleted":
        discord_engine.forget("discord", people["candidate"]["user"]["id"])
        expected = "Nothing was saved"
    else:

        def crash(*args: Any, **kwargs: Any) -> None:
            raise RuntimeError("the database went away")

        monkeypatch.setattr(discord_engine, "correct", crash)
    mark = fake.mark()
    values = {"Score (1-10)": "3", "Weaknesses": "Rambling answer", "Summary": "Needs focus."}
    fake.dispatch(
        "INTERACTION_CREATE", fake.submit(callback.json["data"], values, submitter, feedback, thread["id"])
    )
    reply = fake.wait_for_call("POST", FOLLOWUP, after=mark)  # after the deferral
    assert reply.json["flags"] & 64 and expected in reply.json["content"]
    (returned,) = reply.files.values()
    assert b"Score: 3" in returned and b"Rambling answer" in returned and b"Needs focus." in returned
    with discord_engine.db.session() as session:
        assert session.scalars(select(Correction)).all() == []


# ── commands ────────────────────────────────────────────────────────────────────────
def test_start_up_asks_for_message_content_and_registers_the_commands(
    fake: FakeDiscord, bot: ObservedBot, discord_settings: Settings
) -> None:
    (identify,) = fake.identify_payloads
    assert identify["token"] == "fake-token"
    intents = identify["intents"]
    assert intents & (1 << 15), "message content intent"
    assert intents & (1 << 0) and intents & (1 << 9), "guilds and guild messages"
    assert fake.requests("GET", "/gateway/bot")  # shard count from Discord: AutoShardedClient

    (sync,) = fake.requests("PUT", rf"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands")
    commands = {command["name"]: command for command in sync.json}
    assert set(commands) == {"interview", "interview-stats", "interview-forget-me", "interview-progress"}
    options = {option["name"]: option for option in commands["interview"]["options"]}
    assert options["role"]["required"] and options["role"]["autocomplete"]
    assert [c["value"] for c in options["kind"]["choices"]] == ["behavioral", "technical"]
    assert [c["value"] for c in options["level"]["choices"]] == ["junior", "mid", "senior"]
    assert (options["count"]["min_value"], options["count"]["max_value"]) == (
        1,
        discord_settings.max_questions,
    )
    assert commands["interview"]["contexts"] == [0]  # servers only
    assert not fake.requests("PUT", rf"/applications/{fake.application_id}/commands")


def test_role_autocomplete_suggests_bank_roles(
    fake: FakeDiscord, bot: ObservedBot, people: dict[str, dict[str, Any]]
) -> None:
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview", people["candidate"], role=("sec", "focused")))
    callback = fake.wait_for_call("POST", CALLBACK, after=mark)
    assert callback.json["type"] == 8
    assert {"name": "Security engineer", "value": "security"} in callback.json["data"]["choices"]
    assert all("sec" in c["name"].lower() or "sec" in c["value"] for c in callback.json["data"]["choices"])

    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview", people["candidate"], role=("SRE", "focused")))
    choices = fake.wait_for_call("POST", CALLBACK, after=mark).json["data"]["choices"]
    assert choices == [{"name": "DevOps / site reliability engineer", "value": "devops-sre"}]  # by alias

    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview", people["candidate"], role=("", "focused")))
    choices = fake.wait_for_call("POST", CALLBACK, after=mark).json["data"]["choices"]
    assert 10 <= len(choices) <= 25


@pytest.mark.parametrize(
    ("options", "permissions", "expected"),
    [
        ({"role": "astronaut"}, None, "Unknown role 'astronaut'"),
        ({"role": "backend"}, str(1 << 11), "Create Public Threads"),  # may send messages, not open threads
    ],
)
def test_interview_refuses_privately_before_starting_anything(
    fake: FakeDiscord,
    bot: ObservedBot,
    discord_engine: InterviewEngine,
    people: dict[str, dict[str, Any]],
    options: dict[str, str],
    permissions: str | None,
    expected: str,
) -> None:
    mark = fake.mark()
    extra = {"app_permissions": permissions} if permissions else {}
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview", people["candidate"], **extra, **options))
    callback = fake.wait_for_call("POST", CALLBACK, after=mark)
    assert callback.json["type"] == 4 and callback.json["data"]["flags"] & 64
    assert expected in callback.json["data"]["content"]
    with discord_engine.db.session() as session:
        assert session.scalars(select(InterviewSession)).all() == []
    assert not fake.requests("POST", r"/channels/\d+/messages/\d+/threads")


def test_interview_stats_for_team_leads_only(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    _, feedback, turn_id = graded_once(fake, bot, people)
    mark, _ = press(fake, feedback, f"mb:rate:{turn_id}:up", people["candidate"])
    fake.wait_for_call("POST", FOLLOWUP, after=mark)

    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview-stats", people["candidate"], days=7))
    callback = fake.wait_for_call("POST", CALLBACK, after=mark)
    assert callback.json == {"type": 5, "data": {"flags": 64}}
    refusal = fake.wait_for_call("POST", FOLLOWUP, after=mark)
    assert refusal.json["content"] == "Sorry, only team leads can see interview statistics."
    assert refusal.json["flags"] & 64 and not refusal.files

    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview-stats", people["lead"], days=7, by="kind"))
    stats = fake.wait_for_call("POST", FOLLOWUP, after=mark, timeout=30)
    assert stats.json["flags"] & 64
    embed = stats.json["embeds"][0]
    assert embed["title"] == "Mockingbird stats, last 7 days"
    assert "Satisfaction: 100%" in embed["description"] and "behavioral: 100%" in embed["description"]
    assert embed["image"]["url"] == "attachment://mockingbird-stats.png"
    assert stats.files["mockingbird-stats.png"].startswith(b"\x89PNG\r\n\x1a\n")


def test_forget_me_deletes_the_callers_data_privately(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    graded_once(fake, bot, people)
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview-forget-me", people["candidate"]))
    reply = fake.wait_for_call("POST", FOLLOWUP, after=mark)
    assert reply.json["flags"] & 64 and "deleted" in reply.json["content"]
    with discord_engine.db.session() as session:
        assert session.scalars(select(InterviewSession)).all() == []


def test_rate_limits_are_waited_out_and_nothing_is_sent_twice(
    fake: FakeDiscord, bot: ObservedBot, people: dict[str, dict[str, Any]]
) -> None:
    thread, _ = start_interview(fake, people["candidate"], role="backend", count=2)
    fake.rate_limit("POST", rf"/channels/{thread['id']}/messages", retry_after=0.3)
    mark = fake.mark()
    started = time.monotonic()
    answer(fake, bot, thread, people["candidate"], STRONG)
    limited, feedback, question = sent_messages(fake, thread, mark)
    assert limited.status == 429 and feedback.status == 200 and question.status == 200
    assert limited.json == feedback.json  # the same message, retried
    assert time.monotonic() - started >= 0.3


def test_when_the_model_is_down_the_answer_is_kept_and_retry_grades_it(
    fake: FakeDiscord, sqlite_db: Database, discord_env: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    with FakeOpenAI(api_key=KEYS["openai"]) as llm:
        settings = Settings(**discord_env, LLM_PROVIDER="openai", LLM_FALLBACKS="", LLM_MAX_RETRIES=0,
                            **env_for("openai", llm.base_url))
        engine = build_engine(settings, db=sqlite_db)
        with running_bot(engine, settings) as bot:
            thread, question = start_interview(fake, people["candidate"], role="backend", count=2)
            assert question.json["embeds"][0]["description"].startswith("Fake question")  # asked by the model
            llm.default = SERVER_ERROR
            mark, _ = answer(fake, bot, thread, people["candidate"], STRONG)
            (sorry,) = sent_messages(fake, thread, mark)
            assert "Your answer is saved" in sorry.json["content"] and "retry" in sorry.json["content"]
            session = session_in(engine, thread["id"])
            assert session is not None and session.turns[0].answer == STRONG  # kept, waiting to be graded
            assert session.turns[0].state == TurnState.answered

            llm.default = VALID
            mark, _ = answer(fake, bot, thread, people["candidate"], "retry")
            feedback, second = sent_messages(fake, thread, mark)
            assert feedback.json["embeds"][0]["title"] == "Feedback · Question 1 of 2"
            assert "graded by openai" in feedback.json["embeds"][0]["footer"]["text"]
            assert second.json["embeds"][0]["title"] == "Question 2 of 2"
            session = engine.get(session.id)
            assert [t.state for t in session.turns] == [TurnState.graded, TurnState.asked]



def test_a_model_writing_masked_links_and_mentions_never_links_or_pings(
    fake: FakeDiscord, sqlite_db: Database, discord_env: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    """The model writes ``[x](https://evil.example)``, ``<!channel>`` and ``<@U0BOSS>`` in its
    questions, in every feedback field and in its report: Discord gets no masked link, and no
    message may mention anyone but the candidate."""
    import json

    from tests.fakes.hostile import DISCORD_LIVE, HOSTILE_MODEL

    with FakeOpenAI(api_key=KEYS["openai"], default=HOSTILE_MODEL) as llm:
        settings = Settings(**discord_env, LLM_PROVIDER="openai", LLM_FALLBACKS="", LLM_MAX_RETRIES=0,
                            **env_for("openai", llm.base_url))
        engine = build_engine(settings, db=sqlite_db)
        with running_bot(engine, settings) as bot:
            candidate = people["candidate"]
            thread, question = start_interview(fake, candidate, role="backend", count=2)
            assert "evil.example" in json.dumps(question.json)  # asked by the hostile model
            mark, _ = answer(fake, bot, thread, candidate, STRONG)
            feedback, _second = sent_messages(fake, thread, mark)
            assert "evil.example" in json.dumps(feedback.json)
            mark, _ = answer(fake, bot, thread, candidate, "I would add an index and read the query plan.")
            feedback, report = sent_messages(fake, thread, mark)
            assert report.json["embeds"][0]["title"].startswith("Session report")
    assert llm.requests
    sent = [c for c in fake.calls if c.json]
    bodies = [json.dumps(c.json, ensure_ascii=False) for c in sent]
    assert sum("evil.example" in b for b in bodies) >= 4, "the hostile text never reached Discord"
    for live in DISCORD_LIVE:
        leaks = [b for b in bodies if live in b]
        assert not leaks, f"{live!r} sent unescaped: {leaks[0][:500]}"
    for call in sent:  # whatever the text says, a message pings at most the people the bot chose
        mentions = call.json.get("allowed_mentions") if isinstance(call.json, dict) else None
        if mentions is not None:
            assert "everyone" not in mentions.get("parse", []) and "roles" not in mentions.get("parse", [])

@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_ratings_and_corrections_reach_the_celery_worker(
    fake: FakeDiscord,
    postgres_url: str,
    redis_url: str,
    discord_env: dict[str, str],
    people: dict[str, dict[str, Any]],
) -> None:
    """The same path as Slack's: engine -> CelerySink -> Redis -> ``celery -A tasks worker`` -> PostgreSQL."""
    with fresh_postgres(postgres_url) as pg_url, celery_worker(redis_url, pg_url) as worker:
        db = Database(pg_url)
        settings = Settings(
            **discord_env, REDIS_URL=redis_url, CELERY_QUEUE=worker.queue, DATABASE_URL=pg_url
        )
        engine = InterviewEngine(db, OfflineProvider(), settings, signals=CelerySink(db, settings))
        try:
            with running_bot(engine, settings) as bot:
                thread, feedback, turn_id = graded_once(fake, bot, people)
                mark, _ = press(fake, feedback, f"mb:rate:{turn_id}:down", people["candidate"])
                fake.wait_for_call("POST", FOLLOWUP, after=mark)
                _, callback = press(fake, feedback, f"mb:correct:{turn_id}", people["recruiter"])
                mark = fake.mark()
                values = {"Score (1-10)": "3", "Summary": "Recruiter: the numbers are missing."}
                modal = callback.json["data"]
                fake.dispatch(
                    "INTERACTION_CREATE", fake.submit(modal, values, people["recruiter"], feedback, thread["id"])
                )
                fake.wait_for_call("POST", FOLLOWUP, after=mark)
                wait_for(
                    lambda: stored_signals(db) == ([-1], [3]), 60, f"the worker to store both signals:\n{worker.output}"
                )
                with db.session() as session:
                    assert session.scalars(select(OutboxMessage)).all() == []  # delivered, not parked
        finally:
            db.dispose()


def test_an_interview_continues_after_a_restart_even_in_a_thread_the_bot_has_not_cached(
    fake: FakeDiscord,
    discord_engine: InterviewEngine,
    discord_settings: Settings,
    people: dict[str, dict[str, Any]],
) -> None:
    with running_bot(discord_engine, discord_settings):
        thread, _ = start_interview(fake, people["candidate"], role="qa", count=2)
    fake.announce_threads = False  # e.g. it was archived: the new process does not know the thread
    with running_bot(discord_engine, discord_settings) as second:
        assert second.get_channel(int(thread["id"])) is None
        mark, _ = answer(fake, second, thread, people["candidate"], STRONG)
        feedback, question = sent_messages(fake, thread, mark)
        assert feedback.json["embeds"][0]["title"] == "Feedback · Question 1 of 2"
        assert question.json["embeds"][0]["title"] == "Question 2 of 2"
        mark, _ = answer(fake, second, thread, people["bystander"], STRONG)
        assert sent_messages(fake, thread, mark) == []


# ── no orphan sessions ──────────────────────────────────────────────────────────────
THREADS = r"/channels/\d+/messages/\d+/threads"


@pytest.mark.usefixtures("bot")
def test_the_session_is_created_in_a_thread_that_already_exists(
    fake: FakeDiscord, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The thread is opened first and the session is born in it: nothing can crash between a
    session and its thread and leave a session that no thread shows."""
    seen: list[tuple[int, Any]] = []
    real_start = discord_engine.start

    def start(*args: Any, **kwargs: Any) -> Any:
        seen.append((len(fake.requests("POST", THREADS)), kwargs.get("thread_id")))
        return real_start(*args, **kwargs)

    monkeypatch.setattr(discord_engine, "start", start)
    thread, question = start_interview(fake, people["candidate"], role="backend", count=1)
    assert seen == [(1, thread["id"])]  # the thread request came first, and the session got its id
    assert session_in(discord_engine, thread["id"]).thread_id == thread["id"]
    parent = fake.requests("PATCH", ORIGINAL)
    assert parent[-1].json["embeds"][0]["footer"]["text"].startswith("Session ")  # the id, once it exists
    assert question.json["embeds"][0]["title"] == "Question 1 of 1"


def test_no_session_is_left_behind_when_the_thread_cannot_be_opened(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    fake.fail("POST", THREADS)
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview", people["candidate"], role="backend"))
    reply = fake.wait_for(
        lambda c: c.matches("POST", FOLLOWUP) and "couldn't open a thread" in str(c.json), after=mark
    )
    assert reply.json["flags"] & 64
    with discord_engine.db.session() as session:
        assert session.scalars(select(InterviewSession)).all() == []


@pytest.mark.usefixtures("bot")
def test_a_failure_while_starting_removes_the_thread_and_says_so(
    fake: FakeDiscord, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the database went away")

    monkeypatch.setattr(discord_engine, "start", broken)
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview", people["candidate"], role="backend"))
    fake.wait_for_call("POST", THREADS, after=mark)
    fake.wait_for(lambda c: c.matches("PATCH", ORIGINAL) and "went wrong" in str(c.json), after=mark)
    fake.wait_for(lambda c: c.matches("DELETE", r"/channels/\d+"), after=mark)  # the empty thread goes
    with discord_engine.db.session() as session:
        assert session.scalars(select(InterviewSession)).all() == []


def test_a_first_question_the_model_could_not_write_is_retried_in_the_thread(
    fake: FakeDiscord, sqlite_db: Database, discord_env: dict[str, str], people: dict[str, dict[str, Any]]
) -> None:
    """The session is stored in its thread before the first question is asked, so when the model
    is down at the start the candidate can type retry there."""
    with FakeOpenAI(api_key=KEYS["openai"]) as llm:
        settings = Settings(
            **discord_env, LLM_PROVIDER="openai", LLM_FALLBACKS="", LLM_MAX_RETRIES=0,
            **env_for("openai", llm.base_url),
        )
        engine = build_engine(settings, db=sqlite_db)
        with running_bot(engine, settings) as bot:
            llm.default = SERVER_ERROR
            mark = fake.mark()
            fake.dispatch("INTERACTION_CREATE", fake.slash("interview", people["candidate"], role="backend"))
            created = fake.wait_for_call("POST", THREADS, after=mark)
            sorry = fake.wait_for(
                lambda c: c.matches("POST", r"/channels/\d+/messages") and "retry" in str(c.json), after=mark
            )
            thread_id = sorry.path.split("/")[2]
            assert created.status < 300 and session_in(engine, thread_id) is not None
            llm.default = VALID
            mark, _ = answer(fake, bot, fake.threads[thread_id], people["candidate"], "retry")
            (question,) = sent_messages(fake, fake.threads[thread_id], mark)
            assert question.json["embeds"][0]["title"].startswith("Question 1 of")


def test_an_error_that_echoes_what_was_typed_shows_no_masked_link(
    fake: FakeDiscord, bot: ObservedBot, people: dict[str, dict[str, Any]]
) -> None:
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview", people["candidate"], role="[login](https://evil.example)"))
    said = fake.wait_for(lambda c: c.method in ("POST", "PATCH") and "evil.example" in str(c.json), after=mark)
    assert "](https://evil.example)" not in str(said.json)


def test_job_ad_try_again_and_progress(
    fake: FakeDiscord, bot: ObservedBot, discord_engine: InterviewEngine, people: dict[str, dict[str, Any]]
) -> None:
    """#21 through the fake Discord: /interview with a job ad and a fixed level, the Try again button,
    the report's before -> after and requirements, /interview-progress with its chart, the team CSV."""
    ad = ("- Run and upgrade our Kubernetes clusters and the containers we deploy on them. "
          "- Take part in the on-call rotation and lead incident response when production breaks")
    thread, _ = start_interview(fake, people["candidate"], role="devops-sre", kind="technical", count=1,
                                adaptive=False, job_ad=ad)
    assert session_in(discord_engine, thread["id"]).requirements[0].startswith("Run and upgrade our Kubernetes")
    mark, _ = answer(fake, bot, thread, people["candidate"], "I would check the pods.")
    feedback = sent_messages(fake, thread, mark)[0].response
    session = session_in(discord_engine, thread["id"])
    turn_id = session.turns[0].id
    ids = [c["custom_id"] for row in feedback["components"] for c in row["components"]]
    assert f"mb:again:{session.id}:{turn_id}" in ids
    mark, callback = press(fake, feedback, f"mb:again:{session.id}:{turn_id}", people["candidate"])
    assert callback.json == {"type": 5, "data": {"flags": 64}}
    question = fake.wait_for(lambda c: c.matches("POST", rf"/channels/{thread['id']}/messages")
                             and bool(c.json.get("embeds")), after=mark)
    assert "try again" in json.dumps(question.json["embeds"][0])
    mark, _ = answer(fake, bot, thread, people["candidate"], STRONG)
    report = fake.wait_for(lambda c: c.matches("POST", rf"/channels/{thread['id']}/messages")
                           and "Session report" in json.dumps(c.json.get("embeds")), after=mark)
    fields = {f["name"]: f["value"] for f in report.json["embeds"][0]["fields"]}
    assert "/10 → " in fields["Scores"] and "Job requirement: Run and upgrade" in fields["Practice"]

    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview-progress", people["candidate"]))
    shown = fake.wait_for_call("POST", FOLLOWUP, after=mark, timeout=30)
    assert shown.json["flags"] & 64 and shown.json["embeds"][0]["title"] == "Your progress"
    assert shown.files["mockingbird-progress.png"].startswith(b"\x89PNG\r\n\x1a\n")
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview-progress", people["candidate"], team=True))
    refusal = fake.wait_for_call("POST", FOLLOWUP, after=mark)
    assert "only team leads" in refusal.json["content"] and not refusal.files
    mark = fake.mark()
    fake.dispatch("INTERACTION_CREATE", fake.slash("interview-progress", people["lead"], team=True))
    team = fake.wait_for_call("POST", FOLLOWUP, after=mark)
    csv_rows = team.files["mockingbird-team.csv"].decode().splitlines()
    assert csv_rows[0] == "role,criterion,average,answers,candidates" and csv_rows[1].startswith("devops-sre,")
