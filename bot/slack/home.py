"""The App Home tab: a candidate's own interviews and how their scores are moving."""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.engine import InterviewEngine
from bot.slack.blocks import Block, context, esc, section
from bot.slack.people import People
from bot.slack.web import error_code

log = logging.getLogger(__name__)

SPARKS = "▁▂▃▄▅▆▇█"


def sparkline(scores: list[float]) -> str:
    """Scores 1-10 as a row of bars, oldest first."""
    return "".join(
        SPARKS[min(len(SPARKS) - 1, max(0, round((s - 1) / 9 * (len(SPARKS) - 1))))] for s in scores
    )


def trend_text(history: list[dict[str, Any]]) -> str:
    scored = [h["average_score"] for h in reversed(history) if h.get("average_score") is not None]
    if not scored:
        return "No graded answers yet. Your trend appears here after your first interview."
    if len(scored) == 1:
        return f"Average score so far: *{scored[0]}/10*. Do another interview to see a trend."
    change = round(scored[-1] - scored[0], 1)
    direction = "up" if change > 0 else "down" if change < 0 else "level"
    return (
        f"Trend over your last {len(scored)} scored interviews: `{sparkline(scored)}`  "
        f"latest *{scored[-1]}/10*, {direction} {abs(change)} since the first."
    )


def home_view(history: list[dict[str, Any]]) -> Block:
    """``history`` is ``InterviewEngine.history`` (newest first)."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your mock interviews", "emoji": True}},
        section(trend_text(history)),
        {"type": "divider"},
    ]
    if not history:
        blocks.append(
            section(
                "Start one with `/interview` in any channel I'm in, e.g. "
                "`/interview backend technical mid 3`."
            )
        )
    for item in history[:15]:
        score = f"{item['average_score']}/10" if item.get("average_score") is not None else "no score"
        state = {"completed": "completed", "ended": "ended early"}.get(item["state"], "in progress")
        what = f"*{esc(item['role'])}* · {esc(item['kind'])} · {esc(item['level'])}"  # stored values: escaped
        blocks.append(section(f"{what} — *{score}* ({state})"))
        blocks.append(
            context(
                f"Interview {item['session_id']} · started {esc(item['created_at'][:16].replace('T', ' '))} UTC"
            )
        )
    blocks.append(
        context("Only you can see this page. Type `/interview forget-me` to delete your data.")
    )
    return {"type": "home", "blocks": blocks[:100]}


def publish_home(engine: InterviewEngine, people: People, client: WebClient, event: dict[str, Any]) -> None:
    """``app_home_opened`` on the Home tab: publish the user's own history."""
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    history = engine.history(people.actor(event["user"]))
    try:
        client.views_publish(user_id=event["user"], view=home_view(history))
    except SlackClientError as exc:
        log.warning("views.publish for %s failed: %s", event["user"], error_code(exc))
