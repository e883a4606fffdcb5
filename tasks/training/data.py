"""Training files: read and check a JSONL export, split off a held-out set, describe the snapshot.

The formats are the ones ``mockingbird dataset export`` writes (TRL conversational):

- ``dpo``: ``prompt`` (messages), ``chosen`` and ``rejected`` (one assistant message each, or strings);
- ``kto``: ``prompt``, ``completion``, ``label`` (true for 👍 / recruiter-approved);
- ``sft``: ``prompt`` and ``completion`` (the recruiter-approved ``Feedback`` JSON), or ``messages``.

A bad line is reported with its number and nothing is trained, so a broken export never
produces a half-trained model. No torch here: the CLI checks a file before loading the stack.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

Method = Literal["dpo", "kto", "sft"]
METHODS: tuple[Method, ...] = ("dpo", "kto", "sft")
EXPORT_FORMAT: dict[str, str] = {"dpo": "trl-dpo", "kto": "trl-kto", "sft": "sft"}  # `dataset export --format`
REQUIRED: dict[str, tuple[str, ...]] = {
    "dpo": ("prompt", "chosen", "rejected"),
    "kto": ("prompt", "completion", "label"),
    "sft": ("prompt", "completion"),
}


class DataError(ValueError):
    """The training file cannot be used; the message says which line and why."""


@dataclass
class TrainingData:
    """Rows of one method, split into train and held-out, with a description of where they came from."""

    method: Method
    train: list[dict[str, Any]]
    heldout: list[dict[str, Any]]
    snapshot: dict[str, Any] = field(default_factory=dict)


def load(
    path: Path, method: Method, heldout_fraction: float = 0.15, min_heldout: int = 4, *, allow_empty: bool = False
) -> TrainingData:
    """Read ``path`` as ``method`` rows and split it; raises ``DataError`` with a line number on bad input.

    ``allow_empty``: an empty file is no error (SFT adds the annotated set to whatever the export held)."""
    if method not in METHODS:
        raise DataError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not path.is_file():
        raise DataError(f"training file {path} does not exist")
    rows = [normalise(row, method, f"{path}, line {number}") for number, row in _lines(path)]
    if not rows and allow_empty:
        return TrainingData(method=method, train=[], heldout=[], snapshot={"file": str(path), "rows": 0})
    if not rows:
        raise DataError(f"{path} holds no rows; export some data first (mockingbird dataset export)")
    train, heldout = split(rows, heldout_fraction, min_heldout)
    if not train:
        raise DataError(f"{path} has {len(rows)} rows: too few to keep a held-out set and still train")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    snapshot = {
        "file": str(path),
        "sha256": digest,
        "rows": len(rows),
        "train": len(train),
        "heldout": len(heldout),
        "method": method,
    }
    if method == "kto":
        desirable = sum(1 for row in rows if row["label"])
        if desirable in (0, len(rows)):
            raise DataError(_one_class(f"{path}: all {len(rows)} rows", desirable))
        weights = kto_weights(train, f"{path} (training split, held-out prompts set aside)")
        snapshot["desirable"] = desirable
        snapshot["kto_weights"] = asdict(weights)
    return TrainingData(method=method, train=train, heldout=heldout, snapshot=snapshot)


# TRL's advice for KTO on imbalanced data (KTOConfig ``desirable_weight`` / ``undesirable_weight``, from
# eq. 8 of the KTO paper, arXiv:2402.01306): upweight the rarer kind so that
# desirable_weight * n_desirable / (undesirable_weight * n_undesirable) lies in [1, 4/3]. We aim at the
# middle of that range, 7/6, so the weights stay inside it after TRL rounds its bounds.
KTO_RATIO_RANGE = (1.0, 4 / 3)
KTO_TARGET_RATIO = 7 / 6


@dataclass(frozen=True)
class KtoWeights:
    """How many desirable / undesirable rows the trainer sees and the loss weights that balance them."""

    desirable: int
    undesirable: int
    desirable_weight: float = 1.0
    undesirable_weight: float = 1.0

    @property
    def ratio(self) -> float:
        """Weighted desirable to weighted undesirable: what TRL wants between 1 and 4/3."""
        return self.desirable_weight * self.desirable / (self.undesirable_weight * self.undesirable)


def _one_class(what: str, desirable: int) -> str:
    kind = "desirable (👍)" if desirable else "undesirable (👎)"
    return (
        f"{what} are {kind}: KTO needs both desirable and undesirable examples; "
        "collect more ratings or train with --method dpo or sft"
    )


def kto_weights(rows: list[dict[str, Any]], what: str = "the KTO rows") -> KtoWeights:
    """Loss weights from the label balance of ``rows`` (the rows the trainer sees).

    Balanced enough (ratio already in [1, 4/3]): both 1. Otherwise the rarer kind is upweighted so
    the weighted ratio is 7/6; the commoner kind keeps weight 1 (nothing is ever downweighted).
    Raises ``DataError`` when one kind is missing: no weight can balance nothing.
    """
    desirable = sum(1 for row in rows if row["label"])
    undesirable = len(rows) - desirable
    if not desirable or not undesirable:
        raise DataError(_one_class(f"{what}: all {len(rows)} rows", desirable))
    ratio = desirable / undesirable
    low, high = KTO_RATIO_RANGE
    if low <= ratio <= high:
        return KtoWeights(desirable, undesirable)
    if ratio < low:  # fewer 👍: upweight the desirable losses
        return KtoWeights(desirable, undesirable, desirable_weight=round(KTO_TARGET_RATIO / ratio, 4))
    return KtoWeights(desirable, undesirable, undesirable_weight=round(ratio / KTO_TARGET_RATIO, 4))


def _lines(path: Path) -> Iterable[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataError(f"{path}, line {number}: not JSON ({exc.msg})") from exc
            if not isinstance(row, dict):
                raise DataError(f"{path}, line {number}: expected a JSON object")
            yield number, row


def normalise(row: dict[str, Any], method: Method, where: str = "row") -> dict[str, Any]:
    """One row in TRL's conversational shape: message lists everywhere, ``label`` a bool."""
    if method == "sft" and "messages" in row and "prompt" not in row:
        messages = _messages(row["messages"], where, "messages")
        if not messages or messages[-1]["role"] != "assistant":
            raise DataError(f"{where}: 'messages' must end with the assistant's reply")
        row = {"prompt": messages[:-1], "completion": messages[-1:]}
    if "input" in row and "preferred_output" in row:  # OpenAI preference format
        if not isinstance(row["input"], dict) or "non_preferred_output" not in row:
            raise DataError(f"{where}: an OpenAI preference row needs 'input' with 'messages', "
                            "'preferred_output' and 'non_preferred_output'")
        row = {
            "prompt": row["input"].get("messages", []),
            "chosen": row["preferred_output"],
            "rejected": row["non_preferred_output"],
        }
    missing = [key for key in REQUIRED[method] if key not in row]
    if missing:
        raise DataError(
            f"{where}: missing {', '.join(missing)} for method {method} "
            f"(did you export --format {EXPORT_FORMAT[method]}?)"
        )
    out: dict[str, Any] = {"prompt": _messages(row["prompt"], where, "prompt")}
    if not out["prompt"]:
        raise DataError(f"{where}: empty prompt")
    for key in REQUIRED[method][1:]:
        if key == "label":
            if not isinstance(row["label"], bool):
                raise DataError(f"{where}: 'label' must be true or false")
            out["label"] = row["label"]
        else:
            out[key] = _completion(row[key], where, key)
    return out


def _messages(value: object, where: str, key: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        raise DataError(f"{where}: '{key}' must be a list of messages")
    messages = []
    for message in value:
        if not (
            isinstance(message, dict)
            and isinstance(message.get("role"), str)
            and isinstance(message.get("content"), str)
        ):
            raise DataError(f"{where}: every message in '{key}' needs a string 'role' and 'content'")
        messages.append({"role": message["role"], "content": message["content"]})
    return messages


def _completion(value: object, where: str, key: str) -> list[dict[str, str]]:
    if isinstance(value, str):
        return [{"role": "assistant", "content": value}]
    messages = _messages(value, where, key)
    if len(messages) != 1 or messages[0]["role"] != "assistant":
        raise DataError(f"{where}: '{key}' must be one assistant message")
    return messages


def prompt_key(row: dict[str, Any]) -> str:
    """Rows about the same prompt share a key, so they always land on the same side of the split."""
    return hashlib.sha256(json.dumps(row["prompt"], sort_keys=True).encode()).hexdigest()


def split(rows: list[dict[str, Any]], fraction: float, minimum: int = 4) -> tuple[list[dict], list[dict]]:
    """Deterministic held-out split by prompt hash: the same file always splits the same way."""
    if not 0 <= fraction < 1:
        raise DataError("the held-out fraction must be at least 0 and below 1")
    keys = sorted({prompt_key(row) for row in rows})
    ranked = sorted(keys, key=lambda key: hashlib.sha256(f"heldout:{key}".encode()).hexdigest())
    wanted = 0 if fraction == 0 else max(minimum, round(len(keys) * fraction))
    wanted = min(wanted, len(keys) // 2)
    held = set(ranked[:wanted])
    train = [row for row in rows if prompt_key(row) not in held]
    heldout = [row for row in rows if prompt_key(row) in held]
    return train, heldout


def completion_text(row: dict[str, Any], key: str) -> str:
    return row[key][0]["content"]


def to_openai_preference(row: dict[str, Any]) -> dict[str, Any]:
    """A DPO row in OpenAI's preference fine-tuning format."""
    return {
        "input": {"messages": row["prompt"]},
        "preferred_output": row["chosen"],
        "non_preferred_output": row["rejected"],
    }


def to_openai_chat(row: dict[str, Any]) -> dict[str, Any]:
    """An SFT row in OpenAI's supervised fine-tuning format."""
    return {"messages": row["prompt"] + row["completion"]}
