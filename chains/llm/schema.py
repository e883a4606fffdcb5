"""JSON Schemas every provider's constrained decoding accepts.

OpenAI strict mode requires ``additionalProperties: false`` and every property listed in
``required``; Gemini's and TGI's schema support is a subset too. So the schema sent is the
wire model's, with references inlined and value constraints (ranges, lengths) left out:
the descriptions state them, and pydantic enforces them on the way back.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel

_DROP = frozenset(
    {
        "title",
        "default",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "pattern",
        "format",
    }
)


def _inline(node: Any, defs: dict[str, Any], drop: frozenset[str] = _DROP) -> Any:
    if isinstance(node, list):
        return [_inline(item, defs, drop) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        extra = {k: v for k, v in node.items() if k != "$ref"}
        return _inline({**target, **extra}, defs, drop)
    out = {k: _inline(v, defs, drop) for k, v in node.items() if k not in drop and k != "$defs"}
    if out.get("type") == "object" and "properties" in out:
        out["required"] = list(out["properties"])
        out["additionalProperties"] = False
    return out


@cache
def _cached(model: type[BaseModel], exact: bool = False) -> dict[str, Any]:
    raw = model.model_json_schema()
    return _inline(raw, raw.get("$defs", {}), frozenset({"title", "default"}) if exact else _DROP)


def strict_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """A fresh copy each call: SDKs are free to mutate what they are given."""
    import copy

    return copy.deepcopy(_cached(model))


def exact_json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The strict schema with the value constraints kept (score range, list and string lengths):
    for a grammar that can enforce them, such as the local model's (``chains.local.generate``)."""
    import copy

    return copy.deepcopy(_cached(model, exact=True))
