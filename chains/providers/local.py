"""An open model in this process: ``LLM_PROVIDER=local`` (``LOCAL_MODEL``, ``LOCAL_ADAPTER``).

The base is any spec ``chains.local.resolve_base`` reads (default: the packaged SmolLM2); the
adapter is a PEFT directory or the name of a version under the data directory's ``models/``
(where ``mockingbird retrain --backend trl`` writes), so the registry's traffic split can send a
session to a candidate adapter (``with_model``) exactly as it picks a TGI ``adapter_id``.
Constrained decoding (``LOCAL_CONSTRAINED``, on by default) is the JSON grammar; off, the provider's
lenient parse, repair call and fallback order see the raw model, which is how its raw validity
rate is measured. Needs the ``train`` extra; without it the provider fails like a dead one and
the fallback order moves on. It does not stream: a request's ``on_text`` is never called.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chains.contract import ProviderError
from chains.llm.task import Message, OutputSpec
from chains.providers.base import ChatProvider

BASE_NAME = "local-base"  # the model recorded with calls the base answered


def adapter_path(adapter: str, adapters_dir: Path) -> tuple[str, Path]:
    """``(name, directory)`` of a PEFT adapter given as a directory or a version name under
    ``adapters_dir``; raises ``ProviderError`` when there is no ``adapter_config.json`` there."""
    path = Path(adapter).expanduser()
    name = path.name if path.is_dir() else adapter
    if not path.is_dir():
        path = adapters_dir / adapter
    if not (path / "adapter_config.json").is_file():
        raise ProviderError(f"no PEFT adapter at {adapter!r} (looked for adapter_config.json in {path})")
    return name, path


class LocalProvider(ChatProvider):
    name = "local"
    # Small open models: their adapters (and full fine-tunes) learnt on the compact system text, and
    # a 135 M base does not follow the full rubric anyway (docs/benchmarks.md); prefill is halved.
    compact_prompt = True

    def __init__(self, settings: Any, model: Any) -> None:
        """``model`` is the loaded base (a ``chains.local.generate.LocalModel``); the adapter and
        decoding come from settings."""
        super().__init__(settings, model=BASE_NAME, where=f"local model {model.base_dir.name}")
        self.local = model
        self.adapters_dir: Path = settings.data_dir / "models"
        self.adapter: str | None = None
        self.constrained: bool = settings.local_constrained
        self.max_new_tokens: int = settings.local_max_new_tokens
        if settings.local_adapter:
            self._use(settings.local_adapter)

    def _use(self, adapter: str) -> None:
        """Load ``adapter`` (a directory, or a version name under ``adapters_dir``) and answer with it."""
        name, path = adapter_path(adapter, self.adapters_dir)
        self.local.add_adapter(name, path)
        self.adapter = self.model = name

    def complete(self, messages: list[Message], spec: OutputSpec) -> str:
        generation = self.local.generate(
            messages,
            schema=(spec.exact or spec.schema) if self.constrained else None,
            adapter=self.adapter,
            max_new_tokens=self.max_new_tokens,
            temperature=spec.temperature,
            median="score" if self.constrained else None,  # the feedback's score: read, not greedy digits
        )
        return generation.text

    def with_model(self, model: str) -> LocalProvider:
        """The same base with another adapter: a registry version name (``models/<name>``) or a path."""
        variant = super().with_model(model)
        variant._use(model)
        return variant


def build(settings: Any) -> LocalProvider:
    """The ``local`` provider; the base is converted (once) and loaded (once per process) here."""
    try:
        from chains.local import BaseModelError, base_cache_dir, resolve_base
        from chains.local.generate import load
    except ImportError as exc:  # pragma: no cover - the default install
        raise ProviderError(f"the local provider needs the train extra ({exc.name} is missing)") from exc
    try:
        base = resolve_base(settings.local_model, base_cache_dir(settings.data_dir))
        model = load(base)
    except BaseModelError as exc:
        raise ProviderError(f"LOCAL_MODEL: {exc}") from exc
    except ImportError as exc:
        raise ProviderError(f"the local provider needs the train extra: uv sync --extra train "
                            f"({exc.name} is missing)") from exc
    return LocalProvider(settings, model)
