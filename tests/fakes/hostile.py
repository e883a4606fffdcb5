"""A model that writes chat markup: Slack broadcasts, mentions and links, Discord masked links.

``HOSTILE_MODEL`` is a fake-LLM reply (``llm.default = HOSTILE_MODEL``) that puts ``HOSTILE``
in every text field of its feedback, its questions and its report; the tests then read every
request the bot sent to the fake Slack or Discord for one of ``SLACK_LIVE`` / ``DISCORD_LIVE``.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.llm_server import Reply, rewritten

HOSTILE = "<!channel> <@U0BOSS> <https://evil.example|x> [x](https://evil.example)"
# what would notify, mention or link if it reached the platform as written
SLACK_LIVE = ("<!channel>", "<@U0BOSS>", "<https://evil.example|")
DISCORD_LIVE = ("](https://evil.example)",)


def _hostile(task: str, data: dict[str, Any]) -> dict[str, Any]:
    if task == "question":
        return {**data, "text": f"{data['text']} {HOSTILE}", "domain": "<!channel> [x](https://evil.example)",
                "key_points": [HOSTILE, *data["key_points"][1:]]}
    if task == "report":
        return {"strengths": [HOSTILE], "weaknesses": [HOSTILE], "next_steps": [HOSTILE], "summary": HOSTILE}
    return {
        **data,
        "strengths": [HOSTILE, HOSTILE], "weaknesses": [HOSTILE], "suggestions": [HOSTILE],
        "outline": [HOSTILE], "summary": HOSTILE,
        "criteria": [{"name": "<!channel> [x](https://evil.example)", "score": 6}, *data["criteria"]],
    }


HOSTILE_MODEL: Reply = rewritten(_hostile)
