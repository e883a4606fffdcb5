"""``mockingbird grade --batch FILE.jsonl``: many answers graded in one process.

One JSON object per input line (``question``, ``answer``, optional ``kind``, ``role``,
``level``), one Feedback JSON per output line in the same order. A bad line becomes
``{"line": n, "error": "..."}`` in its place and the rest are still graded, so one typo in a
thousand-line file costs one line, and outputs stay aligned with inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.engine.text import clean_answer
from chains.bank import Bank
from chains.bank.loader import UnknownRole
from chains.providers import GradeRequest, Provider, ProviderError
from chains.question_lookup import question_for_text
from chains.schemas import Kind, Level


class BatchLine(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1)
    answer: str
    kind: Kind = "behavioral"
    role: str = "backend"
    level: Level = "mid"


def _error(number: int, message: str) -> str:
    return json.dumps({"line": number, "error": message}, ensure_ascii=False)


def _reason(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'line'}: {e['msg']}" for e in exc.errors())


def grade_lines(lines: Iterable[str], provider: Provider, bank: Bank, max_answer_chars: int) -> Iterator[str]:
    """One output line per input line (blank input lines included, as errors)."""
    for number, raw in enumerate(lines, start=1):
        try:
            payload: Any = json.loads(raw)
            item = BatchLine.model_validate(payload)
        except json.JSONDecodeError as exc:
            yield _error(number, f"not JSON: {exc.msg}")
            continue
        except ValidationError as exc:
            yield _error(number, _reason(exc))
            continue
        cleaned = clean_answer(item.answer, max_answer_chars)
        if not cleaned.text:
            yield _error(number, "the answer is empty")
            continue
        try:
            role = bank.resolve_role(item.role)
            question = question_for_text(bank, item.question, role=role, kind=item.kind, level=item.level)
            result = provider.grade(GradeRequest(question=question, answer=cleaned.text))
        except (UnknownRole, ProviderError) as exc:
            yield _error(number, str(exc))
            continue
        yield result.value.model_dump_json()
