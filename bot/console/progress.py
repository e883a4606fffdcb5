"""``mockingbird progress``: a candidate's progress, and the team view for team leads, in the terminal."""

from __future__ import annotations

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from bot.console.render import literal
from bot.engine.progress import CandidateProgress, TeamWeakness

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(scores: list[float]) -> str:
    """Scores 1-10 as a row of bars, oldest first."""
    return "".join(SPARKS[min(len(SPARKS) - 1, max(0, round((s - 1) / 9 * (len(SPARKS) - 1))))] for s in scores)


def progress_panel(figures: CandidateProgress) -> Panel:
    if not figures.answers:
        return Panel(Text("No graded answers yet. Run `mockingbird practice` and come back."), title="Your progress")
    trend = [p.average for p in figures.timeline]
    parts: list[object] = [Text(
        f"{figures.answers} answers in {figures.sessions} sessions, average {figures.average}/10. "
        f"Trend by session: {sparkline(trend)} ({trend[0]} → {trend[-1]}). "
        f"Streak: {figures.streak_days} day(s) (longest {figures.longest_streak_days}).")]
    roles = Table("role", "answers", "average", header_style="bold")
    for role, values in figures.by_role.items():
        roles.add_row(literal(role), str(int(values["answers"])), f"{values['average']}/10")
    criteria = Table("criterion", "average", "first → latest session", header_style="bold")
    for name, values in figures.criteria.items():
        criteria.add_row(literal(name), f"{values['average']}/10", f"{values['first']} → {values['latest']}")
    weakest = Text("Weakest criteria\n", style="bold red")
    for weak in figures.weakest:
        helped = f" — helped most: {weak.helped_most} (+{weak.gain})" if weak.helped_most else ""
        weakest.append(f"  • {weak.criterion}: {weak.average}/10{helped}\n")
    return Panel(Group(*parts, roles, criteria, weakest), title="Your progress", border_style="green")  # type: ignore[arg-type]


def team_table(rows: list[TeamWeakness]) -> Table:
    table = Table("role", "criterion", "average", "answers", "candidates", title="Team: weakest criteria by role",
                  header_style="bold")
    for row in rows:
        table.add_row(literal(row.role), literal(row.criterion), f"{row.average}/10", str(row.answers),
                      str(row.candidates))
    return table
