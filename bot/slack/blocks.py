"""Block Kit renderings of engine results: questions, feedback, corrections, reports, help.

Pure functions from engine views to ``(text, blocks)``; ``text`` is the notification and
screen-reader fallback Slack shows where blocks cannot be rendered. Lengths are capped to
Slack's limits (3,000 characters per section, 75 per button label) so a long model output
can never make a post fail.

Everything a model or a person wrote (questions, feedback, reports, notes, names from the
store) goes through ``esc`` before it meets the bot's own mrkdwn: ``&``, ``<`` and ``>`` become
entities, as Slack's formatting rules ask, so ``<!channel>``, ``<@U…>`` or a masked link
``<https://evil.example|re-authenticate>`` written by a model shows as text and pings or
disguises nothing; Markdown's ``[text](url)`` is spelled out as ``text (url)``. The bot's own
formatting (bold labels, quotes, mentions it makes itself) is added after escaping.
"""

from __future__ import annotations

from typing import Any

from bot.engine.report import practice_lines, scores_shown
from bot.engine.sections import feedback_sections, report_sections
from bot.engine.text import THREAD_HELP, shown_count, unmask_links
from bot.engine.text import clip as clip_to
from bot.engine.views import SessionView, TurnView
from chains.schemas import Feedback, SessionReport

Block = dict[str, Any]

RATE, CORRECT, SURVEY, TRY_AGAIN = "rate", "correct_feedback", "survey", "try_again"
# The 👍 / 👎 buttons of messages posted before ratings used Slack's native feedback buttons.
LEGACY_RATE_UP, LEGACY_RATE_DOWN = "rate_up", "rate_down"
UP, DOWN = "up", "down"
SECTION_LIMIT = 3000

HELP_TEXT = (
    "*Mock interviews with Mockingbird*\n"
    "• `/interview` opens a form to choose the interview.\n"
    "• `/interview [role] [behavioral|technical] [junior|mid|senior] [N]`, e.g. "
    "`/interview backend technical senior 5`.\n"
    "• Answer each question by replying in the interview's thread. In the thread, `skip` moves to the "
    "next question, `end` finishes early with your report, `retry` finishes work that failed.\n"
    "• Rate each feedback with 👍 / 👎; recruiters can correct it.\n"
    "• `/interview-stats [days]` shows satisfaction figures (team leads).\n"
    "• `/interview forget-me` deletes everything Mockingbird stored about you."
)


def esc(text: object) -> str:
    """Model- or user-written text made inert in mrkdwn (and in the plain ``text`` fallback, which
    Slack formats the same way): ``&``, ``<``, ``>`` as entities, masked links spelled out."""
    return unmask_links(str(text)).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int = SECTION_LIMIT) -> str:
    return clip_to(text, limit)


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text)}}


def context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text, 2000)}]}


def button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": clip(label, 75), "emoji": True},
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    return element


def quote(text: str) -> str:
    """``text`` (escaped here) as a mrkdwn block quote."""
    return "\n".join(f">{line}" if line else ">" for line in esc(text).splitlines())


def bullets(title: str, items: list[str]) -> str:
    """A bold label (the bot's) over model- or user-written items (escaped)."""
    return f"*{title}*\n" + "\n".join(f"• {esc(item)}" for item in items)


def score_bar(score: int) -> str:
    return "▰" * score + "▱" * (10 - score)


def question_message(turn: TurnView, session: SessionView) -> tuple[str, list[Block]]:
    label = session.question_label(turn)
    domain = f" · _{esc(turn.domain)}_" if turn.domain else ""
    blocks = [section(f"*{label}*{domain}\n{quote(turn.question)}"), context(THREAD_HELP)]
    return clip(f"{label}: {esc(turn.question)}"), blocks


def _feedback_sections(feedback: Feedback) -> list[Block]:
    blocks = [section(esc(feedback.summary))]
    blocks.extend(section(bullets(title, items)) for _, title, items in feedback_sections(feedback))
    if feedback.criteria:
        blocks.append(context(" · ".join(f"{esc(name)}: {value}/10" for name, value in feedback.criteria.items())))
    return blocks


def feedback_message(
    turn: TurnView, session: SessionView, tally: dict[str, Any] | None = None
) -> tuple[str, list[Block]]:
    """The model's feedback with 👍 / 👎 (showing the tally), "Try again" for the candidate (answer the
    question once more) and a "Correct" button for recruiters."""
    assert turn.feedback is not None, "only graded turns have feedback"
    feedback = turn.feedback
    label = session.question_label(turn)
    head = f"*Feedback on {label.lower()}* · score *{feedback.score}/10*  {score_bar(feedback.score)}"
    blocks = [section(head), *_feedback_sections(feedback)]
    if turn.answer_truncated:
        blocks.append(context("Your answer was long, so only its first part was graded."))
    blocks.append(rating_block(turn.id, tally or {}))
    blocks.append({"type": "actions", "block_id": f"correct-{turn.id}",
                   "elements": [button("🔁 Try again", TRY_AGAIN, f"{session.id}:{turn.id}"),
                                button("✏️ Correct", CORRECT, str(turn.id))]})
    return clip(f"Feedback on {label.lower()}: {feedback.score}/10. {esc(feedback.summary)}"), blocks


def tally_labels(tally: dict[str, Any]) -> dict[str, str]:
    """Votes that count first, other people's apart: "👍 Helpful · 3 (+2 from others)"."""
    return {UP: f"👍 Helpful · {shown_count(tally, UP)}", DOWN: f"👎 Not helpful · {shown_count(tally, DOWN)}"}


def rating_block(turn_id: int, tally: dict[str, Any]) -> Block:
    """Slack's native 👍 / 👎 (``feedback_buttons`` in a ``context_actions`` block) showing the tally.

    Each button's value is ``"<turn id>:up"`` or ``"<turn id>:down"`` (``parse_rating``), so a click
    names its turn and side without a database read.
    """
    labels = tally_labels(tally)
    return {
        "type": "context_actions",
        "block_id": f"rate-{turn_id}",
        "elements": [
            {
                "type": "feedback_buttons",
                "action_id": RATE,
                "positive_button": {"text": {"type": "plain_text", "text": clip(labels[UP], 75)},
                                    "accessibility_label": "Mark this feedback as helpful",
                                    "value": f"{turn_id}:{UP}"},
                "negative_button": {"text": {"type": "plain_text", "text": clip(labels[DOWN], 75)},
                                    "accessibility_label": "Mark this feedback as not helpful",
                                    "value": f"{turn_id}:{DOWN}"},
            }
        ],
    }


def parse_rating(action: dict[str, Any]) -> tuple[int, int]:
    """``(turn id, +1 or -1)`` of a rating click: a native feedback button or a legacy 👍 / 👎 button.

    Raises ``ValueError`` for a value no message of ours carries.
    """
    action_id, value = action.get("action_id"), str(action.get("value", ""))
    if action_id in (LEGACY_RATE_UP, LEGACY_RATE_DOWN):
        return int(value), 1 if action_id == LEGACY_RATE_UP else -1
    turn, _, side = value.partition(":")
    if side not in (UP, DOWN):
        raise ValueError(f"not a rating: {value!r}")
    return int(turn), 1 if side == UP else -1


def with_tally(shown: list[Block], turn_id: int, tally: dict[str, Any]) -> list[Block] | None:
    """The feedback message as Slack shows it, with new counts on its 👍 / 👎 buttons.

    A click's payload carries the message; redrawing from it needs no database read.
    None when the message has no native rating buttons for ``turn_id`` (then render it afresh).
    """
    block_id, changed = f"rate-{turn_id}", False
    blocks = [dict(block) for block in shown]
    for index, block in enumerate(blocks):
        if block.get("type") == "context_actions" and block.get("block_id") == block_id:
            blocks[index], changed = rating_block(turn_id, tally), True
    return blocks if changed else None


def thinking_message() -> tuple[str, list[Block]]:
    text = "Thinking… reading your answer."
    return text, [context(f":hourglass_flowing_sand: {text}")]


def correction_message(
    turn: TurnView, session: SessionView, feedback: Feedback, recruiter_id: str, note: str | None
) -> tuple[str, list[Block]]:
    """A recruiter's version of a feedback, posted in the thread beside the model's."""
    label = session.question_label(turn).lower()
    head = (
        f"✏️ *<@{recruiter_id}>'s corrected feedback on {label}* · score *{feedback.score}/10*  "
        f"{score_bar(feedback.score)}"
    )
    blocks = [section(head), *_feedback_sections(feedback)]
    if note:
        blocks.append(context(f"Recruiter's note: {esc(note)}"))
    text = f"Recruiter's corrected feedback on {label}: {feedback.score}/10. {esc(feedback.summary)}"
    return clip(text), blocks


def report_message(report: SessionReport) -> tuple[str, list[Block]]:
    lines = []
    for turn in report.turns:
        lines.append(f"{turn.index}. {esc(turn.domain)}: *{scores_shown(turn)}*")
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Interview report", "emoji": True}},
        section(esc(report.summary)),
    ]
    if lines:
        blocks.append(section("\n".join(lines)))
    if practice := practice_lines(report):  # the job ad's requirements are user text: escaped
        blocks.append(section("\n".join(esc(line) for line in practice)))
    blocks.extend(section(bullets(title, items)) for _, title, items in report_sections(report))
    blocks.append(section("*How useful was this practice?*"))
    blocks.append(
        {
            "type": "actions",
            "block_id": f"survey-{report.session_id}",
            "elements": [button(str(n), SURVEY, f"{report.session_id}:{n}") for n in range(1, 6)],
        }
    )
    blocks.append(
        context("1 = not useful, 5 = very useful. Start another with `/interview` whenever you like.")
    )
    average = f" Average score {report.average_score}/10." if report.average_score is not None else ""
    return f"Interview report: {report.answered} answered, {report.skipped} skipped.{average}", blocks


def notice(text: str) -> tuple[str, list[Block]]:
    """A plain message (errors, confirmations) in the same shape as the others."""
    return text, [section(text)]
