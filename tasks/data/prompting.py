"""The training prompt of a turn: the same system and user messages the feedback chain sends.

Training on exactly what the model sees at inference (``chains/prompts/feedback_<kind>.md``,
filled by ``chains.llm.feedback.values``) avoids a train/serve mismatch. The completion is the
feedback in the wire form the model is asked to produce.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from chains.schemas import Feedback, Question

Message = dict[str, str]


@lru_cache(maxsize=4)
def _prompt(kind: str):  # type: ignore[no-untyped-def]
    from chains import prompts

    return prompts.load(f"feedback_{kind if kind in ('behavioral', 'technical') else 'behavioral'}")


def feedback_messages(
    *,
    role: str,
    kind: str,
    level: str,
    domain: str | None,
    question: str,
    key_points: list[Any] | None,
    answer: str,
) -> list[Message]:
    """``[system, user]`` for grading one answer."""
    from chains.llm.feedback import values

    target = Question.model_construct(
        id="turn",
        role=role,
        domain=domain or role,
        kind=kind,
        level=level,
        text=question,
        key_points=[str(p) for p in key_points or []],
    )
    prompt = _prompt(kind)
    messages = [{"role": "user", "content": prompt.render_user(**values(target, answer))}]
    if prompt.system:
        messages.insert(0, {"role": "system", "content": prompt.system})
    return messages


ANSWER_SYSTEM = ("You are a job candidate in a mock interview. Answer the interviewer's question the way a strong "
                 "candidate would: specific, structured and honest.")


def answer_messages(*, role: str, kind: str, level: str, question: str) -> list[Message]:
    """``[system, user]`` for answering an interview question (the prompt of a try-again pair)."""
    return [{"role": "system", "content": ANSWER_SYSTEM},
            {"role": "user", "content": f"Role: {role}. Level: {level}. Kind: {kind}.\n\n{question}"}]


def completion_text(feedback: dict[str, Any]) -> str:
    """A stored ``Feedback`` as the JSON reply the model is trained to write."""
    from chains.llm.wire import FeedbackOut

    try:
        return FeedbackOut.of(Feedback.model_validate(feedback)).model_dump_json()
    except ValidationError:
        return json.dumps(feedback, sort_keys=True, ensure_ascii=False)


def prompt_hash(messages: list[Message]) -> str:
    return hashlib.sha256(json.dumps(messages, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
