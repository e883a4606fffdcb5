"""``/interview-stats [days]`` for team leads: satisfaction by role and by model version, with charts.

The figures come from ``bot.store.stats`` (the same numbers as ``mockingbird stats``); the charts
are uploaded to the channel with ``files_upload_v2``. Anyone who is not a team lead gets an
ephemeral refusal and nothing is computed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackClientError

from bot.engine import EngineError, InterviewEngine
from bot.slack import blocks, web
from bot.slack.commands import Reply, parse_stats
from bot.slack.people import People
from bot.store.stats import Stats, render_chart

log = logging.getLogger(__name__)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def stats_text(by_role: Stats, by_model: Stats) -> str:
    lines = [by_role.as_text(), "By model version:"]
    if not by_model.groups:
        lines.append("  no ratings yet")
    for group in by_model.groups:
        lines.append(f"  {group.key}: {_pct(group.satisfaction)} 👍 ({group.up} 👍 / {group.down} 👎)")
    return "\n".join(lines)


class TeamStats:
    def __init__(self, engine: InterviewEngine, people: People) -> None:
        self.engine = engine
        self.people = people

    def ack_command(self, ack: Callable[..., Any], command: dict[str, Any]) -> None:
        parsed = parse_stats(command.get("text") or "")
        if isinstance(parsed, Reply):
            ack(text=parsed.text, response_type="ephemeral")
        else:
            ack(text=f"Working out the figures for the last {parsed} days…", response_type="ephemeral")

    def run_command(self, command: dict[str, Any], client: WebClient, respond: Callable[..., Any]) -> None:
        days = parse_stats(command.get("text") or "")
        if isinstance(days, Reply):
            return
        user, channel = command["user_id"], command["channel_id"]
        actor = self.people.actor(user, client, roles=True)
        try:
            by_role = self.engine.stats(actor, days, by="role")
        except EngineError as exc:
            respond(text=blocks.esc(exc), response_type="ephemeral", replace_original=True)
            return
        by_model = self.engine.stats(actor, days, by="model")
        text = stats_text(by_role, by_model)
        charts = [
            {
                "content": render_chart(by_role),
                "filename": f"satisfaction-by-role-{days}d.png",
                "title": f"Satisfaction by role, last {days} days",
            },
            {
                "content": render_chart(by_model),
                "filename": f"satisfaction-by-model-{days}d.png",
                "title": f"Satisfaction by model version, last {days} days",
            },
        ]
        try:
            client.files_upload_v2(channel=channel, file_uploads=charts, initial_comment=f"```{text}```")
        except SlackClientError as exc:
            log.warning("stats upload to %s failed: %s", channel, web.error_code(exc))
            try:  # the figures matter more than the pictures
                web.post(client, channel, text)
            except SlackClientError as again:
                respond(
                    text=f"{web.explain(again)}\n```{text}```",
                    response_type="ephemeral",
                    replace_original=True,
                )
                return
        respond(
            text=f"Posted the figures for the last {days} days.",
            response_type="ephemeral",
            replace_original=True,
        )
