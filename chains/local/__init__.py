"""Open models on this machine: the packaged SmolLM2, GGUF conversion, in-process generation.

Everything here needs the ``train`` extra (torch, transformers, gguf) except the spec parsing,
so importing the package costs nothing; the heavy imports happen inside the functions.
"""

from chains.local.bases import PACKAGED, BaseModelError, base_cache_dir, resolve_base

__all__ = ["PACKAGED", "BaseModelError", "base_cache_dir", "resolve_base"]
