"""The two forms: choosing an interview, and a recruiter's correction of a feedback.

Each form has a builder (a Block Kit modal view) and a parser (the submitted view state
back into plain values, or per-field errors that Slack shows under the fields). What the
submit handler needs besides the fields travels in ``private_metadata`` as JSON.
"""

from __future__ import annotations

import json
from typing import Any

from bot.engine import BadCorrection, BadInput, corrected_feedback, tailoring
from bot.engine.corrections import FIELDS as CORRECTION_FIELDS
from bot.slack.blocks import Block, clip
from bot.slack.commands import InterviewRequest
from chains.bank import Bank
from chains.schemas import KINDS, LEVELS, Feedback

START_CALLBACK, CORRECT_CALLBACK = "interview_start", "feedback_correction"


def _plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _plain(label), "value": value}


def _select(block_id: str, label: str, options: list[tuple[str, str]], initial: str | None = None) -> Block:
    element: Block = {
        "type": "static_select",
        "action_id": "value",
        "options": [_option(text, value) for text, value in options],
    }
    chosen = next((o for o in options if o[1] == initial), None)
    if chosen is not None:
        element["initial_option"] = _option(*chosen)
    return {"type": "input", "block_id": block_id, "label": _plain(label), "element": element}


def _text(
    block_id: str,
    label: str,
    initial: str = "",
    *,
    optional: bool = False,
    multiline: bool = True,
    hint: str | None = None,
    max_length: int = 3000,
) -> Block:
    element: Block = {
        "type": "plain_text_input",
        "action_id": "value",
        "multiline": multiline,
        "max_length": max_length,
    }
    if initial:
        element["initial_value"] = clip(initial, max_length)
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": _plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _plain(hint, 150)
    return block


def _modal(callback_id: str, title: str, submit: str, blocks: list[Block], metadata: dict[str, Any]) -> Block:
    return {
        "type": "modal",
        "callback_id": callback_id,
        "title": _plain(title, 24),
        "submit": _plain(submit, 24),
        "close": _plain("Cancel", 24),
        "blocks": blocks,
        "private_metadata": json.dumps(metadata),
    }


def metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        value = json.loads(view.get("private_metadata") or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _values(view: dict[str, Any]) -> dict[str, Any]:
    """``{block_id: value}`` from a submitted view: the selected option's value or the typed text."""
    out: dict[str, Any] = {}
    for block_id, actions in (view.get("state", {}).get("values") or {}).items():
        state = actions.get("value") or next(iter(actions.values()), {})
        if state.get("selected_option"):
            out[block_id] = state["selected_option"].get("value")
        else:
            out[block_id] = state.get("value")
    return out


# ── choosing an interview ───────────────────────────────────────────────────────────
def start_form(bank: Bank, max_questions: int, default_questions: int, meta: dict[str, Any]) -> Block:
    roles = sorted(((spec.title, spec.role) for spec in bank.roles.values()), key=lambda r: r[0].lower())
    blocks = [
        _select("role", "Role", roles[:100]),
        _select("kind", "Kind", [(k.capitalize(), k) for k in KINDS], "behavioral"),
        _select("level", "Level", [(lv.capitalize(), lv) for lv in LEVELS], "mid"),
        _select(
            "questions",
            "Questions",
            [(str(n), str(n)) for n in range(1, max_questions + 1)],
            str(min(default_questions, max_questions)),
        ),
        _select("difficulty", "Difficulty", [("Adaptive: follows your answers", "adaptive"),
                                             ("Fixed at the level above", "fixed")], "adaptive"),
        _text("job_ad", "Job ad (optional)", optional=True, max_length=3000,
              hint="Paste a job description: the questions practise its requirements."),
    ]
    return _modal(START_CALLBACK, "Mock interview", "Start", blocks, meta)


def parse_start(view: dict[str, Any], bank: Bank, max_questions: int) -> InterviewRequest | dict[str, str]:
    values = _values(view)
    errors: dict[str, str] = {}
    role = values.get("role")
    if role not in bank.roles:
        errors["role"] = "Choose a role from the list."
    if values.get("kind") not in KINDS:
        errors["kind"] = "Choose behavioral or technical."
    if values.get("level") not in LEVELS:
        errors["level"] = "Choose junior, mid or senior."
    raw = str(values.get("questions") or "")
    if not raw.isdecimal() or not 1 <= int(raw) <= max_questions:
        errors["questions"] = f"Choose between 1 and {max_questions} questions."
    job_ad = str(values.get("job_ad") or "").strip() or None
    if not errors and job_ad is not None:
        try:  # said under the field, before anything is posted
            tailoring.session_fields(job_ad, str(role), str(values["kind"]), bank)
        except BadInput as exc:
            errors["job_ad"] = clip(str(exc), 150)
    if errors:
        return errors
    return InterviewRequest(
        role=str(role), kind=str(values["kind"]), level=str(values["level"]), questions=int(raw),
        adaptive=values.get("difficulty") != "fixed", job_ad=job_ad,
    )


# ── correcting a feedback ───────────────────────────────────────────────────────────
LIST_HINT = "One item per line."


def correction_form(feedback: Feedback, meta: dict[str, Any]) -> Block:
    """Prefilled with the feedback as it stands; the recruiter edits what is wrong."""
    blocks = [
        _select("score", "Score (1-10)", [(str(n), str(n)) for n in range(1, 11)], str(feedback.score)),
        _text("summary", "Summary", feedback.summary, max_length=2000),
        _text("strengths", "Strengths", "\n".join(feedback.strengths), optional=True, hint=LIST_HINT),
        _text("weaknesses", "Weaknesses", "\n".join(feedback.weaknesses), optional=True, hint=LIST_HINT),
        _text("suggestions", "Suggestions", "\n".join(feedback.suggestions), optional=True, hint=LIST_HINT),
        _text("note", "Note for the team (optional)", optional=True, max_length=1000),
    ]
    return _modal(CORRECT_CALLBACK, "Correct feedback", "Save correction", blocks, meta)


def parse_correction(
    view: dict[str, Any], criteria: dict[str, int] | None = None
) -> tuple[Feedback, str | None] | dict[str, str]:
    """The corrected feedback and note, or ``{block_id: error}`` for Slack to show under the fields."""
    values = {name: str(value or "") for name, value in _values(view).items()}
    try:
        feedback = corrected_feedback(
            **{name: values.get(name, "") for name in CORRECTION_FIELDS}, criteria=criteria or {}
        )
    except BadCorrection as exc:  # the block ids are the field names
        return {field: message[:1].upper() + message[1:] + "." for field, message in exc.problems.items()}
    return feedback, values.get("note", "").strip() or None
