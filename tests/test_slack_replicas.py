"""Replicas: two Slack app instances sharing only the database serve one interview alternately.

The same script is played once against a single instance and once with every request
going to the other instance than the one before (and one answer delivered to both at the
same moment, as a Slack retry landing on the second replica would be). The transcripts,
read back from the database, must be identical.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot.store.db import Database
from bot.store.models import InterviewSession, Rating
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_harness import (
    CHANNEL,
    GOOD_ANSWER,
    RunningBot,
    message_ts,
    rating_labels,
    running_bot,
    turn_of,
)

ANSWERS = [
    GOOD_ANSWER,
    "I'd profile first, then add an index; EXPLAIN showed a sequential scan.",
    "skip",
    "I would split the service by team ownership and keep one database per service.",
]


def transcript(db: Database) -> list[Any]:
    with db.session() as session:
        record = session.scalars(select(InterviewSession)).one()
        ratings = sorted(session.scalars(select(Rating.value)))
        return [
            record.state,
            record.planned_questions,
            ratings,
            [(t.index, t.question, t.state, t.answer, t.feedback) for t in record.turns],
        ]


def play(bots: list[RunningBot], fake: FakeSlackAPI) -> None:
    """One interview; request i goes to ``bots[i % len(bots)]``."""
    counter = iter(range(1000))

    def next_bot() -> RunningBot:
        return bots[next(counter) % len(bots)]

    thread = next_bot().start_interview("UCAND", "backend technical senior 4")
    for n, text in enumerate(ANSWERS):
        bot = next_bot()
        if text == "skip":
            bot.sender.reply("UCAND", CHANNEL, thread, "skip")
        else:
            event_id = f"EvReplica{n}"
            if n == 1 and len(bots) > 1:  # the same delivery reaching both replicas at once
                next_bot().sender.reply("UCAND", CHANNEL, thread, text, event_id=event_id, retry=1)
            feedback = bot.answer("UCAND", thread, text, event_id=event_id)
            rater, ts = next_bot(), message_ts(feedback)
            rater.sender.rate("up" if n % 2 == 0 else "down", turn_of(feedback), "UCAND", CHANNEL, ts, thread)
            fake.wait_for(
                lambda ts=ts: any(
                    c.params["ts"] == ts and "· 1" in str(rating_labels(c))
                    for c in fake.calls_to("chat.update", ok=True)
                ),
                what="tally update",
            )
        # As a person would: the next reply comes after the next question (or the report) is shown.
        after = f"Question {n + 2} of" if n + 1 < len(ANSWERS) else "Interview report"
        fake.wait_for(
            lambda after=after, bot=bot: any(
                c.params["text"].startswith(after) for c in bot.thread_posts(thread)
            ),
            what=after,
        )


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


def test_two_replicas_give_the_same_result_as_one(
    fake: FakeSlackAPI, database: Database, tmp_path: Path
) -> None:
    single_db = Database(f"sqlite:///{tmp_path / 'single.db'}")
    single_db.upgrade()
    with FakeSlackAPI() as single_fake, running_bot(single_fake, single_db) as single:
        play([single], single_fake)
    expected = transcript(single_db)

    with ExitStack() as stack:
        # Each replica gets its own connection pool: they share the database and nothing else.
        replica_dbs = [stack.enter_context(_own_handle(database.url)) for _ in range(2)]
        bots = [stack.enter_context(running_bot(fake, db)) for db in replica_dbs]
        play(bots, fake)
    assert transcript(database) == expected
    assert expected[0].value == "completed" and len(expected[3]) == 4
    thread_posts = [
        c.params["text"] for c in fake.calls_to("chat.postMessage", ok=True) if c.params.get("thread_ts")
    ]
    assert sum(p.startswith("Thinking") for p in thread_posts) == 3  # three answers; the redelivery made none
    assert len([p for p in thread_posts if p.startswith("Question")]) == 4
    live = [m.text.split(":")[0] for m in fake.thread(CHANNEL, _thread_of(fake))]
    assert sum(t.startswith("Feedback") for t in live) == 3 and not any(
        t.startswith("Thinking") for t in live
    )
    single_db.dispose()


def _thread_of(fake: FakeSlackAPI) -> str:
    return str(
        next(c for c in fake.calls_to("chat.postMessage", ok=True) if not c.params.get("thread_ts")).response[
            "ts"
        ]
    )


class _own_handle:
    def __init__(self, url: str) -> None:
        self.db = Database(url)

    def __enter__(self) -> Database:
        return self.db

    def __exit__(self, *exc: object) -> None:
        self.db.dispose()
