"""Sentence embeddings for the offline grader and ``mockingbird eval``: one small static model.

Why a static model: the grader scores every answer by how far it addresses its question and how
much of the question's key points it covers by meaning, and it must run in the default install
with no torch, no network and about a millisecond per answer on one core. A transformer cannot,
so ``data/`` holds a model2vec-format table distilled once from all-MiniLM-L6-v2: one int8 vector
of 256 dimensions per WordPiece token, centred and aligned to the transformer's own sentence
embeddings (``chains/embeddings/convert.py`` says how; ``data/NOTICE`` says from what). A text's
embedding is the mean of its tokens' vectors, L2-normalised.

Why not ``model2vec.StaticModel`` at run time, though the files are in its format (and it loads
them, with the same vectors): its ``encode`` took 0.6-0.9 ms for a 300-word answer on one core,
nearly all of it in the tokenizer's Unicode normaliser and pre-tokenizer, and its
``from_pretrained`` downloads from the hub when a path is missing. Here plain ASCII, which
is most of what people type, is normalised and split in Python exactly as BERT's normaliser and
pre-tokenizer would (lower-case; split on whitespace and ASCII punctuation), and each word's
WordPiece ids are cached; any other whitespace-separated chunk goes through the tokenizer
itself, and a text with control characters or literal special tokens goes through it whole.
tests/test_embeddings.py checks that both paths give the tokenizer's own ids.

Use ``embed`` for vectors and ``cosine`` / ``cosine_matrix`` to compare them. Scores from this
embedder are on its own scale (an answer to another role's question sits near 0, a genuine answer
to its own question mostly 0.15-0.6); thresholds tuned on it hold only for the same
``EMBEDDER_VERSION``. Once loaded (~0.1 s), a 300-word answer takes ~0.1-0.25 ms (word caches warm)
and under 0.7 ms with every cache cold.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["DATA_DIR", "DIMENSIONS", "EMBEDDER_VERSION", "EmbeddingsUnavailable", "cosine", "cosine_matrix",
           "embed", "token_ids"]

EMBEDDER_VERSION = "minilm-l6-static-256-v1"
DIMENSIONS = 256
DATA_DIR = Path(__file__).resolve().with_name("data")
_FILES = ("model.safetensors", "tokenizer.json", "config.json")

# BERT's normaliser drops these (control characters other than tab, newline and carriage return),
# which can join the words on either side; str.split() would split there instead.
_NEEDS_TOKENIZER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]|\[(?:PAD|UNK)\]")
# BERT's pre-tokenizer on lower-cased ASCII: runs of letters and digits; each punctuation mark alone.
_ASCII_PIECES = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")


class EmbeddingsUnavailable(RuntimeError):
    """The packaged model files are missing or unreadable (a broken or partial install)."""


@dataclass(frozen=True)
class _Model:
    vectors: np.ndarray  # (vocabulary, DIMENSIONS) int8, as stored: cosine ignores the table's one scale
    tokenizer: Any  # tokenizers.Tokenizer
    vocabulary: dict[str, int]
    unk_id: int


@lru_cache(maxsize=1)
def _model() -> _Model:
    missing = [name for name in _FILES if not (DATA_DIR / name).is_file()]
    if missing:
        raise EmbeddingsUnavailable(f"The packaged embedding model is incomplete: {', '.join(missing)} missing "
                                    f"from {DATA_DIR}. Reinstall mockingbird.")
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    try:
        table = load_file(str(DATA_DIR / "model.safetensors"))["embeddings"]
        tokenizer = Tokenizer.from_file(str(DATA_DIR / "tokenizer.json"))
        config = json.loads((DATA_DIR / "config.json").read_text())
    except Exception as exc:  # OSError, bad JSON, a missing tensor, or the safetensors and tokenizers errors
        raise EmbeddingsUnavailable(f"The packaged embedding model in {DATA_DIR} cannot be read ({exc}). "
                                    "Reinstall mockingbird.") from exc
    tokenizer.no_padding()
    tokenizer.no_truncation()
    unk_id = tokenizer.token_to_id("[UNK]")
    version = config.get("mockingbird", {}).get("embedder_version")
    if (table.dtype != np.int8 or table.shape != (tokenizer.get_vocab_size(), DIMENSIONS) or unk_id is None
            or version != EMBEDDER_VERSION):
        raise EmbeddingsUnavailable(f"The packaged embedding model in {DATA_DIR} is not {EMBEDDER_VERSION} "
                                    f"({table.dtype} {table.shape}, version {version!r}). Reinstall mockingbird.")
    table.setflags(write=False)
    return _Model(vectors=table, tokenizer=tokenizer, vocabulary=tokenizer.get_vocab(), unk_id=unk_id)


@lru_cache(maxsize=1 << 16)
def _word_ids(word: str) -> tuple[int, ...]:
    """WordPiece ids of one lower-cased ASCII word or punctuation mark, without [UNK]."""
    model = _model()
    whole = model.vocabulary.get(word)  # WordPiece takes the longest match first: a known word is one token
    if whole is not None and len(word) <= 100:
        return (whole,)
    return tuple(t.id for t in model.tokenizer.model.tokenize(word) if t.id != model.unk_id)


@lru_cache(maxsize=1 << 15)
def _chunk_ids(chunk: str) -> tuple[int, ...]:
    """Ids of one whitespace-free chunk of text."""
    if chunk.isascii():
        return tuple(chain.from_iterable(map(_word_ids, _ASCII_PIECES.findall(chunk.lower()))))
    return _tokenizer_ids(chunk)


def _tokenizer_ids(text: str) -> tuple[int, ...]:
    model = _model()
    return tuple(i for i in model.tokenizer.encode(text, add_special_tokens=False).ids if i != model.unk_id)


def token_ids(text: str) -> list[int]:
    """The WordPiece ids whose vectors make up ``text``'s embedding ([UNK] left out)."""
    if _NEEDS_TOKENIZER.search(text):
        return list(_tokenizer_ids(text))
    return list(chain.from_iterable(map(_chunk_ids, text.split())))


def embed(texts: Sequence[str]) -> np.ndarray:
    """Float32 array of shape (len(texts), DIMENSIONS), one L2-normalised row per text.

    A text with no known token (empty, whitespace, emoji only) gets an all-zero row, whose cosine
    with anything is 0. Deterministic: the same text always gives the same row, in any batch (the
    int8 vectors are summed exactly in int32 before the one division).
    """
    if isinstance(texts, str):
        raise TypeError("embed takes a sequence of texts; wrap a single text in a list")
    vectors = _model().vectors
    out = np.zeros((len(texts), DIMENSIONS), dtype=np.float32)
    for row, text in enumerate(texts):
        ids = token_ids(text)
        if ids:
            total = np.take(vectors, ids, axis=0).sum(axis=0, dtype=np.int32).astype(np.float32)
            norm = float(np.linalg.norm(total))
            if norm > 0:
                out[row] = total / norm
    return out


def cosine(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray) -> float:
    """Cosine of two vectors; 0.0 when either is all zeros."""
    u, v = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    norm = float(np.linalg.norm(u) * np.linalg.norm(v))
    return float(np.dot(u, v)) / norm if norm > 0 else 0.0


def cosine_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cosines of every row of ``a`` with every row of ``b``, shape (len(a), len(b)); zero rows give 0."""
    u, v = np.atleast_2d(np.asarray(a, dtype=np.float32)), np.atleast_2d(np.asarray(b, dtype=np.float32))
    u = u / np.maximum(np.linalg.norm(u, axis=1, keepdims=True), np.float32(1e-12))
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), np.float32(1e-12))
    return u @ v.T
