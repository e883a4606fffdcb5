"""The terminal practice loop: a thin adapter over the engine, like the chat adapters.

Input comes from a ``LineSource``: the keyboard (multi-line answers end with an empty
line), piped stdin (one answer per line), or an answers file (one answer per line, no
questions asked back). Everything is stored as it happens, so Ctrl-C loses nothing and
``--resume`` continues where the candidate stopped. At the keyboard, Ctrl-D (end of input)
at an empty prompt ends the interview; after part of an answer it first asks whether to
grade that part, since the candidate may have pressed it by mistake.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from rich.console import Console

from bot.console.render import feedback_panel, literal, question_panel, report_panel
from bot.engine import (
    Actor,
    BadInput,
    ConcurrentUpdate,
    EngineError,
    InterviewEngine,
    Progress,
    ProviderUnavailable,
    SessionView,
    TurnView,
    UserRole,
)
from bot.engine.corrections import LISTS, BadCorrection, corrected_feedback
from bot.engine.text import thread_command
from chains.schemas import SessionReport

COMMANDS_HELP = ("'skip' skips a question, 'again' answers the last graded question once more, 'end' finishes "
                 "early, 'retry' retries what failed, 'help' shows this.")
EMPTY_HINT = ("Your answer is empty. Type your answer and finish it with an empty line; "
              "or type 'skip', 'end' or 'help'. Ctrl-D ends the interview.")


class PartialAnswer(str):
    """An answer cut off by end of input (Ctrl-D) before the empty line that finishes it.

    A ``str`` so every source keeps returning text; the type alone tells ``Practice`` to ask
    before grading a fragment.
    """


class LineSource:
    """Reads answers and prompts. ``interactive`` means a person is typing at a terminal."""

    def __init__(self, stream: TextIO, interactive: bool) -> None:
        self.stream = stream
        self.interactive = interactive

    def line(self) -> str | None:
        raw = self.stream.readline()
        return None if raw == "" else raw.rstrip("\n")

    def answer(self) -> str | None:
        """One answer: until an empty line when interactive, else one line. None at end of input.

        Interactively, an empty line before any text is returned as ``""`` (the caller shows a
        hint instead of waiting silently), and end of input after some text as a ``PartialAnswer``.
        """
        if not self.interactive:
            return self.line()
        lines: list[str] = []
        while True:
            line = self.line()
            if line is None:
                return PartialAnswer("\n".join(lines)) if lines else None
            if not line.strip():
                return "\n".join(lines)
            if not lines and thread_command(line) is not None:
                return line
            lines.append(line)


class AnswersFile:
    """``--answers FILE``: one answer per line; invalid UTF-8 is replaced, never fatal."""

    interactive = False

    def __init__(self, data: bytes) -> None:
        self._lines: Iterator[str] = iter(data.decode("utf-8", errors="replace").splitlines())

    def answer(self) -> str | None:
        return next(self._lines, None)

    def line(self) -> str | None:
        return None


@dataclass
class Transcript:
    session: dict[str, Any] = field(default_factory=dict)
    turns: list[dict[str, Any]] = field(default_factory=list)
    report: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        return {"session": self.session, "turns": self.turns, "report": self.report}


class Practice:
    def __init__(self, engine: InterviewEngine, actor: Actor, source: LineSource | AnswersFile,
                 console: Console, *, ask_ratings: bool = True) -> None:
        self.engine = engine
        self.actor = actor
        self.source = source
        self.console = console
        self.ask_ratings = ask_ratings and not isinstance(source, AnswersFile)
        self.transcript = Transcript()
        self.input_ended = False  # end of input (Ctrl-D) ended the interview: nobody to ask the survey

    # ── entry points ────────────────────────────────────────────────────────────────
    def run(self, progress: Progress) -> SessionReport | None:
        session = progress.session
        self.transcript.session = {"id": session.id, "role": session.role, "kind": session.kind,
                                   "level": session.level, "planned_questions": session.planned_questions}
        self.console.print(f"[bold]Mock interview[/]: {literal(session.role)}, {literal(session.kind)}, "
                           f"{literal(session.level)}. Type your answer; {COMMANDS_HELP}"
                           + (" Finish each answer with an empty line." if self.source.interactive else ""))
        self._show_regraded(progress)
        while not progress.finished:
            turn = progress.next_question
            if turn is None:
                progress = self._show_regraded(self.engine.resume(session.id))
                continue
            progress = self._ask(progress.session, turn)  # the latest view: it numbers the questions
        assert progress.report is not None
        self._finish(session, progress.report)
        return progress.report

    # ── one question ────────────────────────────────────────────────────────────────
    def _ask(self, session: SessionView, turn: TurnView) -> Progress:
        self.console.print(question_panel(turn, session))
        while True:
            self.console.print("[dim]Your answer:[/]")
            text = self.source.answer()
            if text is not None and self.source.interactive and not text.strip():
                self.console.print(f"[yellow]{literal(EMPTY_HINT)}[/]")
                continue
            if isinstance(text, PartialAnswer):
                self.console.print(f"[yellow]End of input in the middle of an answer.[/] "
                                   f"Grade this partial answer? {literal('[y/N]')}")
                reply = self.source.line()
                if reply is None:
                    text = None  # Ctrl-D again: end here, the fragment ungraded
                elif reply.strip().lower() not in {"y", "yes"}:
                    self.console.print("Not graded. Type your answer again (Ctrl-D ends the interview).")
                    continue
            if text is None:
                self.input_ended = True
                self.console.print("[yellow]No more input: ending the interview here.[/]")
                return self.engine.end(session.id, self.actor)
            command = thread_command(text)
            if command == "help":
                self.console.print(COMMANDS_HELP)
                continue
            if command == "end":
                return self.engine.end(session.id, self.actor)
            if command == "again":
                try:
                    return self.engine.again(session.id, self.actor)
                except BadInput as exc:
                    self.console.print(f"[yellow]{literal(exc)}[/]")
                    continue
            if command == "skip":
                self.transcript.turns.append({"question": turn.question, "answer": None, "skipped": True,
                                              "feedback": None})
                return self.engine.skip(session.id, self.actor)
            try:
                with self.console.status("Grading your answer…"):
                    if command == "retry":  # regrades an answer a failure left ungraded, else asks again
                        progress = self.engine.retry(session.id, self.actor)
                    else:
                        progress = self.engine.answer(session.id, self.actor, text)
            except BadInput as exc:
                self.console.print(f"[yellow]{literal(exc)}[/]")
                if isinstance(self.source, AnswersFile):
                    self.console.print("[yellow]Skipping this question.[/]")
                    return self.engine.skip(session.id, self.actor)
                continue
            except (ProviderUnavailable, ConcurrentUpdate) as exc:  # the answer is kept: 'retry' grades it
                if isinstance(self.source, AnswersFile):  # nobody to type 'retry': --resume does it
                    raise
                self.console.print(f"[yellow]{literal(exc)}[/]")
                continue
            graded = progress.graded
            if graded is not None and graded.feedback is not None:
                self._show_feedback(graded)
            return progress

    def _show_regraded(self, progress: Progress) -> Progress:
        """Feedback a resumed session produced for an answer an earlier run stored but never graded."""
        if progress.graded is not None and progress.graded.feedback is not None:
            self._show_feedback(progress.graded)
        return progress

    def _show_feedback(self, graded: TurnView) -> None:
        assert graded.feedback is not None
        if graded.answer_truncated:
            self.console.print(f"[yellow]Your answer was longer than {self.engine.settings.max_answer_chars} "
                               "characters; only the first part was graded.[/]")
        self.console.print(feedback_panel(graded.feedback, graded.provider))
        self.transcript.turns.append({
            "question": graded.question, "domain": graded.domain, "answer": graded.answer,
            "answer_truncated": graded.answer_truncated, "skipped": False,
            "feedback": graded.feedback.model_dump(), "provider": graded.provider,
        })
        if self.ask_ratings:
            self._rate(graded)
            if UserRole.recruiter in self.engine.roles(self.actor):
                self._correct(graded)

    def _rate(self, graded: TurnView) -> None:
        self.console.print("Was this feedback helpful? [bold]y[/] 👍 / [bold]n[/] 👎 / Enter to skip")
        choice = (self.source.line() or "").strip().lower()
        value = {"y": 1, "yes": 1, "+": 1, "👍": 1, "n": -1, "no": -1, "-": -1, "👎": -1}.get(choice)
        if value is None:
            return
        self.engine.rate(graded.id, self.actor, value)
        self.transcript.turns[-1]["rating"] = value
        self.console.print("Thanks, rating saved." if value > 0 else "Thanks; that helps us improve.")

    def _correct(self, graded: TurnView) -> None:
        assert graded.feedback is not None
        self.console.print("Correct this feedback as a recruiter? [bold]y[/]/N")
        if (self.source.line() or "").strip().lower() not in {"y", "yes"}:
            return
        current = graded.feedback
        self.console.print("Press Enter to keep a value. Lists are separated by ';'.")
        while True:  # typed text goes to the same validation as Slack's and Discord's forms
            typed = {
                "score": self._prompt_text("Score 1-10", str(current.score)),
                **{name: self._prompt_text(name.capitalize(), "; ".join(getattr(current, name))) for name in LISTS},
                "summary": self._prompt_text("Summary", current.summary),
            }
            try:
                corrected = corrected_feedback(
                    **{name: value.replace(";", "\n") if name in LISTS else value for name, value in typed.items()},
                    criteria=current.criteria,
                )
                break
            except BadCorrection as exc:  # e.g. too many items: say which, and ask again
                self.console.print(f"[yellow]{literal(exc)}[/] Enter it again (Enter keeps the model's value).")
        self.engine.correct(graded.id, self.actor, corrected)
        self.transcript.turns[-1]["correction"] = corrected.model_dump()
        self.console.print("Correction saved.")

    def _prompt_text(self, label: str, current: str) -> str:
        self.console.print(f"{literal(label)} {literal(f'[{current}]')}")
        return (self.source.line() or "").strip() or current

    # ── the end ─────────────────────────────────────────────────────────────────────
    def _finish(self, session: SessionView, report: SessionReport) -> None:
        self.console.print(report_panel(report))
        self.transcript.report = report.model_dump()
        if not self.ask_ratings or self.input_ended:
            return
        self.console.print("How useful was this practice? 1-5 (Enter to skip)")
        raw = (self.source.line() or "").strip()
        if raw.isdecimal() and 1 <= int(raw) <= 5:
            self.console.print("Any comment? (Enter to skip)")
            comment = (self.source.line() or "").strip() or None
            self.engine.survey(session.id, self.actor, int(raw), comment)
            self.console.print("Thank you!")


def stdin_source() -> LineSource:
    """Stdin that never dies on invalid UTF-8 (replaced with U+FFFD)."""
    if hasattr(sys.stdin, "reconfigure"):
        sys.stdin.reconfigure(errors="replace")
    return LineSource(sys.stdin, interactive=sys.stdin.isatty())


__all__ = ["AnswersFile", "EngineError", "LineSource", "PartialAnswer", "Practice", "Transcript", "stdin_source"]
