"""The grading prompt the engine would store in ``Turn.prompt``, built by the real feedback chain.

Forgetting tests need a prompt where one candidate's answer is a few-shot exemplar in another's
grading call; this builds it through ``chains.llm.feedback`` with a backend that is never called.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.runnables import RunnableLambda

from chains.contract import GradeRequest
from chains.fewshot import Exemplar
from chains.llm.backend import as_role_dicts
from chains.llm.feedback import build
from chains.schemas import Question

QUESTION = Question(id="q", role="backend", domain="apis", kind="behavioral", level="mid",
                    text="Tell me about a failure.", key_points=["impact", "ownership"])


class _UnusedBackend:
    name, model, timeout_s, where = "stub", "stub-1", 5.0, "nowhere"

    def structured(self, spec: Any) -> RunnableLambda:
        return RunnableLambda(lambda messages: "{}")


def stored_grading_prompt(answer: str, exemplars: Sequence[Exemplar]) -> tuple[str, int]:
    """The stored prompt (JSON of role/content dicts) and its number of messages."""
    chain = build(_UnusedBackend(), "behavioral", 4000)  # type: ignore[arg-type]
    messages = chain.messages(GradeRequest(question=QUESTION, answer=answer, exemplars=tuple(exemplars)))
    return json.dumps(as_role_dicts(messages), ensure_ascii=False), len(messages)
