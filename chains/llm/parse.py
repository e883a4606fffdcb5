"""Turn a model's reply into a validated pydantic object, strictly first, then leniently.

Strict means the reply is exactly one JSON object that validates; that is what counts as
"valid first try". Lenient parsing also accepts the usual near misses: a Markdown code
fence, prose before or after the object, trailing commas, and ``criteria`` written as an
object instead of a list. Anything else is reported so the repair call can quote it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

W = TypeVar("W", bound=BaseModel)

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_DECODER = json.JSONDecoder()


@dataclass
class Parsed(Generic[W]):
    value: W | None
    problem: str | None = None
    lenient: bool = False

    @property
    def ok(self) -> bool:
        return self.value is not None


def describe_validation(exc: ValidationError, limit: int = 5) -> str:
    """A short, model-readable list of what is wrong (``field: message``)."""
    parts = []
    for error in exc.errors(include_url=False)[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "the object"
        parts.append(f"{where}: {error['msg']}")
    return "schema violation - " + "; ".join(parts)


def _validate(model: type[W], data: object) -> Parsed[W]:
    if not isinstance(data, dict):
        return Parsed(None, f"expected a JSON object, got {type(data).__name__}")
    try:
        return Parsed(model.model_validate(_normalise(data)))
    except ValidationError as exc:
        return Parsed(None, describe_validation(exc))


def _normalise(data: dict[str, object]) -> dict[str, object]:
    """``{"criteria": {"depth": 7}}`` is a common, harmless variant of the list form."""
    criteria = data.get("criteria")
    if isinstance(criteria, dict):
        data = {**data, "criteria": [{"name": k, "score": v} for k, v in criteria.items()]}
    return data


def strict(text: str, model: type[W]) -> Parsed[W]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, TypeError) as exc:
        return Parsed(None, f"not valid JSON ({exc})")
    if isinstance(data, dict) and isinstance(data.get("criteria"), dict):
        return Parsed(None, "criteria must be a list of {name, score} objects")
    return _validate(model, data)


def _candidates(text: str) -> list[str]:
    found = [m.group(1).strip() for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        found.append(text[start:])
    return found


def _first_object(text: str) -> object:
    """The first complete JSON value at the start of ``text``; trailing prose is ignored."""
    try:
        return _DECODER.raw_decode(text)[0]
    except json.JSONDecodeError:
        return _DECODER.raw_decode(_TRAILING_COMMA.sub(r"\1", text))[0]


def lenient(text: str, model: type[W]) -> Parsed[W]:
    problem = "no JSON object found in the reply"
    for candidate in _candidates(text):
        try:
            data = _first_object(candidate)
        except json.JSONDecodeError as exc:
            problem = f"not valid JSON ({exc})"
            continue
        parsed = _validate(model, data)
        if parsed.ok:
            parsed.lenient = True
            return parsed
        problem = parsed.problem or problem
    return Parsed(None, problem)


def parse(text: str, model: type[W]) -> Parsed[W]:
    """Strict, then lenient; the problem reported is the strict one when both fail."""
    first = strict(text, model)
    if first.ok:
        return first
    second = lenient(text, model)
    if second.ok:
        return second
    # A schema violation says more than "not valid JSON" when the JSON itself was recoverable.
    return Parsed(None, second.problem if "schema" in (second.problem or "") else first.problem)
