"""Slash commands: ``/interview`` opens a thread and runs the interview there; ``/interview-stats``
shows team leads satisfaction over time with a chart; ``/interview-progress`` shows a candidate's
progress with a chart (and team leads, with ``team``, the team's weakest criteria as CSV).

(No ``from __future__ import annotations`` here: discord.py reads the parameter annotations at
definition time, and ``count``'s upper bound comes from settings.)
"""

import io
import logging
from typing import Any

import discord
from discord import app_commands
from discord.app_commands import Choice, Range

from bot.discord import render
from bot.discord.actors import actor_of
from bot.discord.conversation import NO_PINGS, post_question
from bot.discord.replies import offload, private, refusals_told
from bot.engine import EngineError, InterviewEngine, Progress
from bot.store.stats import GROUPINGS
from chains.bank.loader import UnknownRole
from chains.schemas import KINDS, LEVELS

log = logging.getLogger(__name__)

THREAD_ARCHIVE_MINUTES = 1440
PLATFORM = "discord"
NO_THREAD = "I couldn't open a thread here, so the interview was not started."
START_FAILED = "Sorry, something went wrong on my side. Please run /interview again in a minute."
CHART_NAME = "mockingbird-stats.png"
PROGRESS_CHART_NAME, TEAM_CSV_NAME = "mockingbird-progress.png", "mockingbird-team.csv"


class InterviewTree(app_commands.CommandTree[Any]):
    """The command tree; unexpected errors are logged and answered privately, never left hanging."""

    async def on_error(
        self, interaction: discord.Interaction[Any], error: app_commands.AppCommandError, /
    ) -> None:
        log.error("command %s failed", interaction.command and interaction.command.name, exc_info=error)
        try:
            await private(
                interaction, "Sorry, something went wrong. Nothing you sent was lost; please try again."
            )
        except discord.HTTPException:
            pass


def build_tree(client: discord.Client, engine: InterviewEngine) -> InterviewTree:
    """Attach the commands to ``client``; ``count``'s range follows ``MAX_QUESTIONS``."""
    tree = InterviewTree(client)
    settings = engine.settings
    max_questions = settings.max_questions

    async def role_autocomplete(interaction: discord.Interaction[Any], current: str) -> list[Choice[str]]:
        typed = current.strip().lower()
        roles = sorted(engine.bank.roles.values(), key=lambda spec: spec.title)
        matches = [
            spec
            for spec in roles
            if not typed
            or typed in spec.role
            or typed in spec.title.lower()
            or any(typed in alias.lower() for alias in spec.aliases)
        ]
        return [Choice(name=spec.title[:100], value=spec.role) for spec in matches[:25]]

    @tree.command(name="interview", description="Start a mock interview in a new thread.")
    @app_commands.guild_only()
    @app_commands.describe(
        role="The role you are practising for",
        kind="Behavioral or technical questions",
        level="Seniority of the questions",
        count="How many questions",
        adaptive="Let the level follow your answers (default: yes)",
        job_ad="Paste a job ad: the questions practise its requirements",
    )
    @app_commands.autocomplete(role=role_autocomplete)
    @app_commands.choices(
        kind=[Choice(name=k.title(), value=k) for k in KINDS],
        level=[Choice(name=lv.title(), value=lv) for lv in LEVELS],
    )
    async def interview(
        interaction: discord.Interaction[Any],
        role: str,
        kind: str = "behavioral",
        level: str = "mid",
        count: Range[int, 1, max_questions] | None = None,
        adaptive: bool = True,
        job_ad: Range[str, 1, 4000] | None = None,
    ) -> None:
        await start_interview(engine, interaction, role=role, kind=kind, level=level, count=count,
                              adaptive=adaptive, job_ad=job_ad)

    @tree.command(name="interview-progress", description="Your scores over time, weakest criteria and streak.")
    @app_commands.describe(team="Team leads: the weakest criteria across the team by role, as CSV")
    async def interview_progress(interaction: discord.Interaction[Any], team: bool = False) -> None:
        await show_progress(engine, interaction, team=team)

    @tree.command(
        name="interview-stats", description="Satisfaction with the feedback over time (team leads)."
    )
    @app_commands.guild_only()
    @app_commands.describe(days="How many days back (default 30)", by="Break satisfaction down by")
    @app_commands.choices(by=[Choice(name=g.title(), value=g) for g in GROUPINGS])
    async def interview_stats(
        interaction: discord.Interaction[Any], days: Range[int, 1, 365] = 30, by: str = "role"
    ) -> None:
        await show_stats(engine, interaction, days=days, by=by)

    @tree.command(
        name="interview-forget-me", description="Delete everything Mockingbird stored about you."
    )
    async def interview_forget_me(interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        deleted = await offload(engine.forget_me, actor_of(interaction.user))
        await interaction.followup.send(
            "Done: your interviews, answers, ratings and feedback are deleted, and future exports "
            "will not contain them." if deleted else "I had no data stored about you.",
            ephemeral=True,
        )

    return tree


async def start_interview(
    engine: InterviewEngine,
    interaction: discord.Interaction[Any],
    *,
    role: str,
    kind: str,
    level: str,
    count: int | None,
    adaptive: bool = True,
    job_ad: str | None = None,
) -> None:
    """Check what can be checked at once, defer, start the session, open a thread, ask question 1."""
    channel = interaction.channel
    if not isinstance(channel, discord.TextChannel):
        await private(
            interaction, "Please start interviews from a server text channel; I'll open a thread there."
        )
        return
    permissions = interaction.app_permissions
    if not (permissions.create_public_threads and permissions.send_messages_in_threads):
        await private(
            interaction,
            "I need the Create Public Threads and Send Messages in Threads permissions "
            "in this channel to run an interview. Please ask a server admin.",
        )
        return
    try:
        canonical = engine.bank.resolve_role(role)
    except UnknownRole as exc:
        await private(interaction, render.md(str(exc)))
        return

    await interaction.response.defer(thinking=True)  # the first question may come from the model
    actor = actor_of(interaction.user)
    # The thread first, then the session in it: a crash in between leaves an empty thread, never a
    # session that no thread shows (and that would block the candidate's next /interview).
    planned = count if count is not None else engine.settings.default_questions
    parent = await interaction.edit_original_response(
        embed=render.intro_embed(
            None, interaction.user.mention, role=canonical, kind=kind, level=level, questions=planned
        )
    )
    name = render.clip(
        f"Interview: {canonical} ({kind}, {level}) with {interaction.user.display_name}",
        100,
    )
    try:
        thread = await parent.create_thread(name=name, auto_archive_duration=THREAD_ARCHIVE_MINUTES)
    except discord.HTTPException as exc:
        log.warning("could not open a thread for %s's interview: %s", interaction.user.id, exc)
        await interaction.edit_original_response(content=NO_THREAD, embed=None)
        await interaction.followup.send(NO_THREAD + " Please check my thread permissions.", ephemeral=True)
        return
    try:
        started = await offload(
            engine.start,
            actor,
            role=role,
            kind=kind,
            level=level,
            questions=count,
            channel_id=str(channel.id),
            thread_id=str(thread.id),
            adaptive=adaptive,
            job_ad=job_ad,
        )
    except EngineError as exc:
        failed = await offload(engine.in_thread, PLATFORM, None, str(thread.id))
        said = render.md(str(exc))  # it may echo what the person typed
        if failed is None:  # refused before a session existed: the empty thread goes
            await interaction.edit_original_response(content=said, embed=None)
            await _remove(thread)
        else:  # stored, the first question failed (e.g. the model is down): 'retry' in the thread
            await interaction.edit_original_response(content=f"{said} Type `retry` in the thread to try again.")
            await thread.send(f"{said} Type `retry` here to try again.", allowed_mentions=NO_PINGS)
        return
    except Exception:  # e.g. the database went away: the intro must not promise a question
        await interaction.edit_original_response(content=START_FAILED, embed=None)
        await _remove(thread)
        raise
    session = started.session
    try:
        await interaction.edit_original_response(embed=render.intro_embed(session, interaction.user.mention))
    except discord.HTTPException as exc:  # cosmetic (the session id in the footer); the interview goes on
        log.warning("could not update the intro of session %s: %s", session.id, exc)
    await post_question(
        thread,
        session,
        Progress(session=session, next_question=started.question),
        mention=interaction.user.mention,
    )


async def _remove(thread: discord.Thread) -> None:
    """Delete a thread no interview runs in (needs Manage Threads; without it the thread stays, empty)."""
    try:
        await thread.delete()
    except discord.HTTPException as exc:
        log.info("could not delete the unused thread %s: %s", thread.id, exc)


async def show_stats(
    engine: InterviewEngine, interaction: discord.Interaction[Any], *, days: int, by: str
) -> None:
    """Team leads only; the answer is private to whoever asked."""
    from bot.store.stats import render_chart

    await interaction.response.defer(ephemeral=True, thinking=True)
    async with refusals_told(interaction):
        stats = await offload(engine.stats, actor_of(interaction.user), days, by)
        chart = await offload(render_chart, stats)
        await interaction.followup.send(
            embed=render.stats_embed(stats.as_text(), CHART_NAME),
            file=discord.File(io.BytesIO(chart), filename=CHART_NAME),
            ephemeral=True,
        )


async def show_progress(engine: InterviewEngine, interaction: discord.Interaction[Any], *, team: bool) -> None:
    """The person's own progress with a chart; with ``team``, team leads only, the team's weakest
    criteria by role with the CSV attached. Private to whoever asked."""
    from bot.engine.progress import team_csv, team_text
    from bot.engine.progress_chart import render_progress_chart

    await interaction.response.defer(ephemeral=True, thinking=True)
    actor = actor_of(interaction.user)
    if team:
        async with refusals_told(interaction):
            rows = await offload(engine.team_progress, actor)
            await interaction.followup.send(
                embed=render.stats_embed(render.md(team_text(rows)), None),
                file=discord.File(io.BytesIO(team_csv(rows).encode()), filename=TEAM_CSV_NAME),
                ephemeral=True,
            )
        return
    figures = await offload(engine.progress, actor)
    if not figures.answers:
        await private(interaction, render.md(figures.as_text().splitlines()[-1]))
        return
    chart = await offload(render_progress_chart, figures)
    await interaction.followup.send(
        embed=render.stats_embed(render.md(figures.as_text()), PROGRESS_CHART_NAME),
        file=discord.File(io.BytesIO(chart), filename=PROGRESS_CHART_NAME),
        ephemeral=True,
    )
