"""Gate metrics measured on a local model (before and after training), on the held-out rows.

- preference accuracy: the share of held-out pairs where the model gives the chosen reply a
  higher log-probability than the rejected one (summed over the reply's tokens, given the
  prompt, exactly as TRL cuts prompt and reply apart);
- JSON validity: the share of greedy generations on held-out prompts that are ``Feedback`` JSON;
- agreement: among valid generations whose reference reply (the recruiter-approved or chosen
  feedback) is known, the share whose score is within one point of the reference, and the MAE.

Imports torch; only the training code calls it.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import torch

from tasks.training.data import prompt_key
from tasks.training.evaluate_common import agreement_metrics, reference_reply, unique_prompts
from tasks.training.feedback_json import parse_feedback


def _prefix(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _ids(tokenizer: Any, messages: list[dict[str, str]], generation_prompt: bool) -> list[int]:
    encoded = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=generation_prompt)
    if hasattr(encoded, "keys") and "input_ids" in encoded:
        encoded = encoded["input_ids"]
    return list(encoded)


@torch.no_grad()
def completion_logprob(
    model: Any,
    tokenizer: Any,
    prompt: list[dict[str, str]],
    completion: list[dict[str, str]],
    max_length: int,
) -> float:
    """Sum of log p(reply token | everything before it), the reply cut where TRL cuts it."""
    prompt_ids = _ids(tokenizer, prompt, True)
    full = _ids(tokenizer, prompt + completion, False)[:max_length]
    start = min(_prefix(prompt_ids, full), len(full) - 1)
    device = next(model.parameters()).device
    input_ids = torch.tensor([full], device=device)
    logits = model(input_ids=input_ids).logits[0, :-1].float()
    logps = torch.log_softmax(logits, dim=-1)
    targets = input_ids[0, 1:]
    token_logps = logps.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    return float(token_logps[start - 1 :].sum()) if start > 0 else float(token_logps.sum())


def preference_pairs(rows: list[dict[str, Any]], method: str) -> list[tuple[list, list, list]]:
    """(prompt, chosen, rejected) triples: DPO rows as they are, KTO rows paired by prompt."""
    if method == "dpo":
        return [(row["prompt"], row["chosen"], row["rejected"]) for row in rows]
    if method != "kto":
        return []
    groups: dict[str, dict[bool, list[dict[str, Any]]]] = defaultdict(lambda: {True: [], False: []})
    for row in rows:
        groups[prompt_key(row)][row["label"]].append(row)
    pairs = []
    for group in groups.values():
        for good, bad in zip(group[True], group[False], strict=False):
            pairs.append((good["prompt"], good["completion"], bad["completion"]))
    return pairs


def preference_accuracy(
    model: Any, tokenizer: Any, pairs: list[tuple[list, list, list]], max_length: int
) -> float | None:
    if not pairs:
        return None
    # A prompt that fills the context leaves no reply to compare; TRL drops those rows too.
    pairs = [pair for pair in pairs if len(_ids(tokenizer, pair[0], True)) < max_length]
    if not pairs:
        return None
    was_training = model.training
    model.eval()
    wins = 0
    for prompt, chosen, rejected in pairs:
        wins += completion_logprob(model, tokenizer, prompt, chosen, max_length) > completion_logprob(
            model, tokenizer, prompt, rejected, max_length
        )
    model.train(was_training)
    return round(wins / len(pairs), 4)


@torch.no_grad()
def generation_metrics(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], method: str, *, limit: int, max_new_tokens: int
) -> dict[str, Any]:
    """JSON validity and agreement with the reference feedback, on up to ``limit`` distinct prompts."""
    chosen_rows = unique_prompts(rows, method)[:limit]
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    pairs = []
    samples: list[str] = []
    for row in chosen_rows:
        prompt_ids = torch.tensor([_ids(tokenizer, row["prompt"], True)], device=device)
        output = model.generate(
            input_ids=prompt_ids,
            attention_mask=torch.ones_like(prompt_ids),
            max_new_tokens=max_new_tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        text = tokenizer.decode(output[0, prompt_ids.shape[1] :], skip_special_tokens=True)
        if len(samples) < 3:
            samples.append(text[:400])
        pairs.append((parse_feedback(text), reference_reply(row, method)))
    model.train(was_training)
    return {**agreement_metrics(pairs), "samples": samples}


@torch.no_grad()
def reference_nll(
    model: Any, tokenizer: Any, rows: list[dict[str, Any]], method: str, max_length: int, limit: int = 64
) -> float | None:
    """Mean negative log-likelihood per token of the reference replies: falls as SFT learns them."""
    total = tokens = 0.0
    was_training = model.training
    model.eval()
    for row in unique_prompts(rows, method)[:limit]:
        reply = row["chosen"] if method == "dpo" else row["completion"]
        prompt_len = len(_ids(tokenizer, row["prompt"], True))
        full_len = min(len(_ids(tokenizer, row["prompt"] + reply, False)), max_length)
        if prompt_len >= full_len:
            continue
        total -= completion_logprob(model, tokenizer, row["prompt"], reply, max_length)
        tokens += full_len - prompt_len
    model.train(was_training)
    return round(total / tokens, 4) if tokens else None
