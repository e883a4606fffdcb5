"""The Agents & AI Apps pane, end to end: signed events into the real bot, the fake Web API out.

``assistant_thread_started`` greets with suggested prompts; a prompt starts an interview in the
assistant thread (titled, with a status while grading); its feedback carries Slack's native
feedback buttons, whose click is stored and tallied like any rating.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.slack.assistant import GRADING_STATUS, SUGGESTED_PROMPTS
from bot.store.db import Database
from bot.store.models import InterviewSession, Rating
from tests.fakes.slack_api import Call, FakeSlackAPI
from tests.fakes.slack_harness import GOOD_ANSWER, rating_labels, running_bot, turn_of

CAND, DM, PANE = "UCAND", "D0CAND", "1700000000.000900"


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


def _in_pane(fake: FakeSlackAPI) -> list[Call]:
    return [c for c in fake.calls_to("chat.postMessage", ok=True) if c.params.get("thread_ts") == PANE]


def test_opening_the_pane_greets_with_suggested_prompts(fake: FakeSlackAPI, sqlite_db: Database) -> None:
    with running_bot(fake, sqlite_db) as bot:
        sent = bot.sender.assistant_thread_started(CAND, DM, PANE)
        assert sent.status == 200 and sent.elapsed_s < 3
        prompts = fake.wait_calls("assistant.threads.setSuggestedPrompts", ok=True)[0].params
        greeting = fake.wait_for(lambda: _in_pane(fake), what="greeting")[0]
    assert (prompts["channel_id"], prompts["thread_ts"]) == (DM, PANE)
    assert prompts["prompts"] == SUGGESTED_PROMPTS and fake.assistant_threads[(DM, PANE)]["prompts"]
    assert "mock interviewer" in greeting.params["text"]
    assert fake.count("conversations.replies") == 0  # Bolt's thread-context store is never consulted


def test_an_interview_runs_in_the_assistant_thread(fake: FakeSlackAPI, sqlite_db: Database) -> None:
    with running_bot(fake, sqlite_db) as bot:
        bot.sender.assistant_thread_started(CAND, DM, PANE)
        fake.wait_calls("assistant.threads.setSuggestedPrompts", ok=True)
        bot.sender.assistant_message(CAND, DM, PANE, "nonsense words")  # not a role: usage, nothing started
        fake.wait_for(lambda: any("Usage" in c.params["text"] for c in _in_pane(fake)), what="usage")

        bot.sender.assistant_message(CAND, DM, PANE, "backend technical senior 1")
        fake.wait_for(lambda: any(c.params["text"].startswith("Question 1") for c in _in_pane(fake)), what="Q1")
        assert fake.assistant_threads[(DM, PANE)]["title"] == "Backend engineer interview · technical · senior"

        bot.sender.assistant_message(CAND, DM, PANE, GOOD_ANSWER)
        feedback = fake.wait_for(
            lambda: [c for c in _in_pane(fake) if c.params["text"].startswith("Feedback")], what="feedback"
        )[0]
        statuses = [c for c in fake.calls_to("assistant.threads.setStatus", ok=True) if c.params["thread_ts"] == PANE]
        assert GRADING_STATUS in [c.params["status"] for c in statuses]
        grading = next(c for c in statuses if c.params["status"] == GRADING_STATUS)
        assert grading.at <= feedback.at and fake.assistant_threads[(DM, PANE)]["status"] == ""  # cleared
        assert not any("Thinking" in c.params["text"] for c in _in_pane(fake))  # a status, not a placeholder
        fake.wait_for(lambda: any("report" in c.params["text"] for c in _in_pane(fake)), what="report")

        # The native 👍 in the pane is stored and tallied through the same engine path as in channels.
        ts, turn = feedback.response["ts"], turn_of(feedback)
        assert bot.sender.rate("up", turn, CAND, DM, ts, PANE).status == 200
        fake.wait_for(
            lambda: any(
                rating_labels(c)["up"].endswith("· 1") for c in fake.calls_to("chat.update") if c.params["ts"] == ts
            ),
            what="tally in the pane",
        )
        bot.sender.assistant_message(CAND, DM, PANE, "my progress")
        fake.wait_for(lambda: any("Average score" in c.params["text"] and "Practice streak" in c.params["text"]
                                  for c in _in_pane(fake)), what="progress")
        # After the report, 'again' reopens the interview for a second attempt, which reports again.
        bot.sender.assistant_message(CAND, DM, PANE, "again")
        fake.wait_for(lambda: any(c.params["text"].startswith("Question 1, try again") for c in _in_pane(fake)),
                      what="the question again")
        bot.sender.assistant_message(CAND, DM, PANE, GOOD_ANSWER + " Again, with numbers: 40% fewer errors.")
        fake.wait_for(lambda: sum("report" in c.params["text"] for c in _in_pane(fake)) == 2, what="second report")
    with sqlite_db.session() as session:
        interview = session.scalars(select(InterviewSession)).one()
        assert (interview.channel_id, interview.thread_id, interview.state.value) == (DM, PANE, "completed")
        assert session.scalars(select(Rating.value)).all() == [1]
