"""Persistent buttons: 👍 / 👎, "Try again" and "Correct" under feedback, 1-5 usefulness under the report.

Each button is a ``DynamicItem`` whose ``custom_id`` carries everything it needs (the turn or
session id), and the classes are registered at start-up (``Client.add_dynamic_items``), so a
button posted before a restart, or by another replica, still works. Nothing is kept in memory.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Self

import discord
from discord import ui

from bot.discord.actors import actor_of
from bot.discord.correction import CorrectionModal
from bot.discord.replies import engine_of, offload, private, refusals_told
from bot.engine import UserRole

log = logging.getLogger(__name__)


class _Ids:
    """``from_custom_id`` for a button whose custom_id carries its constructor's arguments, all ids,
    as the template's groups in order (discord.py calls it to rebuild a button after a restart)."""

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Button[Any], match: re.Match[str], /
    ) -> Self:
        return cls(*(int(group) for group in match.groups()))


class RateButton(ui.DynamicItem[ui.Button[Any]], template=r"mb:rate:(?P<turn>[0-9]+):(?P<value>up|down)"):
    """👍 (+1) or 👎 (-1) on one feedback message; anyone may rate, once per person (updates replace)."""

    def __init__(self, turn_id: int, value: int) -> None:
        self.turn_id, self.value = turn_id, value
        up = value > 0
        super().__init__(
            ui.Button(
                style=discord.ButtonStyle.success if up else discord.ButtonStyle.secondary,
                emoji="👍" if up else "👎",
                label="Helpful" if up else "Not helpful",
                custom_id=f"mb:rate:{turn_id}:{'up' if up else 'down'}",
            )
        )

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction[Any], item: ui.Button[Any], match: re.Match[str], /
    ) -> RateButton:
        return cls(int(match["turn"]), 1 if match["value"] == "up" else -1)

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with refusals_told(interaction):
            await offload(engine_of(interaction).rate, self.turn_id, actor_of(interaction.user), self.value)
            await private(
                interaction,
                "Thanks! Your 👍 is saved."
                if self.value > 0
                else "Thanks; your 👎 is saved and helps us improve the feedback.",
            )


class CorrectButton(_Ids, ui.DynamicItem[ui.Button[Any]], template=r"mb:correct:(?P<turn>[0-9]+)"):
    """Opens the correction form, prefilled with the feedback, for configured recruiters only."""

    def __init__(self, turn_id: int) -> None:
        self.turn_id = turn_id
        custom_id = f"mb:correct:{turn_id}"
        super().__init__(ui.Button(style=discord.ButtonStyle.primary, emoji="✏️", label="Correct", custom_id=custom_id))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        # A modal must be the first response, so no deferral here: two quick database reads only.
        engine = engine_of(interaction)
        async with refusals_told(interaction):
            await offload(engine.require, actor_of(interaction.user), UserRole.recruiter, "correct feedback")
            turn, _session = await offload(engine.feedback_of, self.turn_id)
            assert turn.feedback is not None
            await interaction.response.send_modal(
                CorrectionModal(self.turn_id, turn.feedback, opened_by=interaction.id)
            )


class SurveyButton(
    _Ids, ui.DynamicItem[ui.Button[Any]], template=r"mb:survey:(?P<session>[0-9]+):(?P<value>[1-5])"
):
    """ "How useful was this practice?" 1-5, for the candidate; a second answer replaces the first."""

    def __init__(self, session_id: int, value: int) -> None:
        self.session_id, self.value = session_id, value
        custom_id = f"mb:survey:{session_id}:{value}"
        super().__init__(ui.Button(style=discord.ButtonStyle.secondary, label=str(value), custom_id=custom_id))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        async with refusals_told(interaction):
            await offload(engine_of(interaction).survey, self.session_id, actor_of(interaction.user), self.value)
            await private(interaction, f"Thank you! You rated this practice {self.value}/5.")


class TryAgainButton(
    _Ids, ui.DynamicItem[ui.Button[Any]], template=r"mb:again:(?P<session>[0-9]+):(?P<turn>[0-9]+)"
):
    """The candidate answers this feedback's question once more (only the latest feedback's)."""

    def __init__(self, session_id: int, turn_id: int) -> None:
        self.session_id, self.turn_id = session_id, turn_id
        again = f"mb:again:{session_id}:{turn_id}"
        super().__init__(ui.Button(style=discord.ButtonStyle.secondary, emoji="🔁", label="Try again", custom_id=again))

    async def callback(self, interaction: discord.Interaction[Any]) -> None:
        from bot.discord.conversation import post_question  # it imports this module for the views

        await interaction.response.defer(ephemeral=True, thinking=True)
        async with refusals_told(interaction):
            progress = await offload(
                engine_of(interaction).again, self.session_id, actor_of(interaction.user), self.turn_id
            )
            if interaction.channel is not None and progress.next_question is not None:
                await post_question(interaction.channel, progress.session, progress)  # type: ignore[arg-type]
            await private(interaction, "Here is the question again: answer it in the thread.")


DYNAMIC_ITEMS: tuple[type[ui.DynamicItem[Any]], ...] = (RateButton, CorrectButton, SurveyButton, TryAgainButton)


def feedback_view(turn_id: int, session_id: int | None = None) -> ui.View:
    """👍 / 👎, "Try again" (when the session is known) and "Correct"."""
    view = ui.View(timeout=None)
    view.add_item(RateButton(turn_id, 1))
    view.add_item(RateButton(turn_id, -1))
    if session_id is not None:
        view.add_item(TryAgainButton(session_id, turn_id))
    view.add_item(CorrectButton(turn_id))
    return view


def survey_view(session_id: int) -> ui.View:
    view = ui.View(timeout=None)
    for value in range(1, 6):
        view.add_item(SurveyButton(session_id, value))
    return view
