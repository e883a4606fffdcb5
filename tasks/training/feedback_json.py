"""Read a model's reply as ``Feedback``, strictly: this is what the JSON validity metric counts.

A reply is valid only if it is one JSON object that validates as ``Feedback`` (criteria may
come as a dict or as the ``[{name, score}]`` list that structured-output wire schemas use).
No repair and no fence stripping: the gate measures the model, not the chain around it.
"""

from __future__ import annotations

import json

from pydantic import ValidationError

from chains.schemas import Feedback


def parse_feedback(text: str) -> Feedback | None:
    try:
        data = json.loads(text.strip())
    except (json.JSONDecodeError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    criteria = data.get("criteria")
    if isinstance(criteria, list):
        try:
            data["criteria"] = {item["name"]: item["score"] for item in criteria}
        except (TypeError, KeyError):
            return None
    try:
        return Feedback.model_validate(data)
    except ValidationError:
        return None
