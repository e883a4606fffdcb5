"""End-of-session report: the engine's computed report in, the same report with the model's themes out.

Scores, counts and per-turn rows stay the engine's (they are facts); the model writes the
recurring strengths, weaknesses, next steps and the summary.
"""

from __future__ import annotations

from chains.llm.safety import escape
from chains.llm.task import Task, task
from chains.llm.wire import ReportOut
from chains.schemas import SessionReport

ReportTask = Task[SessionReport, ReportOut, SessionReport]


def _session(report: SessionReport) -> str:
    lines = []
    for turn in report.turns:
        if turn.skipped:
            lines.append(f"{turn.index}. [{turn.domain}] {turn.question} - skipped")
        else:
            lines.append(
                f"{turn.index}. [{turn.domain}] {turn.question} - score {turn.score}/10. {turn.summary}"
            )
    lines.append(
        f"Average score: {report.average_score}. Answered {report.answered}, skipped {report.skipped}."
    )
    return "<session>\n" + escape("\n".join(lines)) + "\n</session>"


def _convert(wire: ReportOut, report: SessionReport) -> SessionReport:
    return report.model_copy(
        update={
            "strengths": wire.strengths[:3] or report.strengths,
            "weaknesses": wire.weaknesses[:3] or report.weaknesses,
            "next_steps": wire.next_steps[:3] or report.next_steps,
            "summary": wire.summary.strip(),
        }
    )


def build() -> ReportTask:
    return task(
        "report",
        wire=ReportOut,
        temperature=0.3,
        render=lambda r: {"role": r.role, "level": r.level, "kind": r.kind, "session": _session(r)},
        convert=_convert,
    )
