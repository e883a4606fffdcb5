"""Rich renderings of questions, feedback and reports."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.engine.views import SessionView, TurnView
from chains.schemas import Feedback, SessionReport


def question_panel(turn: TurnView, session: SessionView) -> Panel:
    subtitle = f"{turn.domain}" if turn.domain else None
    return Panel(Text(turn.question), title=session.question_label(turn), subtitle=subtitle,
                 border_style="cyan")


def _bullets(title: str, items: list[str], style: str) -> Text:
    text = Text(f"{title}\n", style=f"bold {style}")
    for item in items:
        text.append(f"  • {item}\n")
    return text


def feedback_panel(feedback: Feedback, provider: str | None = None) -> Panel:
    parts: list[object] = [Text(f"Score: {feedback.score}/10", style="bold")]
    if feedback.strengths:
        parts.append(_bullets("Strengths", feedback.strengths, "green"))
    if feedback.weaknesses:
        parts.append(_bullets("Weaknesses", feedback.weaknesses, "red"))
    if feedback.suggestions:
        parts.append(_bullets("Suggestions", feedback.suggestions, "yellow"))
    if feedback.criteria:
        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("criterion")
        table.add_column("score", justify="right")
        for name, value in feedback.criteria.items():
            table.add_row(name, f"{value}/10")
        parts.append(table)
    parts.append(Text(feedback.summary, style="italic"))
    return Panel(Group(*parts), title="Feedback", subtitle=provider, border_style="magenta")  # type: ignore[arg-type]


def report_panel(report: SessionReport) -> Panel:
    table = Table(show_header=True, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("topic")
    table.add_column("score", justify="right")
    for turn in report.turns:
        table.add_row(str(turn.index), turn.domain, "skipped" if turn.skipped else
                      (f"{turn.score}/10" if turn.score is not None else "-"))
    parts: list[object] = [Text(report.summary), table]
    if report.strengths:
        parts.append(_bullets("Recurring strengths", report.strengths, "green"))
    if report.weaknesses:
        parts.append(_bullets("Recurring weaknesses", report.weaknesses, "red"))
    if report.next_steps:
        parts.append(_bullets("Next steps", report.next_steps, "yellow"))
    title = f"Session report: {report.role}, {report.kind}, {report.level}"
    return Panel(Group(*parts), title=title, border_style="green")  # type: ignore[arg-type]
