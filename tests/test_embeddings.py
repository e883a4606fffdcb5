"""chains.embeddings: the packaged static embedder the offline grader and `mockingbird eval` share."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
import yaml

import chains.embeddings as embeddings
from chains.embeddings import DIMENSIONS, EMBEDDER_VERSION, EmbeddingsUnavailable, cosine, cosine_matrix, embed

ROOT = Path(__file__).resolve().parents[1]

EDGE_CASES = [
    "", "   \n\t ", "🙂🙂", "Café naïve RÉSUMÉ", "cafe naive resume", "日本語のテキストと English",
    "don’t — “quotes” …", "a\x00b c\x1cd e\x85f", "[PAD] [UNK] x [pad]", "x" * 150,
    "tab\there\r\nnew\u00a0line\u2003em", "snake_case_name", "C++ & C# / .NET: 99.9% (p99) <= 200ms!",
    "zero\u200bwidth soft\u00adhyphen", "Ǆemal ﬁnal Ⅻ ①", "ÀÉÎÕÜ ß ŉ İstanbul",
]


def corpus() -> list[str]:
    texts = list(EDGE_CASES)
    for path in sorted((ROOT / "chains" / "bank" / "data").glob("*.yaml")):
        for question in yaml.safe_load(path.read_text())["questions"]:
            texts += [question["text"], *question["key_points"]]
    for path in sorted((ROOT / "tasks" / "evaluation" / "data").glob("*.yaml")):
        texts += [item["answer"] for item in yaml.safe_load(path.read_text())["items"]]
    return texts


def test_an_answer_is_closer_to_its_question_than_an_unrelated_one() -> None:
    question, on_topic, off_topic = embed(["How do you speed up a slow database query?",
                                          "We cut p99 latency by adding an index",
                                          "I baked sourdough for the bake sale"])
    assert cosine(question, on_topic) > cosine(question, off_topic) + 0.2


def test_a_paraphrased_key_point_is_closer_than_an_unrelated_sentence() -> None:
    point, paraphrase, unrelated = embed([
        "slower writes on INSERT, UPDATE and DELETE",
        "every insert or update also has to maintain each index, so writing gets slower",
        "I organised the team offsite and booked the venue",
    ])
    assert cosine(point, paraphrase) > 0.5 > cosine(point, unrelated) + 0.2


def test_a_behavioural_answer_is_closer_to_a_behavioural_question_than_a_technical_answer() -> None:
    question, story, technical = embed([
        "Tell me about a time you disagreed with a teammate.",
        "My colleague wanted to rewrite the service; I disagreed, we compared the risks and agreed on a migration.",
        "Use a B-tree index on the created_at column.",
    ])
    assert cosine(question, story) > cosine(question, technical) + 0.1


def test_rows_are_float32_unit_vectors_of_the_declared_size() -> None:
    vectors = embed(["one short sentence", "A longer answer about caching, TTLs and invalidating on writes. " * 20])
    assert vectors.dtype == np.float32 and vectors.shape == (2, DIMENSIONS)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert cosine_matrix(vectors, vectors) == pytest.approx(vectors @ vectors.T, abs=1e-5)


def test_the_same_text_gives_the_same_row_alone_in_a_batch_and_across_calls() -> None:
    text = "Idempotency keys let clients retry a POST safely."
    alone = embed([text])[0]
    batch = embed(["something else entirely", text, "", text])
    assert np.array_equal(alone, batch[1]) and np.array_equal(alone, batch[3])
    assert np.array_equal(alone, embed([text])[0])


def test_text_with_no_known_token_is_a_zero_row_and_compares_as_zero() -> None:
    vectors = embed(["", "   \n", "🙂🙂", "ok"])
    assert not vectors[:3].any() and vectors[3].any()
    assert cosine(vectors[0], vectors[3]) == 0.0
    assert not cosine_matrix(vectors[:1], vectors).any()
    assert embed([]).shape == (0, DIMENSIONS)


def test_a_single_string_is_refused_rather_than_embedded_letter_by_letter() -> None:
    with pytest.raises(TypeError):
        embed("a question")  # type: ignore[arg-type]


def test_unicode_is_normalised_like_the_source_model() -> None:
    accented, plain, cjk, quotes = embed(["Café naïve RÉSUMÉ", "cafe naive resume", "日本語のテキスト",
                                          "don’t “quote” me"])
    assert np.array_equal(accented, plain)  # lower-cased, accents stripped, as BERT uncased does
    assert cjk.any() and quotes.any()


def test_the_fast_path_gives_the_tokenizers_own_ids() -> None:
    """token_ids splits ASCII in Python; it must agree with the WordPiece tokenizer on every text."""
    model = embeddings._model()
    for text in corpus():
        expected = [i for i in model.tokenizer.encode(text, add_special_tokens=False).ids if i != model.unk_id]
        assert embeddings.token_ids(text) == expected, text


def test_one_answer_takes_well_under_a_millisecond_once_loaded() -> None:
    """A loose bound (shared CI cores): 100 distinct 300-word answers in under a second, caches cold."""
    words = " ".join(corpus()).split()
    answers = [" ".join(words[i * 97:i * 97 + 300]) for i in range(100)]
    embed(["load"])
    embeddings._word_ids.cache_clear()
    embeddings._chunk_ids.cache_clear()
    start = time.perf_counter()
    for answer in answers:
        embed([answer])
    assert time.perf_counter() - start < 1.0


def test_missing_files_raise_embeddings_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "DATA_DIR", tmp_path)
    embeddings._model.cache_clear()
    try:
        with pytest.raises(EmbeddingsUnavailable, match="model.safetensors"):
            embed(["anything"])
    finally:
        monkeypatch.undo()
        embeddings._model.cache_clear()


def test_the_artifact_is_small_licensed_packaged_and_of_this_version() -> None:
    data = embeddings.DATA_DIR
    files = {path.name for path in data.iterdir()}
    assert {"model.safetensors", "tokenizer.json", "config.json", "LICENSE", "NOTICE"} <= files
    assert sum(path.stat().st_size for path in data.iterdir()) < 16 * 2**20
    assert json.loads((data / "config.json").read_text())["mockingbird"]["embedder_version"] == EMBEDDER_VERSION
    assert "Apache License" in (data / "LICENSE").read_text() and "MIT License" in (data / "LICENSE").read_text()
    assert "all-MiniLM-L6-v2" in (data / "NOTICE").read_text()
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "embeddings/data/*" in package_data["chains"]


def test_eval_uses_the_same_embedder() -> None:
    from tasks.evaluation import embeddings as eval_embeddings

    texts = ["What is a database index?", ""]
    assert eval_embeddings.EmbeddingsUnavailable is EmbeddingsUnavailable
    assert np.array_equal(np.asarray(eval_embeddings.embed(texts), dtype=np.float32), embed(texts))


def test_embedding_needs_neither_torch_nor_the_network() -> None:
    script = """
import socket, sys
def refuse(*args, **kwargs):
    raise OSError("network access attempted")
socket.socket.connect = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import chains.embeddings, tasks.evaluation.embeddings
vectors = chains.embeddings.embed(["How do you speed up a slow database query?"])
tasks.evaluation.embeddings.embed(["x"])
assert vectors.shape == (1, chains.embeddings.DIMENSIONS)
heavy = sorted(m for m in ("torch", "transformers", "sentence_transformers", "model2vec") if m in sys.modules)
print(",".join(heavy) or "none")
"""
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "none"
