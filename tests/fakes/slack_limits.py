"""What real Slack refuses, so the fake refuses it too (Block Kit and Web API limits).

A fake that accepts anything lets clipping and error handling go untested: Slack answers
``invalid_blocks`` for a 51st block or a section over 3,000 characters, ``msg_too_long`` for text
over 40,000, ``invalid_arguments`` for a modal title over 24 characters, ``invalid_blocks`` for
a select option whose text is over 75 characters (or value over 150), ``invalid_blocks`` for a
``context_actions`` block holding anything but ``feedback_buttons`` / ``icon_button`` or a feedback
button without plain text and a value, ``invalid_trigger_id`` for a trigger it never issued and
``thread_not_found`` for a ``thread_ts`` that is no message of that channel (``FakeSlackAPI``). Limits from https://api.slack.com/reference/block-kit/blocks,
/block-elements and /surfaces.
"""

from __future__ import annotations

import re
from typing import Any

MESSAGE_BLOCKS, VIEW_BLOCKS = 50, 100
TEXT_MAX = 40_000
TRIGGER = re.compile(r"^\d+\.\d+\.[0-9a-z]+$")


def _text(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else ""


OPTION_TEXT, OPTION_VALUE = 75, 150


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    """Every option an element shows or starts with (selects, overflow menus, radio buttons, checkboxes)."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options += group.get("options") or []
    if isinstance(element.get("initial_option"), dict):
        options.append(element["initial_option"])
    options += element.get("initial_options") or []
    return [o for o in options if isinstance(o, dict)]


def _element_error(element: dict[str, Any]) -> str | None:
    for option in _options(element):
        if len(_text(option.get("text"))) > OPTION_TEXT or len(str(option.get("value", ""))) > OPTION_VALUE:
            return f"option text over {OPTION_TEXT} or value over {OPTION_VALUE} characters"
    if element.get("type") == "button":
        if len(_text(element.get("text"))) > 75 or len(str(element.get("value", ""))) > 2000:
            return "button text over 75 or value over 2000 characters"
    if len(str(element.get("action_id", ""))) > 255:
        return "action_id over 255 characters"
    return None


CONTEXT_ACTION_ELEMENTS = {"feedback_buttons", "icon_button"}


def _feedback_buttons_error(element: dict[str, Any]) -> str | None:
    """A ``feedback_buttons`` element needs both buttons, each with plain text (<= 75) and a value (<= 2000)."""
    for side in ("positive_button", "negative_button"):
        button = element.get(side)
        if not isinstance(button, dict):
            return f"feedback_buttons without {side}"
        text = button.get("text")
        if not isinstance(text, dict) or text.get("type") != "plain_text" or not text.get("text"):
            return f"{side} text must be plain_text"
        if len(_text(text)) > 75 or not button.get("value") or len(str(button["value"])) > 2000:
            return f"{side} text over 75 characters, or a value missing or over 2000"
    return None


def block_error(block: dict[str, Any]) -> str | None:
    """Why Slack would refuse this block, or None."""
    kind = block.get("type")
    if kind == "context_actions":
        elements = block.get("elements") or []
        if not 1 <= len(elements) <= 5:
            return "context_actions needs 1 to 5 elements"
        if any(e.get("type") not in CONTEXT_ACTION_ELEMENTS for e in elements):
            return "context_actions holds only feedback_buttons and icon_button"
        if any(len(str(e.get("action_id", ""))) > 255 for e in elements):
            return "action_id over 255 characters"
        buttons = [e for e in elements if e["type"] == "feedback_buttons"]
        return next((reason for reason in map(_feedback_buttons_error, buttons) if reason), None)
    if len(str(block.get("block_id", ""))) > 255:
        return "block_id over 255 characters"
    if kind == "section":
        if len(_text(block.get("text"))) > 3000:
            return "section text over 3000 characters"
        fields = block.get("fields") or []
        if len(fields) > 10 or any(len(_text(f)) > 2000 for f in fields):
            return "more than 10 fields or a field over 2000 characters"
        if isinstance(block.get("accessory"), dict):
            return _element_error(block["accessory"])
    if kind == "image":
        alt, sources = str(block.get("alt_text") or ""), [k for k in ("image_url", "slack_file") if block.get(k)]
        if not alt or len(alt) > 2000:
            return "image needs alt_text of 1 to 2000 characters"
        if len(sources) != 1:
            return "image needs exactly one of image_url and slack_file"
        if sources == ["slack_file"] and not (block["slack_file"].get("id") or block["slack_file"].get("url")):
            return "slack_file needs an id or a url"
    if kind == "header" and len(_text(block.get("text"))) > 150:
        return "header text over 150 characters"
    if kind == "context" and len(block.get("elements") or []) > 10:
        return "more than 10 context elements"
    if kind == "input" and isinstance(block.get("element"), dict):
        return _element_error(block["element"])
    if kind == "actions":
        elements = block.get("elements") or []
        if len(elements) > 25:
            return "more than 25 actions"
        return next((e for e in map(_element_error, elements) if e), None)
    return None


def message_error(params: dict[str, Any]) -> dict[str, Any] | None:
    """The error answer for chat.postMessage / chat.update / chat.postEphemeral, or None."""
    if len(str(params.get("text") or "")) > TEXT_MAX:
        return {"ok": False, "error": "msg_too_long"}
    blocks = params.get("blocks") or []
    if len(blocks) > MESSAGE_BLOCKS:
        return {"ok": False, "error": "invalid_blocks", "errors": [f"more than {MESSAGE_BLOCKS} blocks"]}
    return _blocks_error(blocks)


def view_error(params: dict[str, Any], *, modal: bool) -> dict[str, Any] | None:
    """The error answer for views.open / views.publish, or None."""
    if modal and not TRIGGER.match(str(params.get("trigger_id") or "")):
        return {"ok": False, "error": "invalid_trigger_id"}
    view = params.get("view") or {}
    if modal and any(len(_text(view.get(key))) > 24 for key in ("title", "submit", "close")):
        return {"ok": False, "error": "invalid_arguments", "response_metadata": {
            "messages": ["[ERROR] must be less than 25 characters [json-pointer:/view/title/text]"]}}
    if len(str(view.get("private_metadata", ""))) > 3000:
        return {"ok": False, "error": "invalid_arguments"}
    blocks = view.get("blocks") or []
    if len(blocks) > VIEW_BLOCKS:
        return {"ok": False, "error": "invalid_blocks", "errors": [f"more than {VIEW_BLOCKS} blocks"]}
    return _blocks_error(blocks)


def _blocks_error(blocks: list[dict[str, Any]]) -> dict[str, Any] | None:
    for index, block in enumerate(blocks):
        if (reason := block_error(block)) is not None:
            return {"ok": False, "error": "invalid_blocks", "errors": [f"{reason} [json-pointer:/blocks/{index}]"]}
    return None
