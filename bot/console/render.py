"""Rich renderings of questions, feedback and reports.

Model and user text (questions, answers, feedback, reports, roles, topics) is printed
literally: a model that writes ``[bold red]x[/]`` or ``[link=https://evil.example]x[/link]``
gets those characters on the screen, never a style or a clickable link. Text objects never
read markup; every string that goes where Rich reads markup (panel titles, table cells,
``console.print`` lines) passes through :func:`literal` first.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.engine.report import practice_lines, scores_shown
from bot.engine.sections import feedback_sections, report_sections
from bot.engine.views import SessionView, TurnView
from chains.bank import Bank
from chains.schemas import Feedback, SessionReport


def literal(value: object) -> str:
    """``value`` as text for a place where Rich reads markup, printed exactly as written."""
    return escape(str(value))


def question_panel(turn: TurnView, session: SessionView) -> Panel:
    subtitle = literal(" · ".join(part for part in (turn.domain, turn.level) if part)) or None
    return Panel(Text(turn.question), title=literal(session.question_label(turn)), subtitle=subtitle,
                 border_style="cyan")


_STYLE = {"strengths": "green", "weaknesses": "red", "suggestions": "yellow", "outline": "cyan",
          "next_steps": "yellow"}


def _bullets(title: str, items: list[str], style: str) -> Text:
    text = Text(f"{title}\n", style=f"bold {style}")
    for item in items:
        text.append(f"  • {item}\n")
    return text


def feedback_panel(feedback: Feedback, provider: str | None = None) -> Panel:
    parts: list[object] = [Text(f"Score: {feedback.score}/10", style="bold")]
    parts.extend(_bullets(title, items, _STYLE[key]) for key, title, items in feedback_sections(feedback))
    if feedback.criteria:
        table = Table(show_header=True, header_style="bold", box=None)
        table.add_column("criterion")
        table.add_column("score", justify="right")
        for name, value in feedback.criteria.items():
            table.add_row(literal(name), literal(f"{value}/10"))
        parts.append(table)
    parts.append(Text(feedback.summary, style="italic"))
    return Panel(Group(*parts), title="Feedback", subtitle=literal(provider) if provider else None,
                 border_style="magenta")  # type: ignore[arg-type]


def report_panel(report: SessionReport) -> Panel:
    table = Table(show_header=True, header_style="bold")
    table.add_column("#", justify="right")
    table.add_column("topic")
    table.add_column("score", justify="right")
    for turn in report.turns:
        table.add_row(str(turn.index), literal(turn.domain), scores_shown(turn))
    parts: list[object] = [Text(report.summary), table]
    if report.level_path or report.requirements:
        parts.append(_bullets("Practice", practice_lines(report), "cyan"))
    parts.extend(_bullets(title, items, _STYLE[key]) for key, title, items in report_sections(report))
    title = literal(f"Session report: {report.role}, {report.kind}, {report.level}")
    return Panel(Group(*parts), title=title, border_style="green")  # type: ignore[arg-type]


class NameList:
    """Names separated by commas, wrapped between names and never inside one, so "back end
    developer" stays on one line. A single name wider than the terminal is folded onto the
    next line by Rich: broken, never clipped."""

    def __init__(self, names: list[str], indent: int = 2, style: str = "dim") -> None:
        self.names, self.indent, self.style = names, indent, style

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        width = max(1, options.max_width - self.indent)
        lines: list[str] = []
        line = ""
        for position, name in enumerate(self.names):
            piece = name + ("," if position < len(self.names) - 1 else "")
            joined = f"{line} {piece}" if line else piece
            if line and cell_len(joined) > width:
                lines.append(line)
                joined = piece
            line = joined
        lines.append(line)
        for text in lines:
            yield Text(" " * self.indent + text, style=self.style)


def roles_listing(bank: Bank) -> Group:
    """Every role, its title and every alias that reaches it (``mockingbird bank roles``).

    Lines wrapped between names rather than a table: a table squeezes its columns on a
    narrow terminal and cuts long aliases with "…", the very name a newcomer was looking for.
    """
    parts: list[RenderableType] = []
    for role in sorted(bank.roles):
        spec = bank.roles[role]
        heading = Text(role, style="bold")
        heading.append(f"  {spec.title}")
        parts.append(heading)
        parts.append(NameList([name for name in bank.names(role) if name not in (spec.role, spec.title)]
                              or ["(no aliases)"]))
    parts.append(Text('Case, hyphens, a trailing "engineer" or "developer" and small typos do not matter.'))
    return Group(*parts)
