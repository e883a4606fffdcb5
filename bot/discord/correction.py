"""The recruiter's correction form: a modal prefilled with the model's feedback.

Lists are edited one item per line. A form that does not validate or cannot be saved is not
stored, and the recruiter gets back what they typed (as a file, whatever its length), so nothing
is lost.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import discord
from discord import ui

from bot.discord import render
from bot.discord.actors import actor_of
from bot.discord.replies import engine_of, offload, private
from bot.engine import EngineError, corrected_feedback
from chains.schemas import Feedback

log = logging.getLogger(__name__)


def _text_input(
    default: str, *, paragraph: bool, max_length: int, required: bool = False
) -> ui.TextInput[Any]:
    return ui.TextInput(
        style=discord.TextStyle.paragraph if paragraph else discord.TextStyle.short,
        default=render.clip(default, max_length),
        max_length=max_length,
        required=required,
    )


class CorrectionModal(ui.Modal, title="Correct this feedback"):
    """Score, strengths, weaknesses, suggestions and summary: Discord allows five inputs per form."""

    def __init__(self, turn_id: int, feedback: Feedback, *, opened_by: int) -> None:
        # The id of the opening interaction makes the custom_id unique, so two recruiters
        # correcting the same answer at once each get their own form back.
        super().__init__(timeout=1800, custom_id=f"mb:correction:{turn_id}:{opened_by}")
        self.turn_id, self.original = turn_id, feedback
        self.score = _text_input(str(feedback.score), paragraph=False, max_length=5, required=True)
        self.strengths = _text_input("\n".join(feedback.strengths), paragraph=True, max_length=2000)
        self.weaknesses = _text_input("\n".join(feedback.weaknesses), paragraph=True, max_length=2000)
        self.suggestions = _text_input("\n".join(feedback.suggestions), paragraph=True, max_length=2000)
        self.summary = _text_input(feedback.summary, paragraph=True, max_length=2000, required=True)
        self.add_item(ui.Label(text="Score (1-10)", component=self.score))
        self.add_item(ui.Label(text="Strengths", description="One per line.", component=self.strengths))
        self.add_item(ui.Label(text="Weaknesses", description="One per line.", component=self.weaknesses))
        self.add_item(ui.Label(text="Suggestions", description="One per line.", component=self.suggestions))
        self.add_item(ui.Label(text="Summary", component=self.summary))

    def entered(self) -> str:
        """What the recruiter typed, to hand back when it cannot be saved."""
        return (
            f"Score: {self.score.value}\n\nStrengths:\n{self.strengths.value}\n\nWeaknesses:\n"
            f"{self.weaknesses.value}\n\nSuggestions:\n{self.suggestions.value}\n\nSummary:\n{self.summary.value}\n"
        )

    async def hand_back(self, interaction: discord.Interaction[Any], text: str) -> None:
        """``text``, privately, with what the recruiter typed attached."""
        entered = discord.File(io.BytesIO(self.entered().encode()), filename="your-correction.txt")
        await private(interaction, text, file=entered)

    async def on_submit(self, interaction: discord.Interaction[Any]) -> None:
        try:
            feedback = corrected_feedback(
                score=self.score.value,
                strengths=self.strengths.value,
                weaknesses=self.weaknesses.value,
                suggestions=self.suggestions.value,
                summary=self.summary.value,
                criteria=self.original.criteria,
            )
            await interaction.response.defer(ephemeral=True, thinking=True)
            actor = actor_of(interaction.user)
            await offload(engine_of(interaction).correct, self.turn_id, actor, feedback)
        except EngineError as exc:  # the form does not validate, not a recruiter, the answer was deleted…
            await self.hand_back(
                interaction,
                f"{render.md(str(exc))} Nothing was saved; your text is attached so you can paste it back "
                "after pressing Correct again.",
            )
            return
        await private(interaction, "Correction saved. Thank you!")
        await self._show_in_thread(interaction, feedback, actor.display_name or "a recruiter")

    @staticmethod
    async def _show_in_thread(interaction: discord.Interaction[Any], feedback: Feedback, by: str) -> None:
        """Post the corrected feedback under the original, so the candidate sees it too."""
        channel = interaction.channel
        if not isinstance(channel, discord.abc.Messageable):
            return
        embed = render.feedback_embed(feedback, title="Corrected feedback", footer=f"Corrected by {by}")
        try:
            await channel.send(
                embed=embed,
                reference=interaction.message,
                mention_author=False,
                allowed_mentions=discord.AllowedMentions.none(),
            )
        except discord.HTTPException as exc:  # stored already; showing it is a courtesy
            log.warning("could not post the corrected feedback in %s: %s", channel, exc)

    async def on_error(self, interaction: discord.Interaction[Any], error: Exception, /) -> None:
        log.exception("correction form failed", exc_info=error)
        self.stop()  # submitted forms close; discord.py stops it only after a successful on_submit
        await self.hand_back(
            interaction, "Sorry, something went wrong saving your correction. Your text is attached; please try again."
        )
