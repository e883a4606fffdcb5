"""Engine results as Discord embeds. Pure functions: no network, no engine calls.

Discord caps embeds (title 256, description 4096, field value 1024, 25 fields, 6000 in all),
so every piece of model or user text is clipped here rather than rejected by the API.

Model- and user-written text (questions, feedback, reports) goes through ``md`` before it lands
where Discord renders Markdown (descriptions, field values): masked links ``[text](url)`` are
spelled out as ``text (url)`` and Markdown is escaped (``discord.utils.escape_markdown``), so a
model persuaded by an answer cannot show a friendly word that leads to a phishing page, fake a
heading or quote, or hide text. Mentions are inert anyway: embeds never ping, and every message
is sent with ``AllowedMentions.none()`` (or users only, for the bot's own mention of the candidate).
Titles and footers are the bot's own text or plain text that Discord does not render.
"""

from __future__ import annotations

import discord

from bot.engine import SessionView, TurnView
from bot.engine.report import practice_lines, scores_shown
from bot.engine.sections import feedback_sections, report_sections
from bot.engine.text import clip, unmask_links
from chains.schemas import Feedback, SessionReport

TITLE_MAX, DESCRIPTION_MAX, FIELD_MAX, FOOTER_MAX = 256, 4096, 1024, 2048
# Budgets so that the largest feedback or report (every field full) stays under the 6000 total.
SUMMARY_MAX, CRITERIA_MAX, SHORT_FOOTER_MAX, OUTLINE_MAX = 1000, 500, 200, 400
HOW_TO_ANSWER = "Reply in this thread to answer. Type skip to skip a question, end to finish early, help for more."

def md(text: str) -> str:
    """Model- or user-written text made inert in Discord Markdown: links spelled out, markup escaped."""
    return discord.utils.escape_markdown(unmask_links(text))


def bullets(items: list[str], limit: int = FIELD_MAX) -> str:
    return clip("\n".join(f"• {md(item)}" for item in items), limit)


def score_colour(score: int | None) -> discord.Colour:
    if score is None:
        return discord.Colour.light_grey()
    if score >= 7:
        return discord.Colour.green()
    if score >= 4:
        return discord.Colour.gold()
    return discord.Colour.red()


def intro_embed(
    session: SessionView | None,
    candidate: str,
    *,
    role: str = "",
    kind: str = "",
    level: str = "",
    questions: int = 0,
) -> discord.Embed:
    """The parent message the interview thread hangs from: before the session exists (the thread
    is opened first) from ``role``/``kind``/``level``/``questions``, then from the session."""
    if session is not None:
        role, kind, level, questions = session.role, session.kind, session.level, session.planned_questions
    embed = discord.Embed(
        title=clip(f"Mock interview: {role}, {kind}, {level}", TITLE_MAX),
        description=f"{candidate} is practising {questions} question(s). "
        "The interview runs in the thread below.",
        colour=discord.Colour.blurple(),
    )
    embed.set_footer(text=f"Session {session.id}" if session is not None else "Preparing the first question…")
    return embed


def question_embed(turn: TurnView, session: SessionView) -> discord.Embed:
    label = session.question_label(turn)
    embed = discord.Embed(
        title=label, description=clip(md(turn.question), DESCRIPTION_MAX), colour=discord.Colour.blurple()
    )
    footer = f"{unmask_links(turn.domain)} · {HOW_TO_ANSWER}" if turn.domain else HOW_TO_ANSWER
    embed.set_footer(text=clip(footer, FOOTER_MAX))
    return embed


def feedback_embed(feedback: Feedback, *, title: str, footer: str | None = None) -> discord.Embed:
    """Score, strengths, weaknesses, suggestions, per-criterion scores and the summary."""
    embed = discord.Embed(
        title=clip(title, TITLE_MAX),
        description=clip(md(feedback.summary), SUMMARY_MAX),
        colour=score_colour(feedback.score),
    )
    embed.add_field(name="Score", value=f"**{feedback.score}/10**", inline=True)
    if feedback.criteria:
        lines = "\n".join(f"{md(name)}: {value}/10" for name, value in list(feedback.criteria.items())[:10])
        embed.add_field(name="Criteria", value=clip(lines, CRITERIA_MAX), inline=True)
    for key, name, items in feedback_sections(feedback):
        embed.add_field(name=name, value=bullets(items, OUTLINE_MAX if key == "outline" else FIELD_MAX), inline=False)
    if footer:
        embed.set_footer(text=clip(footer, SHORT_FOOTER_MAX))
    return embed


def graded_embed(turn: TurnView, session: SessionView) -> discord.Embed:
    """Feedback on one answer, as posted under the candidate's reply."""
    assert turn.feedback is not None
    label = session.question_label(turn)
    footer = "Was this helpful? Rate it below."
    if turn.provider:
        footer += f" · graded by {turn.provider}"
    return feedback_embed(turn.feedback, title=f"Feedback · {label}", footer=footer)


def report_embed(report: SessionReport) -> discord.Embed:
    embed = discord.Embed(
        title=clip(f"Session report: {report.role}, {report.kind}, {report.level}", TITLE_MAX),
        description=clip(md(report.summary), SUMMARY_MAX),
        colour=score_colour(round(report.average_score) if report.average_score is not None else None),
    )
    rows = [f"{turn.index}. {md(turn.domain)}: {scores_shown(turn)}" for turn in report.turns]
    if rows:
        embed.add_field(name="Scores", value=clip("\n".join(rows), FIELD_MAX), inline=False)
    if practice := practice_lines(report):  # the job ad's requirements are user text
        embed.add_field(name="Practice", value=clip("\n".join(md(line) for line in practice), FIELD_MAX),
                        inline=False)
    for _, name, items in report_sections(report):
        embed.add_field(name=name, value=bullets(items), inline=False)
    embed.set_footer(text=f"Session {report.session_id} · How useful was this practice? Rate it 1-5 below.")
    return embed


def stats_embed(text: str, chart_name: str | None) -> discord.Embed:
    """Team-lead statistics: the summary text and, when attached, the chart."""
    lines = text.splitlines()
    embed = discord.Embed(
        title=clip(lines[0] if lines else "Mockingbird stats", TITLE_MAX),
        description=clip("\n".join(lines[1:]) or "No data yet.", DESCRIPTION_MAX),
        colour=discord.Colour.blurple(),
    )
    if chart_name:
        embed.set_image(url=f"attachment://{chart_name}")
    return embed
