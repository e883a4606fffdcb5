"""Test and benchmark support, not shipped in the package: a LLaMA-architecture model built from
a config, with a tokenizer trained on the project's own text.

Nothing is downloaded: the tokenizer learns its vocabulary from the question bank and the
answer fixtures, and the weights are randomly initialised. Tests use a tiny one as ``--base``;
the GPU benchmark uses a 1B-class one. Both are saved with ``save_pretrained`` so every other
part of the training code loads them exactly like a hub checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SPECIAL_TOKENS = ["<|pad|>", "<|end|>", "<|system|>", "<|user|>", "<|assistant|>"]
# The prompt rendered with ``add_generation_prompt`` is a strict prefix of prompt + answer,
# which is what TRL needs to cut the completion off the prompt cleanly.
CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>\n{{ message['content'] }}<|end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


@dataclass(frozen=True)
class ScratchSpec:
    """Model size. The defaults make a model that trains DPO on two CPU cores in seconds."""

    vocab_size: int = 2048
    hidden_size: int = 64
    intermediate_size: int = 128
    num_hidden_layers: int = 2
    num_attention_heads: int = 4
    num_key_value_heads: int = 2
    max_position_embeddings: int = 1024
    seed: int = 0


# Roughly Llama-3.2-1B's shape, for the GPU benchmark.
ONE_B = ScratchSpec(
    vocab_size=32000,
    hidden_size=2048,
    intermediate_size=8192,
    num_hidden_layers=16,
    num_attention_heads=32,
    num_key_value_heads=8,
    max_position_embeddings=4096,
)


def project_texts(extra: Iterable[str] = ()) -> Iterator[str]:
    """Every question, key point and fixture answer the project ships, plus ``extra`` lines."""
    for path in sorted((ROOT / "chains" / "bank" / "data").glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for question in data.get("questions", []):
            yield question.get("text", "")
            yield from question.get("key_points", [])
    for path in sorted((ROOT / "tests" / "fixtures").rglob("*.yaml")):
        yield from _strings(yaml.safe_load(path.read_text(encoding="utf-8")))
    yield from extra


def _strings(node: object) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value)


def train_tokenizer(texts: Iterable[str], vocab_size: int):  # type: ignore[no-untyped-def]
    """A byte-level BPE tokenizer with a chat template, as a ``PreTrainedTokenizerFast``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    core.train_from_iterator(texts, trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=core,
        pad_token="<|pad|>",
        eos_token="<|end|>",
        additional_special_tokens=SPECIAL_TOKENS[2:],
    )
    tokenizer.chat_template = CHAT_TEMPLATE
    return tokenizer


def build_scratch_model(
    out_dir: Path, spec: ScratchSpec = ScratchSpec(), extra_texts: Iterable[str] = ()
) -> Path:
    """Save a freshly initialised LLaMA and its tokenizer to ``out_dir``; returns ``out_dir``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer(project_texts(extra_texts), spec.vocab_size)
    torch.manual_seed(spec.seed)
    sizes = {name: value for name, value in asdict(spec).items() if name not in ("vocab_size", "seed")}
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        **sizes,  # the spec's other fields are LlamaConfig's own arguments
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        bos_token_id=None,
        tie_word_embeddings=True,
    )
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    out_dir.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    return out_dir
