"""End to end: Slack HTTP mode -> engine -> CelerySink -> Redis -> ``celery -A tasks worker`` -> PostgreSQL.

Slash command, thread, answer, feedback, 👍 then 👎 (the tally on the message is read from
the database after the worker stored the rating), a recruiter's correction (stored by the
worker), and the team lead's stats with the chart upload, all asserted on what the fake
Slack recorded and on the database.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from bot.config import get_settings
from bot.store.db import Database
from bot.store.models import InterviewSession, OutboxMessage, SessionState
from tasks.pipeline.sink import CelerySink
from tests.celery_support import celery_worker, fresh_postgres, stored_signals, wait_for
from tests.fakes.slack_api import FakeSlackAPI
from tests.fakes.slack_harness import CHANNEL, rating_labels, running_bot, turn_of

CAND, RECRUITER, LEAD = "UCAND", "URECRUIT", "ULEAD"


@pytest.fixture
def fake() -> Iterator[FakeSlackAPI]:
    with FakeSlackAPI() as api:
        yield api


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.slow
def test_slash_command_to_stats_through_a_real_worker(
    fake: FakeSlackAPI, postgres_url: str, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with fresh_postgres(postgres_url) as pg_url, celery_worker(redis_url, pg_url) as worker:
        env = {"REDIS_URL": redis_url, "CELERY_QUEUE": worker.queue, "DATABASE_URL": pg_url}
        for key, value in env.items():  # the composition root reads these to choose the Celery sink
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        db = Database(pg_url)
        try:
            with running_bot(fake, db, **env) as bot:
                assert isinstance(bot.engine.signals, CelerySink)
                thread = bot.start_interview(CAND, "backend technical mid 1")
                feedback = bot.answer(CAND, thread)
                turn, ts = turn_of(feedback), feedback.params["ts"]

                def tally(up: int, down: int) -> bool:
                    updates = [c for c in fake.calls_to("chat.update", ok=True) if c.params["ts"] == ts]
                    labels = rating_labels(updates[-1])
                    return labels["up"].endswith(f"· {up}") and labels["down"].endswith(f"· {down}")

                bot.sender.rate("up", turn, CAND, CHANNEL, ts, thread)
                fake.wait_for(lambda: tally(1, 0), 30, "👍 tally after the worker stored it")
                bot.sender.rate("down", turn, CAND, CHANNEL, ts, thread)
                fake.wait_for(lambda: tally(0, 1), 30, "👎 tally after the worker changed it")

                bot.sender.action("correct_feedback", turn, RECRUITER, CHANNEL, ts, thread)
                form = fake.wait_calls("views.open")[0].params["view"]
                bot.sender.submit(
                    form, {"score": "3", "summary": "Recruiter: the numbers are missing."}, RECRUITER
                )
                fake.wait_for(
                    lambda: any("corrected feedback" in c.params["text"] for c in bot.thread_posts(thread)),
                    what="correction posted",
                )
                wait_for(
                    lambda: stored_signals(db) == ([-1], [3]), 60, f"the worker to store both signals:\n{worker.output}"
                )

                bot.sender.command("/interview-stats", "30", LEAD)
                complete = fake.wait_calls("files.completeUploadExternal", timeout=30)[0]
                assert "Satisfaction: 0%" in complete.params["initial_comment"]
                assert "0 👍 / 1 👎" in complete.params["initial_comment"]
                assert "Corrections: 1 answers corrected" in complete.params["initial_comment"]
            with db.session() as session:
                assert session.scalars(select(OutboxMessage)).all() == []  # delivered, not parked
                assert session.scalars(select(InterviewSession.state)).one() == SessionState.completed
        finally:
            db.dispose()
            get_settings.cache_clear()
