"""The interview engine: state machine, concurrency, restarts, roles — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from bot.engine import (
    Actor,
    BadCorrection,
    BadInput,
    ConcurrentUpdate,
    Forbidden,
    InterviewEngine,
    InvalidTransition,
    NotYourSession,
    ProviderUnavailable,
    SessionView,
    TurnNotFound,
    TurnView,
    corrected_feedback,
)
from bot.engine.text import thread_command
from bot.store.db import Database
from bot.store.models import (
    Correction,
    InterviewSession,
    Rating,
    SessionState,
    SurveyResponse,
    Turn,
    TurnState,
    User,
)
from chains.providers import AllProvidersFailed, GradeRequest, Result
from chains.providers.offline import OfflineProvider
from chains.schemas import Feedback
from tasks.pipeline.dispatch import InProcessSink

GOOD = ("When I was at my last company our checkout failed 3% of the time. My goal was to fix it within "
        "two weeks. I analysed the logs, I wrote a retry policy and I led the rollout. As a result "
        "failures dropped to 0.2%, and I learned to measure before changing anything.")


def _start(engine: InterviewEngine, actor: Actor, questions: int = 2, kind: str = "behavioral"):
    return engine.start(actor, role="backend", kind=kind, level="mid", questions=questions)


def test_full_interview_walks_the_state_machine(engine: InterviewEngine, candidate: Actor) -> None:
    started = _start(engine, candidate, questions=2)
    assert started.session.state == SessionState.awaiting_answer
    assert started.question.index == 0 and started.question.state == TurnState.asked

    first = engine.answer(started.session.id, candidate, GOOD)
    assert first.graded is not None and first.graded.feedback is not None
    assert first.graded.state == TurnState.graded and first.graded.answer == GOOD
    assert first.next_question is not None and first.next_question.index == 1
    assert first.next_question.question != started.question.question

    second = engine.answer(started.session.id, candidate, "We did some stuff, I guess.")
    assert second.finished and second.report is not None
    assert second.session.state == SessionState.completed
    assert second.report.answered == 2
    assert second.report.turns[0].score == first.graded.feedback.score
    assert second.report.average_score is not None

    with pytest.raises(InvalidTransition, match="ended"):
        engine.answer(started.session.id, candidate, "one more")


def test_every_turn_records_how_its_feedback_was_made(engine: InterviewEngine, database: Database,
                                                      candidate: Actor) -> None:
    started = _start(engine, candidate, questions=1)
    engine.answer(started.session.id, candidate, GOOD)
    with database.session() as session:
        turn = session.scalars(select(Turn).where(Turn.session_id == started.session.id)).one()
        assert turn.provider == "offline" and turn.prompt_version == "grader-v2"
        assert turn.valid_first_try is True and turn.repaired is False and turn.fell_back is False
        assert turn.latency_ms is not None and turn.raw_output
        Feedback.model_validate(turn.feedback)


def test_skip_and_end_produce_a_report(engine: InterviewEngine, candidate: Actor) -> None:
    started = _start(engine, candidate, questions=3)
    skipped = engine.skip(started.session.id, candidate)
    assert skipped.graded is None and skipped.next_question is not None
    ended = engine.end(started.session.id, candidate)
    assert ended.session.state == SessionState.ended
    assert ended.report is not None and ended.report.skipped == 2 and ended.report.answered == 0
    with pytest.raises(InvalidTransition):
        engine.skip(started.session.id, candidate)


def test_bad_requests_are_refused_clearly(engine: InterviewEngine, candidate: Actor) -> None:
    with pytest.raises(BadInput, match="Did you mean"):
        engine.start(candidate, role="back")
    with pytest.raises(BadInput, match="Kind"):
        engine.start(candidate, role="backend", kind="trivia")
    with pytest.raises(BadInput, match="between 1 and"):
        engine.start(candidate, role="backend", questions=99)
    started = _start(engine, candidate)
    with pytest.raises(BadInput, match="empty"):
        engine.answer(started.session.id, candidate, "  \n\t ")
    with pytest.raises(NotYourSession):
        engine.answer(started.session.id, Actor("console", "mallory"), GOOD)
    assert engine.get(started.session.id).state == SessionState.awaiting_answer


def test_long_and_dirty_answers_are_cleaned_and_truncated(engine: InterviewEngine, candidate: Actor) -> None:
    started = _start(engine, candidate)
    dirty = "Hello\x00\x1b[31m wörld \u202e" + "word " * 2000
    progress = engine.answer(started.session.id, candidate, dirty.encode("utf-8") + b"\xff\xfe")
    graded = progress.graded
    assert graded is not None and graded.answer_truncated
    assert len(graded.answer or "") <= engine.settings.max_answer_chars
    assert "\x00" not in graded.answer and "\x1b" not in graded.answer and "\u202e" not in graded.answer
    assert graded.answer.startswith("Hello[31m wörld")


def test_redelivered_answer_event_is_handled_once(engine: InterviewEngine, database: Database,
                                                  candidate: Actor) -> None:
    started = _start(engine, candidate, questions=3)
    first = engine.answer(started.session.id, candidate, GOOD, event_id="Ev1")
    again = engine.answer(started.session.id, candidate, GOOD, event_id="Ev1")
    assert first.graded is not None and again.duplicate and again.graded is None
    with database.session() as session:
        answered = session.scalar(select(func.count()).select_from(Turn).where(
            Turn.session_id == started.session.id, Turn.answer.is_not(None)))
    assert answered == 1


def test_racing_answers_are_stored_once_each_never_interleaved(database: Database, settings,
                                                               candidate: Actor) -> None:
    barrier = threading.Barrier(2)

    engine = InterviewEngine(database, OfflineProvider(), settings, signals=InProcessSink(database))
    for round_ in range(5):
        started = _start(engine, candidate, questions=3)
        outcomes: list[object] = []

        def answer(text: str, sid: int = started.session.id, outcomes: list[object] = outcomes) -> None:
            barrier.wait()
            try:
                outcomes.append(engine.answer(sid, candidate, text))
            except ConcurrentUpdate as exc:
                outcomes.append(exc)

        threads = [threading.Thread(target=answer, args=(f"answer {i} " + GOOD,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        view = engine.get(started.session.id)
        answered = [t for t in view.turns if t.answer]
        accepted = [o for o in outcomes if not isinstance(o, Exception)]
        # Either both were accepted in order (one per question), or one was refused; never lost or mixed.
        assert len(answered) == len(accepted) >= 1, round_
        assert [t.index for t in answered] == list(range(len(answered)))
        assert all(t.feedback is not None for t in answered)
        assert len({t.answer for t in answered}) == len(answered)


def test_a_crash_mid_grading_resumes_after_restart(database: Database, settings, candidate: Actor) -> None:
    class Crashing(OfflineProvider):
        def grade(self, request: GradeRequest) -> Result[Feedback]:
            raise RuntimeError("process killed")

    crashing = InterviewEngine(database, Crashing(), settings, signals=InProcessSink(database))
    started = _start(crashing, candidate, questions=2)
    with pytest.raises(RuntimeError):
        crashing.answer(started.session.id, candidate, GOOD)
    assert crashing.get(started.session.id).state == SessionState.grading

    restarted = InterviewEngine(Database(database.url), OfflineProvider(), settings,
                                signals=InProcessSink(database))
    assert restarted.open_session(candidate).id == started.session.id
    progress = restarted.resume(started.session.id)
    assert progress.graded is not None and progress.graded.answer == GOOD and progress.graded.feedback
    assert progress.next_question is not None and progress.next_question.index == 1
    assert restarted.resume(started.session.id).next_question == progress.next_question  # idempotent


def test_dead_provider_keeps_the_answer_and_retry_grades_it(database: Database, settings,
                                                            candidate: Actor) -> None:
    class Dead(OfflineProvider):
        def grade(self, request: GradeRequest) -> Result[Feedback]:
            raise AllProvidersFailed("every provider failed: offline: connection refused")

    dead = InterviewEngine(database, Dead(), settings, signals=InProcessSink(database))
    started = _start(dead, candidate, questions=1)
    with pytest.raises(ProviderUnavailable, match="answer is saved"):
        dead.answer(started.session.id, candidate, GOOD)
    alive = InterviewEngine(database, OfflineProvider(), settings, signals=InProcessSink(database))
    progress = alive.retry(started.session.id, candidate)
    assert progress.graded is not None and progress.graded.answer == GOOD
    assert progress.finished


def test_ratings_are_idempotent_and_changeable(engine: InterviewEngine, database: Database,
                                               candidate: Actor) -> None:
    started = _start(engine, candidate, questions=1)
    turn = engine.answer(started.session.id, candidate, GOOD).graded
    for _ in range(3):
        engine.rate(turn.id, candidate, 1)
    assert engine.signals.last_result == {"turn_id": turn.id, "up": 1, "down": 0, "others_up": 0, "others_down": 0,
                                          "mine": 1}
    rated = engine.rate(turn.id, candidate, -1)  # stored at once (in-process): the tally comes with it
    assert rated["tally"] == {"turn_id": turn.id, "up": 0, "down": 1, "others_up": 0, "others_down": 0, "mine": -1}
    assert rated["tally"] == engine.tally(turn.id, candidate)
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Rating)) == 1
    with pytest.raises(BadInput):
        engine.rate(turn.id, candidate, 5)


def test_only_feedback_can_be_rated_by_known_and_new_people(engine: InterviewEngine, database: Database,
                                                            candidate: Actor) -> None:
    started = _start(engine, candidate, questions=2)
    asked = started.question.id  # asked, not graded yet
    newcomer = Actor("console", "nina", display_name="Nina New")
    for rater in (candidate, newcomer):
        for turn_id in (asked, 10_000):
            with pytest.raises(TurnNotFound):
                engine.rate(turn_id, rater, 1)
    with database.session() as session:  # the refusals stored nothing, and created nobody
        assert session.scalar(select(func.count()).select_from(Rating)) == 0
        assert session.scalar(select(User).where(User.platform_user_id == "nina")) is None


def test_only_recruiters_can_correct(engine: InterviewEngine, database: Database, candidate: Actor,
                                     recruiter: Actor) -> None:
    started = _start(engine, candidate, questions=1)
    turn = engine.answer(started.session.id, candidate, GOOD).graded
    better = turn.feedback.model_copy(update={"score": 9, "summary": "Recruiter: strong, specific story."})
    with pytest.raises(Forbidden, match="only recruiters"):
        engine.correct(turn.id, candidate, better)
    # A console user may claim the recruiter role; a Slack user may not.
    with pytest.raises(Forbidden):
        engine.correct(turn.id, Actor("slack", "UNOBODY", claimed_role=None), better)
    engine.correct(turn.id, recruiter, better)
    engine.correct(turn.id, recruiter, better)  # resubmitted: replaced, not duplicated
    engine.correct(turn.id, Actor("slack", "URECRUIT"), better)  # configured in RECRUITERS
    with database.session() as session:
        corrections = session.scalars(select(Correction)).all()
        assert len(corrections) == 2 and corrections[0].feedback["score"] == 9


def test_group_membership_grants_roles(database: Database, candidate: Actor) -> None:
    from tests.conftest import make_settings

    engine = InterviewEngine(database, OfflineProvider(), make_settings(TEAM_LEADS="slack:SLEADS"),
                             signals=InProcessSink(database))
    from bot.store.models import UserRole

    assert UserRole.team_lead in engine.roles(Actor("slack", "U1", groups=frozenset({"SLEADS"})))
    assert UserRole.team_lead not in engine.roles(Actor("slack", "U2", groups=frozenset({"SOTHER"})))


def test_survey_and_history(engine: InterviewEngine, database: Database, candidate: Actor) -> None:
    started = _start(engine, candidate, questions=1)
    engine.answer(started.session.id, candidate, GOOD)
    with pytest.raises(BadInput):
        engine.survey(started.session.id, candidate, 7)
    engine.survey(started.session.id, candidate, 4, "useful")
    engine.survey(started.session.id, candidate, 5)
    with database.session() as session:
        response = session.scalars(select(SurveyResponse)).one()
        assert (response.usefulness, response.comment) == (5, None)
    history = engine.history(candidate)
    assert history[0]["session_id"] == started.session.id and history[0]["average_score"] is not None


def test_forget_deletes_everything_about_a_person(engine: InterviewEngine, database: Database,
                                                  candidate: Actor, recruiter: Actor) -> None:
    started = _start(engine, candidate, questions=1)
    turn = engine.answer(started.session.id, candidate, GOOD).graded
    engine.rate(turn.id, candidate, 1)
    engine.correct(turn.id, recruiter, turn.feedback)
    assert engine.forget("console", candidate.user_id)
    with database.session() as session:
        for model in (InterviewSession, Turn, Rating, Correction):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model
        assert session.scalar(select(func.count()).select_from(User)
                              .where(User.platform_user_id == candidate.user_id)) == 0
    assert not engine.forget("console", candidate.user_id)


def test_platform_event_claims_and_stored_answers(engine: InterviewEngine, candidate: Actor) -> None:
    assert engine.claim_event("slack:event:Ev9") and not engine.claim_event("slack:event:Ev9")
    started = _start(engine, candidate, questions=2)
    assert not engine.answer_stored(started.session.id, "EvA")
    turn = engine.answer(started.session.id, candidate, GOOD, event_id="EvA").graded
    assert engine.answer_stored(started.session.id, "EvA")
    assert engine.tally(turn.id, candidate)["mine"] == 0
    engine.rate(turn.id, candidate, -1)
    assert engine.tally(turn.id, candidate)["mine"] == -1
    assert engine.tally(turn.id) == {"turn_id": turn.id, "up": 0, "down": 1, "others_up": 0, "others_down": 0}


def test_answer_in_thread_takes_only_the_candidates_reply(engine: InterviewEngine, candidate: Actor) -> None:
    started = engine.start(candidate, role="backend", kind="behavioral", level="mid", questions=2,
                           channel_id="C1", thread_id="1700.1")
    claimed: list[bool] = []
    shown: list[tuple[TurnView, SessionView]] = []
    stranger = Actor(platform=candidate.platform, user_id="someone-else")
    # Not an interview thread, or not the candidate: nothing is stored and no callback runs.
    assert engine.answer_in_thread(candidate.platform, "C1", "9999.9", candidate, GOOD) is None
    assert engine.answer_in_thread(candidate.platform, "C1", "1700.1", stranger, GOOD) is None
    assert engine.in_thread(candidate.platform, "C1", "1700.1").id == started.session.id
    progress = engine.answer_in_thread(
        candidate.platform, "C1", "1700.1", candidate, GOOD, event_id="EvT",
        on_claimed=lambda: claimed.append(True), on_graded=lambda turn, session: shown.append((turn, session)))
    assert progress is not None and progress.graded is not None and claimed == [True]
    turn, session = shown[0]
    assert turn.id == progress.graded.id and turn.feedback == progress.graded.feedback
    assert [t.id for t in session.turns] == [turn.id]  # the session as it was when the feedback was stored
    assert progress.next_question is not None and progress.session.version == engine.get(started.session.id).version
    # A redelivery of the same event: a duplicate, nothing claimed, nothing shown.
    again = engine.answer_in_thread(candidate.platform, "C1", "1700.1", candidate, GOOD, event_id="EvT",
                                    on_claimed=lambda: claimed.append(True))
    assert again is not None and again.duplicate and claimed == [True]
    with pytest.raises(BadInput):
        engine.answer_in_thread(candidate.platform, "C1", "1700.1", candidate, "   ")

    def broken_placeholder() -> None:
        raise RuntimeError("chat API down")

    # A failing courtesy callback does not leave the stored answer ungraded.
    second = engine.answer_in_thread(candidate.platform, "C1", "1700.1", candidate, GOOD, event_id="EvT2",
                                     on_claimed=broken_placeholder)
    assert second is not None and second.graded is not None and second.graded.feedback is not None
    assert engine.tally(turn.id, candidate) == {"turn_id": turn.id, "up": 0, "down": 0, "others_up": 0,
                                                "others_down": 0, "mine": 0}
    engine.rate(turn.id, candidate, 1)
    engine.rate(turn.id, stranger, -1)
    # The stranger is neither the candidate nor a recruiter: their 👎 is stored and counted apart.
    assert engine.tally(turn.id, stranger) == {"turn_id": turn.id, "up": 1, "down": 0, "others_up": 0,
                                               "others_down": 1, "mine": -1}


def test_roles_follow_the_configuration_and_a_console_claim_does_not_stick(database: Database) -> None:
    from bot.store.models import UserRole
    from tests.conftest import make_settings

    granted = InterviewEngine(database, OfflineProvider(), make_settings(RECRUITERS="slack:U9"))
    assert UserRole.recruiter in granted.roles(Actor("slack", "U9"))
    _start(granted, Actor("slack", "U9"))  # stored as a recruiter
    revoked = InterviewEngine(database, OfflineProvider(), make_settings(RECRUITERS=""))
    assert UserRole.recruiter not in revoked.roles(Actor("slack", "U9"))
    console = Actor("console", "me", claimed_role=UserRole.recruiter)
    _start(revoked, console)
    assert UserRole.recruiter in revoked.roles(console)
    assert UserRole.recruiter not in revoked.roles(Actor("console", "me"))
    assert UserRole.recruiter not in revoked.roles(Actor("slack", "me", claimed_role=UserRole.recruiter))


# ── what adapters share: thread commands and a recruiter's typed correction ─────────────
@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("skip", "skip"), (" Pass ", "skip"), ("/next", "skip"), ("SKIP!", "skip"),
        ("end", "end"), ("/stop.", "end"), ("Quit", "end"), ("finish!", "end"),
        ("retry", "retry"), ("Try  again.", "again"), ("/retry", "retry"), ("again!", "again"),
        ("help", "help"), ("?", "help"), ("/help", "help"),
        ("skip this one", None), ("I would stop the rollout", None), ("", None), ("/", None), ("next?", None),
    ],
)
def test_thread_commands_are_one_vocabulary(text: str, command: str | None) -> None:
    assert thread_command(text) == command


CORRECTION = {"score": "5", "strengths": "", "weaknesses": "", "suggestions": "", "summary": "ok"}


def test_a_correction_keeps_criteria_and_reads_one_item_per_line() -> None:
    fixed = corrected_feedback(
        score=" 7/10 ",
        strengths="• structured\n  - measurable\n•concise\n\n*  ",
        weaknesses="-5% churn was not explained",
        suggestions="name the trade-offs",
        summary="  Better than it looked. ",
        criteria={"structure": 6, "impact": 5},
    )
    assert fixed == Feedback(
        score=7,
        strengths=["structured", "measurable", "concise"],
        weaknesses=["-5% churn was not explained"],
        suggestions=["name the trade-offs"],
        criteria={"structure": 6, "impact": 5},
        summary="Better than it looked.",
    )


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({"score": "0"}, {"score": "must be a whole number from 1 to 10"}),
        ({"score": "11/10"}, {"score": "must be a whole number from 1 to 10"}),
        ({"score": "7.5"}, {"score": "must be a whole number from 1 to 10"}),
        ({"score": "²"}, {"score": "must be a whole number from 1 to 10"}),
        ({"score": "9" * 5000}, {"score": "must be a whole number from 1 to 10"}),
        ({"summary": "   "}, {"summary": "write a short summary of the corrected feedback"}),
        (
            {"strengths": "\n".join(f"- point {i}" for i in range(9)), "score": ""},
            {"score": "must be a whole number from 1 to 10",
             "strengths": "at most 8 items, one per line (there are 9)"},
        ),
    ],
)
def test_a_bad_correction_names_every_field_to_fix(fields: dict[str, str], problems: dict[str, str]) -> None:
    with pytest.raises(BadCorrection) as caught:
        corrected_feedback(**{**CORRECTION, **fields}, criteria={})
    assert caught.value.problems == problems and isinstance(caught.value, BadInput)
    assert str(caught.value).startswith("Please fix the correction: ") and all(
        f"{field}: {message}" in str(caught.value) for field, message in problems.items()
    )


def test_a_correction_over_the_models_own_limits_is_refused_on_its_field() -> None:
    with pytest.raises(BadCorrection) as caught:
        corrected_feedback(**{**CORRECTION, "summary": "x" * 2001}, criteria={})
    assert list(caught.value.problems) == ["summary"]
