"""What the real Discord API refuses, so the fake refuses it too.

Discord answers 401 to a REST call without the bot's ``Authorization`` header, 40060
("Interaction has already been acknowledged") to a second response to one interaction, and
50035 ("Invalid Form Body") to content over 2,000 characters or an embed over its limits
(https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
"""

from __future__ import annotations

from typing import Any

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TOTAL_MAX = 6000
FIELDS_MAX = 25
LIMITS = {"title": 256, "description": 4096}
FIELD_LIMITS = {"name": 256, "value": 1024}

UNAUTHORIZED = {"message": "401: Unauthorized", "code": 0}
ACKNOWLEDGED = {"message": "Interaction has already been acknowledged.", "code": 40060}


def _invalid(where: str, why: str) -> dict[str, Any]:
    return {"message": "Invalid Form Body", "code": 50035,
            "errors": {where: {"_errors": [{"code": "BASE_TYPE_MAX_LENGTH", "message": why}]}}}


def _embed_size(embed: dict[str, Any]) -> int:
    fields = embed.get("fields") or []
    return (len(embed.get("title") or "") + len(embed.get("description") or "")
            + len((embed.get("footer") or {}).get("text") or "") + len((embed.get("author") or {}).get("name") or "")
            + sum(len(f.get("name") or "") + len(f.get("value") or "") for f in fields))


def form_error(body: dict[str, Any] | None) -> dict[str, Any] | None:
    """The 50035 answer for a message body (content and embeds) Discord would refuse, or None."""
    if not isinstance(body, dict):
        return None
    if len(body.get("content") or "") > CONTENT_MAX:
        return _invalid("content", f"Must be {CONTENT_MAX} or fewer in length.")
    embeds = body.get("embeds") or []
    if len(embeds) > EMBEDS_MAX:
        return _invalid("embeds", f"Must be {EMBEDS_MAX} or fewer in length.")
    if sum(_embed_size(e) for e in embeds) > EMBED_TOTAL_MAX:
        return _invalid("embeds", f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}")
    for index, embed in enumerate(embeds):
        for key, limit in LIMITS.items():
            if len(embed.get(key) or "") > limit:
                return _invalid(f"embeds.{index}.{key}", f"Must be {limit} or fewer in length.")
        if len((embed.get("footer") or {}).get("text") or "") > 2048:
            return _invalid(f"embeds.{index}.footer.text", "Must be 2048 or fewer in length.")
        fields = embed.get("fields") or []
        if len(fields) > FIELDS_MAX:
            return _invalid(f"embeds.{index}.fields", f"Must be {FIELDS_MAX} or fewer in length.")
        for position, item in enumerate(fields):
            for key, limit in FIELD_LIMITS.items():
                if len(item.get(key) or "") > limit or not (item.get(key) or "").strip():
                    return _invalid(f"embeds.{index}.fields.{position}.{key}",
                                    f"Must be between 1 and {limit} in length.")
    return None
