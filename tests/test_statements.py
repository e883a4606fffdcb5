"""How many SQL statements one answer and one 👍 cost: pinned, so a redundant read fails here.

The bot's CPU per answer is largely the database (issue #20); each statement below has a job
(the claim's compare-and-set, the feedback's UPDATE, the next question's compare-and-set, the
rating's dedupe and tally). Counted in the calling thread only: the next question prepared in
the background (``bot.engine.prefetch``) runs on its own and is waited for first.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from bot.config import Settings
from bot.engine import Actor, InterviewEngine
from bot.engine.prefetch import NextQuestions
from bot.slack.settled import settled_tally
from bot.store.db import Database
from chains.providers.offline import OfflineProvider
from tasks.pipeline.dispatch import InProcessSink

ANSWER = ("I led the migration of our billing API: I measured p99 latency, added idempotency keys and "
          "rolled it out behind a flag; errors fell by 40%.")
WAIT = 10.0


@contextmanager
def statements(database: Database) -> Iterator[list[str]]:
    """The statements this thread sends to ``database`` inside the block."""
    seen: list[str] = []
    me = threading.get_ident()

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        if threading.get_ident() == me:
            seen.append(" ".join(statement.split())[:100])

    event.listen(database.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", record)


def test_one_answer_and_one_rating_cost_a_pinned_number_of_statements(
    database: Database, settings: Settings, candidate: Actor
) -> None:
    engine = InterviewEngine(database, OfflineProvider(), settings, signals=InProcessSink(database),
                             next_questions=NextQuestions(database))
    started = engine.start(candidate, role="backend", kind="behavioral", questions=3,
                           channel_id="C1", thread_id="T1")
    session_id = started.session.id
    first = engine.answer_in_thread("console", "C1", "T1", candidate, ANSWER, event_id="e1")
    assert first is not None and first.graded is not None
    engine.next_questions.wait(session_id, WAIT)  # type: ignore[union-attr]

    with statements(database) as answer:
        second = engine.answer_in_thread("console", "C1", "T1", candidate, ANSWER, event_id="e2")
    assert second is not None and second.graded is not None and second.next_question is not None
    # find the session and its turns (2), claim (compare-and-set, the answer), store the feedback,
    # read the prepared question, ask it (compare-and-set, the new turn)
    assert len(answer) == 8, "\n".join(answer)

    with statements(database) as rating:
        rated = engine.rate(second.graded.id, candidate, 1)
    assert rated["tally"]["up"] == 1 and rated["tally"]["mine"] == 1
    # the rater and whether the feedback exists (one); stored in-process: ratable, the outbox, forgotten people,
    # the rater's row, the upsert, the tally (with "mine": the adapter needs no second read)
    assert len(rating) == 7, "\n".join(rating)
    engine.next_questions.close()  # type: ignore[union-attr]


def test_a_rating_stored_in_process_is_shown_without_reading_the_tally_again(
    engine: InterviewEngine, database: Database, candidate: Actor
) -> None:
    started = engine.start(candidate, role="backend", kind="behavioral", questions=1)
    graded = engine.answer(started.session.id, candidate, ANSWER).graded
    assert graded is not None
    rated = engine.rate(graded.id, candidate, -1)
    with statements(database) as known:
        counts, stored = settled_tally(engine, graded.id, candidate, -1, known=rated["tally"])
    assert stored and counts == rated["tally"] and counts["down"] == 1 and known == []
    with statements(database) as unknown:  # a rating sent on (Celery): read until it has landed
        assert settled_tally(engine, graded.id, candidate, -1) == (counts, True)
    assert len(unknown) == 1
