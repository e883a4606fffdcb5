"""The next question is written while the candidate answers the current one (``bot.engine.prefetch``).

It is stored on the session row, so another replica uses it; a prefetch that finishes after a
later question was asked is dropped; a message sent while the first question is being written
is told so.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from bot.engine import Actor, ConcurrentUpdate, InterviewEngine
from bot.engine.prefetch import NextQuestions
from bot.store.db import Database
from bot.store.models import InterviewSession
from chains.providers import GradeRequest, QuestionRequest, Result
from chains.providers.offline import OfflineProvider
from chains.schemas import Feedback, Question
from tasks.pipeline.dispatch import InProcessSink

GOOD = ("I led the migration of our billing API: I measured p99 latency, added idempotency keys and "
        "rolled it out behind a flag; errors fell by 40%.")
WAIT = 10.0


class Recording(OfflineProvider):
    """The offline provider, noting every question it writes; ``gate`` holds back the ``held`` ones
    (``"later"``: every question after the first; ``"first"``: the first)."""

    def __init__(self, gate: threading.Event | None = None, held: str = "later") -> None:
        super().__init__()
        self.questions: list[str] = []
        self.levels: list[str] = []
        self.gate, self.held = gate, held
        self.holding = threading.Event()  # set once a question is held back

    def question(self, request: QuestionRequest) -> Result[Question]:
        if self.gate is not None and bool(request.asked_ids) == (self.held == "later"):
            self.holding.set()
            assert self.gate.wait(WAIT), "the test never released the question"
        result = super().question(request)
        self.questions.append(result.value.text)
        self.levels.append(request.level)
        return result


def _engine(database: Database, settings, provider: OfflineProvider, prefetch: bool = True) -> InterviewEngine:
    return InterviewEngine(database, provider, settings, signals=InProcessSink(database),
                           next_questions=NextQuestions(database) if prefetch else None)


def _stored(database: Database, session_id: int) -> dict | None:
    with database.session() as session:
        return session.scalar(select(InterviewSession.next_question).where(InterviewSession.id == session_id))


def _text(database: Database, session_id: int) -> list[str]:
    """The texts of the questions prepared for the session, in order."""
    return [c["question"]["text"] for c in _stored(database, session_id)["candidates"]]  # type: ignore[index]


def test_the_next_question_is_stored_while_answering_and_any_replica_uses_it(
    database: Database, settings, candidate: Actor
) -> None:
    first, second = Recording(), Recording()
    replica_a, replica_b = _engine(database, settings, first), _engine(database, settings, second)
    started = replica_a.start(candidate, role="backend", kind="behavioral", questions=3, adaptive=False)
    replica_a.next_questions.wait(started.session.id, WAIT)  # type: ignore[union-attr]
    assert first.questions[0] == started.question.question and len(first.questions) == 2
    assert _text(database, started.session.id) == [first.questions[1]]  # type: ignore[index]

    progress = replica_b.answer(started.session.id, candidate, GOOD)  # another replica takes the answer
    assert progress.next_question is not None and progress.next_question.question == first.questions[1]
    replica_b.next_questions.wait(started.session.id, WAIT)  # type: ignore[union-attr]
    assert len(second.questions) == 1  # only the third question, prepared in turn: none written twice
    assert _text(database, started.session.id) == [second.questions[0]]  # type: ignore[index]

    last = replica_a.answer(started.session.id, candidate, GOOD)
    assert last.next_question is not None and last.next_question.question == second.questions[0]
    assert _stored(database, started.session.id) is None  # the last question: nothing more to prepare
    assert len({t.question for t in replica_a.get(started.session.id).turns}) == 3


class Scored(Recording):
    """Every answer gets ``score``."""

    def __init__(self, score: int) -> None:
        super().__init__()
        self.score = score

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        result = super().grade(request)
        return Result(result.value.model_copy(update={"score": self.score}), result.call)


@pytest.mark.parametrize(("score", "moved_to"), [(2, "junior"), (9, "senior")])
def test_the_question_is_prepared_at_each_level_the_answer_can_move_it_to(
    sqlite_db: Database, settings, candidate: Actor, score: int, moved_to: str
) -> None:
    provider = Scored(score)
    engine = _engine(sqlite_db, settings, provider)
    started = engine.start(candidate, role="backend", kind="behavioral", level="mid", questions=3)
    engine.answer(started.session.id, candidate, GOOD)  # one weak (strong) answer: the next may move
    engine.next_questions.wait(started.session.id, WAIT)  # type: ignore[union-attr]
    # question 2 prepared at mid only (one answer cannot move the level); question 3 at mid and below (above)
    assert provider.levels == ["mid", "mid", "mid", moved_to]
    last = engine.answer(started.session.id, candidate, GOOD)  # two in a row: one level down (up)
    assert last.next_question is not None and last.next_question.level == moved_to
    assert len(provider.levels) == 4  # the prepared question was used, none written after the feedback


def test_a_level_nobody_prepared_for_is_written_after_the_answer(
    sqlite_db: Database, settings, candidate: Actor
) -> None:
    class NoJunior(Scored):
        failed = False

        def question(self, request: QuestionRequest) -> Result[Question]:
            if request.level == "junior" and not self.failed:
                self.failed = True
                raise RuntimeError("the model is down")  # the prefetch for junior fails, once
            return super().question(request)

    provider = NoJunior(2)
    engine = _engine(sqlite_db, settings, provider)
    started = engine.start(candidate, role="backend", kind="behavioral", level="mid", questions=3)
    engine.answer(started.session.id, candidate, GOOD)
    engine.next_questions.wait(started.session.id, WAIT)  # type: ignore[union-attr]
    assert [c["plan"]["level"] for c in _stored(sqlite_db, started.session.id)["candidates"]] == ["mid"]  # type: ignore[index]
    last = engine.answer(started.session.id, candidate, GOOD)  # the mid one is not used at junior
    assert last.next_question is not None and last.next_question.level == "junior"
    assert provider.levels == ["mid", "mid", "mid", "junior"]


def test_the_next_question_is_written_while_the_answer_is_graded(
    sqlite_db: Database, settings, candidate: Actor
) -> None:
    grading, writing = threading.Event(), threading.Event()

    class Overlapping(OfflineProvider):
        """Grading waits until the next question is being written: without a prefetch it never would be."""

        def question(self, request: QuestionRequest) -> Result[Question]:
            if request.asked_ids:  # not the first question
                writing.set()
            return super().question(request)

        def grade(self, request: GradeRequest) -> Result[Feedback]:
            grading.set()
            assert writing.wait(WAIT), "the next question was not being written while grading"
            return super().grade(request)

    engine = _engine(sqlite_db, settings, Overlapping())
    started = engine.start(candidate, role="backend", kind="behavioral", questions=2)
    progress = engine.answer(started.session.id, candidate, GOOD)
    assert grading.is_set() and progress.next_question is not None


def test_a_prefetch_finishing_after_the_next_question_was_asked_is_dropped(
    sqlite_db: Database, settings, candidate: Actor
) -> None:
    gate = threading.Event()
    slow = Recording(gate)  # the first question is written at once, the prefetch of question 2 held back
    replica_a = _engine(sqlite_db, settings, slow)
    started = replica_a.start(candidate, role="backend", kind="behavioral", questions=3)
    replica_b = _engine(sqlite_db, settings, Recording(), prefetch=False)
    progress = replica_b.answer(started.session.id, candidate, GOOD)  # writes question 2 itself
    assert progress.next_question is not None
    gate.set()
    replica_a.next_questions.wait(started.session.id, WAIT)  # type: ignore[union-attr]
    assert len(slow.questions) == 2 and _stored(sqlite_db, started.session.id) is None


def test_a_message_while_the_first_question_is_written_is_told_so(
    sqlite_db: Database, settings, candidate: Actor
) -> None:
    gate = threading.Event()
    provider = Recording(gate, held="first")
    engine = _engine(sqlite_db, settings, provider)
    starting = threading.Thread(target=lambda: engine.start(candidate, role="backend", kind="behavioral",
                                                            questions=1, channel_id="C1", thread_id="T1"))
    starting.start()
    try:
        assert provider.holding.wait(WAIT)  # the session exists; its first question is being written
        with pytest.raises(ConcurrentUpdate, match="still writing your first question"):
            engine.answer_in_thread("console", "C1", "T1", candidate, GOOD)
    finally:
        gate.set()
        starting.join(WAIT)
