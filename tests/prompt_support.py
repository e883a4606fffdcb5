"""The grading prompt the engine would store in ``Turn.prompt``, built by the real feedback chain.

Forgetting tests need a prompt where one candidate's answer is a few-shot exemplar in another's
grading call; this builds it through the product's feedback task (``chains.llm.feedback``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from chains.contract import GradeRequest
from chains.fewshot import Exemplar
from chains.llm.feedback import build
from chains.schemas import Question

QUESTION = Question(id="q", role="backend", domain="apis", kind="behavioral", level="mid",
                    text="Tell me about a failure.", key_points=["impact", "ownership"])


def stored_grading_prompt(answer: str, exemplars: Sequence[Exemplar]) -> tuple[str, int]:
    """The stored prompt (JSON of role/content dicts) and its number of messages."""
    task = build("behavioral", 4000)
    messages = task.messages(GradeRequest(question=QUESTION, answer=answer, exemplars=tuple(exemplars)))
    return json.dumps(messages, ensure_ascii=False), len(messages)
