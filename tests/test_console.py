"""Terminal practice, driven as a real process through piped stdin and answer files."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select as os_select  # sqlalchemy's select is the one this file means by select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from sqlalchemy import select

from bot.config import get_settings
from bot.console.practice import LineSource, Practice
from bot.engine import Actor, InterviewEngine, Progress, Started
from bot.store.db import Database
from bot.store.models import Correction, InterviewSession, Rating, SessionState, SurveyResponse, Turn
from chains.bank import load_bank
from chains.providers import AllProvidersFailed, GradeRequest, QuestionRequest, Result
from chains.providers.offline import OfflineProvider
from chains.schemas import Feedback, Question
from tasks.pipeline.dispatch import InProcessSink
from tests.celery_support import free_port

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
    get_settings().ensure_data_dir()  # resolving the URL creates nothing; writers make the directory
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


def test_unknown_role_suggests_the_closest_lists_the_roles_and_exits_2() -> None:
    result = mockingbird("practice", "--role", "back", "--answers", "/dev/null")
    assert result.returncode == 2
    assert "Did you mean backend" in result.stderr
    assert f"Roles: {', '.join(sorted(load_bank().roles))}." in " ".join(result.stderr.split())


def test_a_typo_in_the_role_still_starts_that_interview(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("skip\n")
    result = mockingbird("practice", "--role", "prodcut manager", "--questions", "1", "--answers", str(answers),
                         "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["session"]["role"] == "product-management"


def test_too_many_questions_is_refused_without_promising_a_resume(tmp_path: Path) -> None:
    answers = tmp_path / "answers.txt"
    answers.write_text("an answer\n")
    result = mockingbird("practice", "--questions", "50", "--answers", str(answers))
    assert result.returncode == 2
    assert "Choose between 1 and" in result.stderr and "--resume" not in result.stderr


def test_more_questions_than_the_bank_holds_is_refused_with_the_largest_count(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_QUESTIONS", "30")
    available = len(load_bank().select("backend", "behavioral", "mid"))
    assert available < 30
    answers = tmp_path / "answers.txt"
    answers.write_text("skip\n" * available)
    refused = mockingbird("practice", "--role", "backend", "--questions", "30", "--answers", str(answers))
    assert refused.returncode == 2
    assert f"Choose between 1 and {available} questions (got 30)" in refused.stderr
    assert "--resume" not in refused.stderr
    with _db().session() as session:
        assert session.scalars(select(InterviewSession)).all() == []  # nothing was started
    largest = mockingbird("practice", "--role", "backend", "--questions", str(available), "--answers",
                          str(answers), "--json")  # every question the bank has is served, the last one too
    assert largest.returncode == 0, largest.stderr
    assert json.loads(largest.stdout)["report"]["skipped"] == available


def test_provider_fallback_warnings_go_to_the_log_file_not_into_the_panels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LLM_PROVIDER", "tgi")
    monkeypatch.setenv("TGI_URL", f"http://127.0.0.1:{free_port()}")  # nothing listens: every call falls back
    monkeypatch.setenv("LLM_MAX_RETRIES", "0")
    result = mockingbird("practice", "--role", "backend", "--questions", "1", "--user", "cara",
                         stdin=f"{STRONG}\n\n\n")
    assert result.returncode == 0, result.stderr
    assert "Feedback" in result.stdout and "Session report" in result.stdout
    for shown in (result.stdout, result.stderr):
        assert "WARNING" not in shown and "provider tgi failed" not in shown
    log = get_settings().data_dir / "logs" / "practice.log"
    assert "provider tgi failed on grade the answer" in log.read_text()
    assert result.stderr.strip().splitlines()[-1] == f"mockingbird: 3 warnings during the session, in {log}"


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


class Keyboard:
    """Lines typed at a terminal; None is Ctrl-D, after which a terminal (unlike a pipe) reads on."""

    def __init__(self, *keys: str | None) -> None:
        self.keys = list(keys)

    def readline(self) -> str:
        key = self.keys.pop(0) if self.keys else None
        return "" if key is None else key + "\n"


def _started(provider: Any, name: str, questions: int) -> tuple[InterviewEngine, Actor, Started]:
    """A fresh database, an engine over ``provider`` and ``name``'s interview, started."""
    db = _db()
    db.upgrade()
    engine = InterviewEngine(db, provider, get_settings(), signals=InProcessSink(db))
    person = Actor("console", name, display_name=name)
    return engine, person, engine.start(person, role="backend", kind="behavioral", level="mid", questions=questions)


def _practice_at_the_keyboard(*keys: str | None) -> tuple[Practice, str, int]:
    engine, cara, started = _started(OfflineProvider(), "cara", questions=2)
    screen = io.StringIO()
    practice = Practice(engine, cara, LineSource(Keyboard(*keys), interactive=True),  # type: ignore[arg-type]
                        Console(file=screen, width=200))
    practice.run(Progress(session=started.session, next_question=started.question))
    return practice, screen.getvalue(), started.session.id


def test_ctrl_d_after_part_of_an_answer_asks_and_no_keeps_the_question_open() -> None:
    practice, shown, session_id = _practice_at_the_keyboard(
        "I started to", None, "n",  # Ctrl-D mid-answer, then "no": nothing graded, same question
        STRONG, "", "",  # the full answer, then Enter skips the rating
        "half a thought", None, None,  # Ctrl-D mid-answer, Ctrl-D again: end here, ungraded
    )
    assert shown.count("Grade this partial answer? [y/N]") == 2
    assert "Not graded. Type your answer again" in shown
    assert [t["answer"] for t in practice.transcript.turns] == [STRONG]
    assert "How useful was this practice" not in shown  # the input is gone: no survey to ask
    with _db().session() as session:
        stored = session.get(InterviewSession, session_id)
        assert stored is not None and stored.state == SessionState.ended
        answers = session.scalars(select(Turn.answer).where(Turn.session_id == session_id)).all()
        assert sorted(a for a in answers if a) == [STRONG]  # neither fragment was stored


def test_an_empty_answer_at_the_keyboard_shows_the_hint_each_time() -> None:
    _, shown, _ = _practice_at_the_keyboard("", "   ", "end")
    assert shown.count("Your answer is empty. Type your answer and finish it with an empty line") == 2


class Terminal:
    """``mockingbird`` on a pseudo-terminal: what it prints, waited for, never slept on."""

    def __init__(self, *args: str) -> None:
        self.master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))  # no wrapping mid-word
        self.process = subprocess.Popen([sys.executable, "-m", "bot", *args], stdin=slave, stdout=slave,
                                        stderr=slave, env=os.environ.copy(), close_fds=True)
        os.close(slave)
        self.output = ""

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait_for(self, text: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.output.count(text) < count:
            ready, _, _ = os_select.select([self.master], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                raise AssertionError(f"{text!r} never appeared; the screen shows:\n{self.output[-2000:]}")
            self._read()

    def _read(self) -> bool:
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the process closed the terminal
            return False
        self.output += re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", chunk.decode("utf-8", "replace"))
        return bool(chunk)

    def finish(self, timeout: float = 60) -> int:
        code = self.process.wait(timeout=timeout)
        while self._read():
            pass
        os.close(self.master)
        return code


def test_ctrl_d_on_a_real_terminal_grades_a_partial_answer_if_asked_and_ends_without_the_survey() -> None:
    terminal = Terminal("practice", "--role", "backend", "--questions", "2", "--user", "cara")
    terminal.wait_for("Your answer:")
    terminal.type("\n")  # an empty answer: the hint, not a silent new prompt
    terminal.wait_for("Your answer is empty")
    terminal.type(f"{STRONG}\n\x04")  # Ctrl-D before the empty line that would finish the answer
    terminal.wait_for("Grade this partial answer?")
    terminal.type("y\n")
    terminal.wait_for("Was this feedback helpful?")
    terminal.type("\n")
    terminal.wait_for("Your answer:", count=3)  # the second question's prompt
    terminal.type("\x04")  # Ctrl-D at an empty prompt: the interview ends here
    assert terminal.finish() == 0, terminal.output
    assert "No more input: ending the interview here" in terminal.output and "Session report" in terminal.output
    assert "How useful was this practice" not in terminal.output
    with _db().session() as session:
        stored = session.scalars(select(InterviewSession)).one()
        assert stored.state == SessionState.ended
        graded = session.scalars(select(Turn).where(Turn.feedback.is_not(None))).all()
        assert [turn.answer for turn in graded] == [STRONG]


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
                         "--answer", "First I look at pg_stat_statements to find the queries with the highest "
                         "total time. Then I run EXPLAIN ANALYZE on the worst one: here a sequential scan on a 40 "
                         "million row table. I added a composite index matching the WHERE clause, checked the plan "
                         "used it, and watched p95 drop from 900 ms to 40 ms, keeping an eye on write latency "
                         "because every index slows inserts.",
                         "--kind", "technical", "--json")
    assert result.returncode == 0, result.stderr
    feedback = Feedback.model_validate_json(result.stdout)
    assert feedback.score >= 4
    empty = mockingbird("grade", "--question", "Why?", "--answer", "   ")
    assert empty.returncode == 2 and "empty" in empty.stderr


HOSTILE = "[bold red]x[/] [link=https://evil.example]x[/link]"
ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")


class Hostile(OfflineProvider):
    """A model that writes Rich markup in its question and in every field of its feedback."""

    def question(self, request: QuestionRequest) -> Result[Question]:
        result = super().question(request)
        question = result.value.model_copy(update={"text": f"Tell me about {HOSTILE}.", "domain": "[red]topic[/]"})
        return Result(question, result.call)

    def grade(self, request: GradeRequest) -> Result[Feedback]:
        result = super().grade(request)
        feedback = result.value.model_copy(update={
            "strengths": [HOSTILE], "weaknesses": [HOSTILE], "suggestions": [HOSTILE], "outline": [HOSTILE],
            "criteria": {"[blink]clarity[/]": 7}, "summary": HOSTILE,
        })
        return Result(feedback, result.call)


def test_markup_in_model_and_user_text_prints_literally() -> None:
    engine, rita, started = _started(Hostile(), "rita", questions=1)
    screen = io.StringIO()
    # a real terminal's console: styles and OSC 8 hyperlinks would be written if markup were read
    console = Console(file=screen, width=400, force_terminal=True, color_system="truecolor")
    answer = STRONG + " [link=https://evil.example]my site[/link]"
    practice = Practice(engine, rita, LineSource(Keyboard(answer, "", "n"), interactive=True),  # type: ignore[arg-type]
                        console)
    practice.run(Progress(session=started.session, next_question=started.question))
    raw = screen.getvalue()
    assert "\x1b]8;" not in raw and "evil.example\x1b" not in raw  # no hyperlink was made
    assert "\x1b[5m" not in raw  # no blink from the criterion's name
    shown = ANSI.sub("", raw)
    # question, strengths, weaknesses, suggestions, outline, summary, and the report's recurring themes
    assert shown.count("[bold red]x[/]") >= 6, shown
    assert shown.count("[link=https://evil.example]x[/link]") >= 6, shown
    assert "[red]topic[/]" in shown and "[blink]clarity[/]" in shown


def test_every_renderer_escapes_through_one_helper() -> None:
    from bot.console.render import literal

    assert literal("[bold red]x[/]") == "\\[bold red]x\\[/]"
    screen = io.StringIO()
    Console(file=screen, width=200).print(f"[dim]{literal(HOSTILE)}[/]")
    assert screen.getvalue().strip() == HOSTILE
