"""The App Home tab: a candidate's own interviews, their progress (with a chart image) and, for team
leads, the team's weakest criteria by role."""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections import OrderedDict
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.engine import InterviewEngine, UserRole
from bot.engine.progress import CandidateProgress, team_text
from bot.engine.progress_chart import render_progress_chart
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


def progress_blocks(progress: CandidateProgress, chart_file: str | None, team: str | None) -> list[Block]:
    """The progress figures (model-written suggestions escaped), the chart, the team view for leads."""
    blocks: list[Block] = []
    if progress.answers:
        title, *lines = progress.as_text().splitlines()
        blocks.append(section(f"*{esc(title)}*\n" + "\n".join(esc(line) for line in lines)))
        if chart_file:
            blocks.append({"type": "image", "slack_file": {"id": chart_file},
                           "alt_text": "Your scores by session, overall and per criterion"})
    if team is not None:
        title, *lines = team.splitlines()
        blocks.append(section(f"*{esc(title)}*\n" + "\n".join(esc(line) for line in lines)))
        blocks.append(context("Export as CSV: `mockingbird progress --team --csv team.csv`."))
    return blocks + ([{"type": "divider"}] if blocks else [])


def home_view(history: list[dict[str, Any]], extra: list[Block] | None = None) -> Block:
    """``history`` is ``InterviewEngine.history`` (newest first); ``extra`` the progress blocks."""
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your mock interviews", "emoji": True}},
        section(trend_text(history)),
        {"type": "divider"},
        *(extra or []),
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


class ChartFiles:
    """The uploaded chart of each person's current figures, so opening the Home tab again uploads
    nothing new until the figures change. Only a Slack file id is kept, bounded, per process: another
    replica, or a restart, uploads the chart once more, and nothing else depends on it."""

    def __init__(self, limit: int = 2000) -> None:
        self.limit = limit
        self._files: OrderedDict[tuple[str, str], str] = OrderedDict()
        self._lock = threading.Lock()

    def file_for(self, client: WebClient, user: str, progress: CandidateProgress) -> str | None:
        """The chart's file id (uploaded now if these figures have none yet); None if Slack refuses."""
        key = (user, hashlib.sha256(json.dumps(progress.as_json(), sort_keys=True).encode()).hexdigest())
        with self._lock:
            if key in self._files:
                self._files.move_to_end(key)
                return self._files[key]
        try:
            uploaded = client.files_upload_v2(content=render_progress_chart(progress), filename="progress.png",
                                              title="Your progress")
            file_id = str(uploaded["file"]["id"])
        except (SlackClientError, KeyError, TypeError) as exc:  # the figures still show
            log.warning("progress chart upload failed: %s", exc)
            return None
        with self._lock:
            self._files[key] = file_id
            while len(self._files) > self.limit:
                self._files.popitem(last=False)
        return file_id


def publish_home(engine: InterviewEngine, people: People, client: WebClient, event: dict[str, Any],
                 charts: ChartFiles | None = None) -> None:
    """``app_home_opened`` on the Home tab: publish the user's own history."""
    if event.get("tab", "home") != "home" or not event.get("user"):
        return
    actor = people.actor(event["user"])
    history = engine.history(actor)
    progress = engine.progress(actor)
    team = team_text(engine.team_progress(actor)) if UserRole.team_lead in engine.roles(actor) else None
    chart = (charts or ChartFiles()).file_for(client, event["user"], progress) if progress.answers else None
    extra = progress_blocks(progress, chart, team)
    try:
        client.views_publish(user_id=event["user"], view=home_view(history, extra))
    except SlackClientError as exc:
        log.warning("views.publish for %s failed: %s", event["user"], error_code(exc))
