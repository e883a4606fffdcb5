"""The training stack is an optional extra; this is the one place that says so clearly."""

from __future__ import annotations

import importlib

STACK = ("torch", "transformers", "trl", "peft", "datasets")
INSTALL_HINT = "pip install -e '.[train]' in the clone  (CPU torch: pip install torch==2.13.0 first)"


class TrainingStackMissing(RuntimeError):
    """torch / transformers / trl / peft / datasets are not installed."""


def missing_packages() -> list[str]:
    missing = []
    for name in STACK:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    return missing


def require_training_stack() -> None:
    """Raise ``TrainingStackMissing`` naming what to install; the bots never call this."""
    missing = missing_packages()
    if missing:
        raise TrainingStackMissing(f"training needs {', '.join(missing)}; install it with: {INSTALL_HINT}")
