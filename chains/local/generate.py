"""An open model in this process on CPU: a base, optional PEFT LoRA adapters, constrained or raw text.

``LocalModel.generate`` is the one generation path: the ``local`` provider, the loopback TGI server
(``bench/tgi_local.py``) and the fine-tuning benchmark all call it, so the tokens/s they report and
the JSON they get come from the same code. Constrained decoding is outlines' JSON-schema logits
processor on outlines-core (the grammar engine TGI itself uses); ``schema=None`` measures the raw rate.

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

# Arrays without a bound in the schema get this one in the grammar: a small model that starts
# repeating a list item would otherwise fill max_new_tokens and never close the JSON. Strings stay
# unbounded: outlines-core unrolls ``maxLength`` into one automaton state per character, and the
# token index over the 49 k vocabulary took 80 s to build with maxLength 100 on FeedbackOut's five
# strings (and over five minutes with 300 on the summary alone), against 4 s without. A long reply is
# kept in bounds by what the model is trained on (``tasks.training.annotated_rows``: ~70 tokens)
# and by ``max_new_tokens``.
MAX_ITEMS = 6
DEFAULT_MAX_NEW_TOKENS = 512


@dataclass(frozen=True)
class Generation:
    text: str
    new_tokens: int
    seconds: float
    constrained: bool

    @property
    def tokens_per_s(self) -> float:
        return self.new_tokens / self.seconds if self.seconds > 0 else 0.0


def bounded(schema: dict[str, Any], max_items: int = MAX_ITEMS) -> dict[str, Any]:
    """``schema`` with ``maxItems`` on every array that has none (cheap for the grammar, unlike string lengths)."""

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        out = {key: walk(value) for key, value in node.items()}
        if out.get("type") == "array" and "maxItems" not in out:
            out["maxItems"] = max_items
        return out

    return walk(schema)


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
            # " ?": at most one space between JSON tokens; outlines' default lets a model pad with
            # newlines until max_new_tokens runs out.
            self._processors[key] = get_json_schema_logits_processor(
                None, self._outlines, json.dumps(bounded(schema)), whitespace_pattern=" ?"
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
    ) -> Generation:
        """The model's continuation of ``prompt``: JSON to ``schema`` when given, raw text otherwise.

        ``adapter`` names an adapter added with ``add_adapter`` (None: the base weights alone).
        ``temperature`` 0 is greedy decoding; above 0 samples, seeded, so a rerun repeats itself.
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
            started = time.perf_counter()
            with torch.inference_mode(), self._adapter(adapter):
                output = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **options)
            seconds = time.perf_counter() - started
        new = output[0, ids.shape[1]:]
        text = self.tokenizer.decode(new, skip_special_tokens=True)
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
