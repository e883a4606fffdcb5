"""The score a local model means: the median of its distribution over the allowed values.

Why: greedy decoding writes the likeliest first digit, and "1" begins both 1 and 10, so it collects
the mass of two scores. After SFT on the recruiters' scores (1 is their most common), SmolLM2 wrote
1 for every answer, even after a summary that began "A strong answer" (docs/benchmarks.md). Here
each allowed value ``v`` is scored as the model's probability of writing ``v`` followed by what the
reply wrote after its number (``}``), given the reply up to the number; the median of that
distribution (the value that minimises the expected absolute error) replaces the greedy number.
It costs one forward pass over the prompt and reply, then one short pass per value.
"""

from __future__ import annotations

import copy
import re
from typing import Any

_LAST_NUMBER = r'("{field}"\s*:\s*)(\d+)(\s*\}}\s*)$'  # the field is the reply's last value


def median_value(
    model: Any, tokenizer: Any, prompt_ids: Any, reply_ids: Any, text: str, field: str, low: int, high: int
) -> int | None:
    """The weighted median of ``low..high`` for ``field``, the last value of the JSON reply ``text``
    (``reply_ids`` its tokens after ``prompt_ids``); None when the reply does not end with it or its
    number does not start on a token boundary."""
    import torch

    match = re.search(_LAST_NUMBER.format(field=re.escape(field)), text)
    if match is None:
        return None
    head = text[: match.start(2)]
    cut = next((i for i in range(len(reply_ids), -1, -1)
                if len(tokenizer.decode(reply_ids[:i], skip_special_tokens=True)) <= len(head)), 0)  # fmt: skip
    if tokenizer.decode(reply_ids[:cut], skip_special_tokens=True) != head:
        return None
    prefix = torch.cat([prompt_ids[0], reply_ids[:cut]]).unsqueeze(0)
    first = model(input_ids=prefix, use_cache=True)
    scores = []
    for value in range(low, high + 1):
        ids = tokenizer(str(value) + match.group(3), add_special_tokens=False, return_tensors="pt")["input_ids"]
        logprob = torch.log_softmax(first.logits[0, -1], dim=-1)[ids[0, 0]]
        if ids.shape[1] > 1:
            rest = model(input_ids=ids[:, :-1], past_key_values=copy.deepcopy(first.past_key_values))
            steps = torch.log_softmax(rest.logits[0], dim=-1)
            logprob = logprob + steps.gather(1, ids[0, 1:].unsqueeze(1)).sum()
        scores.append(float(logprob))
    weights = torch.softmax(torch.tensor(scores), dim=0).tolist()
    total = 0.0
    for value, weight in zip(range(low, high + 1), weights, strict=True):
        total += weight
        if total >= 0.5:
            return value
    return high


def with_value(text: str, field: str, value: int) -> str:
    """``text`` with the number of its last ``field`` replaced by ``value``."""
    pattern = re.compile(_LAST_NUMBER.format(field=re.escape(field)))
    return pattern.sub(lambda m: f"{m.group(1)}{value}{m.group(3)}", text)
