"""Terminal practice, driven as a real process through piped stdin and answer files."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rich.console import Console
from sqlalchemy import select

from bot.config import get_settings
from bot.console.practice import LineSource, Practice
from bot.engine import Actor, InterviewEngine, Progress
from bot.store.db import Database
from bot.store.models import Correction, InterviewSession, Rating, SessionState, SurveyResponse
from chains.providers import AllProvidersFailed, GradeRequest, Result
from chains.providers.offline import OfflineProvider
from chains.schemas import Feedback
from tasks.dispatch import InProcessSink

STRONG = ("When I was at my last company our checkout failed 3% of the time. My goal was to fix it in two "
          "weeks. I analysed the logs, I wrote a retry policy and I led the rollout. As a result failures "
          "dropped to 0.2%, and I learned to measure before changing anything.")


def mockingbird(*args: str, stdin: bytes | str = b"", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    result = subprocess.run([sys.executable, "-m", "bot", *args], input=data, capture_output=True,
                            timeout=timeout, env=os.environ.copy())
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode("utf-8", "replace"),
                                       result.stderr.decode("utf-8", "replace"))


def _db() -> Database:
    return Database(get_settings().resolved_database_url)


def test_interactive_session_through_piped_stdin_stores_ratings_and_survey() -> None:
    script = "\n".join([STRONG, "y", "", "   ", "we did stuff basically", "n", "4", "Useful drill"]) + "\n"
    result = mockingbird("practice", "--role", "backend", "--kind", "behavioral", "--questions", "2",
                         "--user", "cara", stdin=script)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Feedback") >= 2
    assert "Your answer is empty" in result.stdout  # the blank line was refused, not graded
    assert "Session report" in result.stdout and "Thank you" in result.stdout
    with _db().session() as session:
        ratings = sorted(r.value for r in session.scalars(select(Rating)))
        assert ratings == [-1, 1]
        survey = session.scalars(select(SurveyResponse)).one()
        assert (survey.usefulness, survey.comment) == (4, "Useful drill")
        assert session.scalars(select(InterviewSession)).one().state == SessionState.completed


def test_answers_file_with_json_prints_a_transcript_of_valid_feedback(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text(f"{STRONG}\nhelp\nretry\nI would check the logs.\n/Pass.\n")  # commands as in a chat thread
    result = mockingbird("practice", "--role", "frontend", "--kind", "technical", "--level", "senior",
                         "--questions", "3", "--answers", str(answers), "--json")
    assert result.returncode == 0, result.stderr
    transcript = json.loads(result.stdout)
    graded = [t for t in transcript["turns"] if not t["skipped"]]
    assert len(graded) == 2 and len(transcript["turns"]) == 3
    for turn in graded:
        Feedback.model_validate(turn["feedback"])
        assert turn["question"] and turn["answer"]
    assert transcript["report"]["answered"] == 2 and transcript["report"]["skipped"] == 1
    assert transcript["session"]["role"] == "frontend"
    assert result.stderr.count("'help' shows this") == 2  # the greeting, then the answer to 'help'
    assert [f"Question {n} of 3" in result.stderr for n in (1, 2, 3)] == [True, True, True]


def test_unknown_role_suggests_the_closest_and_exits_2() -> None:
    result = mockingbird("practice", "--role", "bakend", "--answers", "/dev/null")
    assert result.returncode == 2
    assert "Did you mean backend" in result.stderr


def test_too_many_questions_is_refused_without_promising_a_resume(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("an answer\n")
    result = mockingbird("practice", "--questions", "50", "--answers", str(answers))
    assert result.returncode == 2
    assert "Choose between 1 and" in result.stderr and "--resume" not in result.stderr


def test_huge_answers_control_characters_and_invalid_utf8_are_handled(tmp_path: Path) -> None:
    answers = tmp_path / "answers.bin"
    huge = ("I measured it. " * 800).encode()
    answers.write_bytes(b"I fixed \x07the \x1b[1mbug\xff\xfe in 2 days.\n" + huge + b"\n")
    result = mockingbird("practice", "--role", "qa", "--questions", "2", "--answers", str(answers), "--json")
    assert result.returncode == 0, result.stderr
    transcript = json.loads(result.stdout)
    first, second = transcript["turns"]
    assert "\x07" not in first["answer"] and "\x1b" not in first["answer"] and "\ufffd" in first["answer"]
    assert second["answer_truncated"] is True and len(second["answer"]) <= 4000
    assert "only the first part was graded" in result.stderr


def test_ctrl_c_saves_the_session_and_resume_continues_it(tmp_path: Path) -> None:
    process = subprocess.Popen([sys.executable, "-m", "bot", "practice", "--role", "sales", "--questions", "2",
                                "--user", "cara"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=os.environ.copy())
    assert process.stdout is not None
    output = b""
    deadline = time.monotonic() + 60
    while b"Your answer" not in output and time.monotonic() < deadline:
        output += process.stdout.read1(4096)  # type: ignore[attr-defined]
    assert b"Your answer" in output
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert b"practice --resume" in stderr
    with _db().session() as session:
        interrupted = session.scalars(select(InterviewSession)).one()
        assert interrupted.state == SessionState.awaiting_answer

    answers = tmp_path / "answers.txt"
    answers.write_text(f"{STRONG}\n{STRONG}\n")
    resumed = mockingbird("practice", "--resume", "--user", "cara", "--answers", str(answers), "--json")
    assert resumed.returncode == 0, resumed.stderr
    transcript = json.loads(resumed.stdout)
    assert transcript["session"]["id"] == interrupted.id and len(transcript["turns"]) == 2
    nothing = mockingbird("practice", "--resume", "--user", "cara", "--answers", str(answers))
    assert nothing.returncode == 1 and "no unfinished session" in nothing.stderr


def test_resume_shows_the_feedback_for_an_answer_stored_before_a_crash(tmp_path: Path) -> None:
    class Crashing(OfflineProvider):
        def grade(self, request: GradeRequest) -> Result[Feedback]:
            raise RuntimeError("process killed")

    settings = get_settings()
    db = _db()
    db.upgrade()
    crashed = InterviewEngine(db, Crashing(), settings, signals=InProcessSink(db))
    cara = Actor("console", "cara", display_name="cara")
    started = crashed.start(cara, role="backend", kind="behavioral", level="mid", questions=2)
    with pytest.raises(RuntimeError):
        crashed.answer(started.session.id, cara, STRONG)

    answers = tmp_path / "answers.txt"
    answers.write_text(f"{STRONG}\n")
    resumed = mockingbird("practice", "--resume", "--user", "cara", "--answers", str(answers), "--json")
    assert resumed.returncode == 0, resumed.stderr
    turns = json.loads(resumed.stdout)["turns"]
    assert [t["answer"] for t in turns] == [STRONG, STRONG]  # the stored answer first, graded on resume
    assert all(t["feedback"] for t in turns)


def test_a_model_outage_mid_interview_keeps_the_answer_and_retry_grades_it() -> None:
    class Flaky(OfflineProvider):
        failures = 1

        def grade(self, request: GradeRequest) -> Result[Feedback]:
            if self.failures:
                self.failures -= 1
                raise AllProvidersFailed("every provider failed: offline: connection refused")
            return super().grade(request)

    db = _db()
    db.upgrade()
    engine = InterviewEngine(db, Flaky(), get_settings(), signals=InProcessSink(db))
    cara = Actor("console", "cara", display_name="cara")
    started = engine.start(cara, role="backend", kind="behavioral", level="mid", questions=1)
    typed = io.StringIO("\n".join([STRONG, "", "Another answer meanwhile", "", "retry", "", "", ""]) + "\n")
    screen = io.StringIO()
    practice = Practice(engine, cara, LineSource(typed, interactive=True), Console(file=screen, width=200))
    report = practice.run(Progress(session=started.session, next_question=started.question))
    shown = screen.getvalue()
    assert "couldn't get feedback from the model" in shown and "still working on your previous answer" in shown
    assert report is not None and report.answered == 1
    assert [t["answer"] for t in practice.transcript.turns] == [STRONG]  # the first answer, graded on retry


def test_recruiter_corrects_feedback_from_the_terminal() -> None:
    script = "\n".join([STRONG, "", "y", "9", "", "Too long", "", "Recruiter: a model answer."]) + "\n\n"
    result = mockingbird("practice", "--role", "design", "--questions", "1", "--user", "rita", "--recruiter",
                         stdin=script)
    assert result.returncode == 0, result.stderr
    assert "Correction saved" in result.stdout
    with _db().session() as session:
        correction = session.scalars(select(Correction)).one()
        feedback = Feedback.model_validate(correction.feedback)
    assert feedback.score == 9 and feedback.weaknesses == ["Too long"]
    assert feedback.summary == "Recruiter: a model answer."


def test_a_correction_that_does_not_validate_is_asked_again_not_a_crash() -> None:
    nine = ";".join(f"point {n}" for n in range(1, 10))  # the limit is 8 per list
    script = "\n".join(
        [STRONG, "", "y", "9", "", nine, "", "First try.", "8", "", "Too long", "", "Second try."]
    ) + "\n\n"
    result = mockingbird("practice", "--role", "design", "--questions", "1", "--user", "rita", "--recruiter",
                         stdin=script)
    assert result.returncode == 0, result.stderr
    assert "weaknesses: at most 8 items" in " ".join(result.stdout.split())
    with _db().session() as session:
        feedback = Feedback.model_validate(session.scalars(select(Correction)).one().feedback)
    assert (feedback.score, feedback.weaknesses, feedback.summary) == (8, ["Too long"], "Second try.")


def test_grade_a_single_answer_as_json() -> None:
    result = mockingbird("grade", "--question", "How do you find a slow SQL query in production?",
                         "--answer", "I read the EXPLAIN ANALYZE plan of the slow query, found a sequential "
                         "scan, added an index and measured p95 latency drop from 900 ms to 40 ms.",
                         "--kind", "technical", "--json")
    assert result.returncode == 0, result.stderr
    feedback = Feedback.model_validate_json(result.stdout)
    assert feedback.score >= 4
    empty = mockingbird("grade", "--question", "Why?", "--answer", "   ")
    assert empty.returncode == 2 and "empty" in empty.stderr
