"""Sentence embeddings for question diversity and relevance: the grader's own embedder.

``mockingbird eval`` and the offline grader measure meaning with one model, ``chains.embeddings``
(a static table distilled from all-MiniLM-L6-v2, shipped in the default install: no torch, no
network), so a similarity in an eval report and one in a grade are on the same scale. This module
keeps the interface the harness uses: ``embed`` returns plain lists, and ``EmbeddingsUnavailable``
(raised only when the packaged files are missing) makes the harness skip those metrics with a note.
"""

from __future__ import annotations

from collections.abc import Sequence

from chains import embeddings
from chains.embeddings import EMBEDDER_VERSION, EmbeddingsUnavailable

__all__ = ["EMBEDDER_VERSION", "EmbeddingsUnavailable", "embed"]


def embed(texts: Sequence[str]) -> list[list[float]]:
    """One L2-normalised vector per text (all zeros for a text with no known word)."""
    return embeddings.embed(list(texts)).tolist()
