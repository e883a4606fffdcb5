"""An open model in this process on CPU: a base, optional PEFT LoRA adapters, constrained or raw text.

``LocalModel.generate`` is the one generation path: the ``local`` provider, the loopback TGI server
(``bench/tgi_local.py``) and the fine-tuning benchmark all call it, so the tokens/s they report and
the JSON they get come from the same code. Constrained decoding is outlines' JSON-schema logits
processor on llguidance, with every list and string bounded so that the reply always closes within
its token budget; ``schema=None`` measures the raw rate.

One model answers one request at a time (a lock): on two cores a second concurrent generation would
only halve both. Adapters share the base weights (PEFT ``load_adapter``), so a registry A/B over
several LoRA versions costs their adapter weights, not another base each.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chains.local.readout import median_value, with_value

# The grammar bounds every list and string that has no bound in the schema: a model that has not
# learnt the short reply (the base, or a briefly trained adapter) would otherwise keep writing one
# string or repeating one list item until max_new_tokens and never close the JSON. llguidance checks
# string lengths lazily (its lexer counts), so maxLength costs nothing to build; outlines-core
# unrolled it into one automaton state per character (80 s to over 5 minutes for this schema).
# Top-level strings (the summary) get room for the recruiters' longest reason (~320 characters);
# strings inside lists and objects (remarks, criterion names) are short phrases.
MAX_ITEMS = 3
MAX_TEXT_CHARS = 400
MAX_ITEM_CHARS = 100
DEFAULT_MAX_NEW_TOKENS = 512
# At most one space between JSON tokens: a grammar's default lets a model pad with newlines.
WHITESPACE = " ?"


@dataclass(frozen=True)
class Generation:
    text: str
    new_tokens: int
    seconds: float
    constrained: bool

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def bounded(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with every array and string bounded: its own ``maxItems`` / ``maxLength`` or the
    local budget, whichever is smaller; integers need ``minimum`` and ``maximum`` (``exact_json_schema``)."""

    def walk(node: Any, top: bool) -> Any:
        if isinstance(node, list):
            return [walk(item, top) for item in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):  # the root object's fields are "top"
                out[key] = {name: walk(field, top) for name, field in value.items()}
            else:
                out[key] = walk(value, False)
        if out.get("type") == "array":
            out["maxItems"] = min(out.get("maxItems", MAX_ITEMS), MAX_ITEMS)
        if out.get("type") == "string":
            budget = MAX_TEXT_CHARS if top else MAX_ITEM_CHARS
            out["maxLength"] = min(out.get("maxLength", budget), budget)
        return out

    return {**walk(schema, True), "x-guidance": {"whitespace_pattern": WHITESPACE}}


def max_reply_chars(schema: dict[str, Any]) -> int | None:
    """The longest JSON ``bounded(schema)`` admits, in characters, hence an upper bound in tokens
    (every token writes at least one character): a token cap at least this long always lets the
    grammar close the reply. Escapes are counted as one character, as the grammar counts them.
    None when the schema has an integer without a range (``strict_json_schema`` drops them)."""
    space = len(WHITESPACE.rstrip("?"))  # the optional space, taken everywhere

    def longest(node: dict[str, Any]) -> int:
        kind = node.get("type")
        if "enum" in node:
            return max(len(json.dumps(value)) for value in node["enum"])
        if kind == "string":
            return 2 + int(node["maxLength"])
        if kind == "integer" and "minimum" in node and "maximum" in node:
            return max(len(str(node["minimum"])), len(str(node["maximum"])))
        if kind == "boolean":
            return 5
        if kind == "array":  # "[ a , b ]": a space may stand on either side of every bracket and comma
            count = int(node["maxItems"])
            return 2 + 2 * space + count * longest(node["items"]) + max(0, count - 1) * (1 + 2 * space)
        if kind == "object":
            fields = node.get("properties", {})
            pairs = sum(len(json.dumps(name)) + 1 + 2 * space + longest(field) for name, field in fields.items())
            return 2 + 2 * space + pairs + max(0, len(fields) - 1) * (1 + 2 * space)
        raise _Unbounded(kind)

    try:
        return longest(bounded(schema))
    except _Unbounded:
        return None


class _Unbounded(Exception):
    """A node ``max_reply_chars`` cannot bound (an integer without a range, a number, ``anyOf``)."""


class LocalModel:
    """A causal LM (an HF directory) and its tokenizer, with any number of named LoRA adapters."""

    def __init__(self, base_dir: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.base_dir = Path(base_dir)
        self.tokenizer = AutoTokenizer.from_pretrained(self.base_dir)
        self.model: Any = AutoModelForCausalLM.from_pretrained(self.base_dir, dtype=torch.float32).eval()
        self.adapters: dict[str, Path] = {}
        self._processors: dict[str, Any] = {}  # schema JSON -> logits processor (building one takes seconds)
        self._outlines: Any = None
        self._lock = threading.Lock()

    # ── adapters ────────────────────────────────────────────────────────────────────
    def add_adapter(self, name: str, path: Path) -> None:
        """Load a PEFT adapter directory under ``name`` (idempotent)."""
        with self._lock:
            if name in self.adapters:
                return
            from peft import PeftModel

            if not self.adapters:
                self.model = PeftModel.from_pretrained(self.model, str(path), adapter_name=name).eval()
            else:
                self.model.load_adapter(str(path), adapter_name=name)
            self.adapters[name] = Path(path)

    # ── generation ──────────────────────────────────────────────────────────────────
    def prompt_ids(self, prompt: str | Sequence[dict[str, str]]) -> Any:
        """Token ids for a plain prompt, or for chat messages through the model's chat template."""
        if isinstance(prompt, str):
            return self.tokenizer(prompt, return_tensors="pt")["input_ids"]
        if self.tokenizer.chat_template:
            rendered = self.tokenizer.apply_chat_template(list(prompt), add_generation_prompt=True, tokenize=False)
        else:
            rendered = "".join(f"{m['role']}: {m['content']}\n" for m in prompt) + "assistant: "
        return self.tokenizer(rendered, return_tensors="pt", add_special_tokens=False)["input_ids"]

    def _processor(self, schema: dict[str, Any]) -> Any:
        import outlines
        from outlines.backends import get_json_schema_logits_processor

        key = json.dumps(schema, sort_keys=True)
        if key not in self._processors:
            if self._outlines is None:
                self._outlines = outlines.from_transformers(self.model, self.tokenizer)
            # llguidance reads the whitespace rule from the schema's "x-guidance" key (``bounded``).
            self._processors[key] = get_json_schema_logits_processor(
                "llguidance", self._outlines, json.dumps(bounded(schema))
            )
        processor = self._processors[key]
        processor.reset()
        return processor

    def generate(
        self,
        prompt: str | Sequence[dict[str, str]],
        *,
        schema: dict[str, Any] | None = None,
        adapter: str | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        temperature: float = 0.0,
        seed: int = 0,
        median: str | None = None,
    ) -> Generation:
        """The model's continuation of ``prompt``: JSON to ``schema`` when given, raw text otherwise.

        ``adapter`` names an adapter added with ``add_adapter`` (None: the base weights alone).
        ``temperature`` 0 is greedy decoding; above 0 samples, seeded, so a rerun repeats itself.
        With a schema the token cap is raised to the longest reply it admits (``max_reply_chars``),
        so a constrained reply always closes. ``median`` names an integer field with a range in the
        schema, the reply's last: its number is the median of the model's distribution over the range
        (``chains.local.readout``), not the greedy digits.
        """
        import torch
        from transformers import LogitsProcessorList

        with self._lock:
            if adapter is not None and adapter not in self.adapters:
                raise KeyError(f"no adapter named {adapter!r} is loaded")
            ids = self.prompt_ids(prompt)
            options: dict[str, Any] = {"max_new_tokens": max_new_tokens, "do_sample": temperature > 0,
                                       "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id}
            if temperature > 0:
                options["temperature"] = temperature
                torch.manual_seed(seed)
            if schema is not None:
                options["logits_processor"] = LogitsProcessorList([self._processor(schema)])
                options["max_new_tokens"] = max(max_new_tokens, max_reply_chars(schema) or 0)
            started = time.perf_counter()
            with torch.inference_mode(), self._adapter(adapter):
                output = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **options)
                new = output[0, ids.shape[1]:]
                text = self.tokenizer.decode(new, skip_special_tokens=True)
                bounds = (schema or {}).get("properties", {}).get(median or "", {})
                if median and "minimum" in bounds and "maximum" in bounds:
                    value = median_value(self.model, self.tokenizer, ids, new, text, median,
                                         int(bounds["minimum"]), int(bounds["maximum"]))  # fmt: skip
                    text = text if value is None else with_value(text, median, value)
            seconds = time.perf_counter() - started
        return Generation(text=text, new_tokens=int(new.shape[0]), seconds=seconds, constrained=schema is not None)

    def _adapter(self, name: str | None) -> Any:
        """A context in which ``self.model`` answers with adapter ``name``, or with the base alone."""
        import contextlib

        if not self.adapters:
            return contextlib.nullcontext()
        if name is None:
            return self.model.disable_adapter()
        self.model.set_adapter(name)
        return contextlib.nullcontext()


_LOADED: dict[Path, LocalModel] = {}
_LOADED_LOCK = threading.Lock()


def load(base_dir: Path) -> LocalModel:
    """The process's one ``LocalModel`` for ``base_dir`` (loading 135 M parameters takes seconds)."""
    key = Path(base_dir).resolve()
    with _LOADED_LOCK:
        if key not in _LOADED:
            _LOADED[key] = LocalModel(key)
        return _LOADED[key]
