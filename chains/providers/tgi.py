"""``TGIProvider``: a fine-tuned open model (LLaMA / Mistral / Falcon) served by Text Generation Inference.

The client is huggingface_hub's ``InferenceClient`` (the maintained TGI client; the older
``text-generation`` package is deprecated); the messages go to it as they are, role dicts.
Structured output is TGI's JSON grammar; ``TGI_ADAPTER_ID`` picks the LoRA adapter per request
(on the Messages API TGI reads it from ``model``; on ``/generate`` from ``parameters.adapter_id``).
A model without a chat template makes TGI refuse the Messages API; the provider then uses ``/generate``
with a plain-text prompt. Both stream (server-sent events) when a request wants the text early.
InferenceClient has no retries, so ``chains.llm.retry`` adds them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from huggingface_hub import InferenceClient

from chains.contract import ProviderError
from chains.llm.errors import status_of
from chains.llm.retry import stream_with_retries, with_retries
from chains.llm.task import Message, OutputSpec
from chains.providers.base import ChatProvider

log = logging.getLogger(__name__)
T = TypeVar("T")
BASE_MODEL = "tgi"  # TGI's name for "no adapter" on the Messages API
MAX_NEW_TOKENS = 1024


def plain_prompt(messages: list[Message]) -> str:
    """A chat as plain text, for ``/generate`` when the model has no chat template."""
    parts = [f"### {m['role'].capitalize()}:\n{m['content']}" for m in messages]
    return "\n\n".join(parts) + "\n\n### Assistant:\n"


def _template_missing(exc: BaseException) -> bool:
    """TGI without the Messages API (404), or a model without a chat template (422 "Template error")."""
    status = status_of(exc)
    return status == 404 or (status == 422 and "template" in str(exc).lower())


class TGIProvider(ChatProvider):
    name = "tgi"
    streams = True  # both APIs stream their constrained text (server-sent events)

    def __init__(self, settings: Any) -> None:
        """From settings; a missing ``TGI_URL`` fails like a dead provider (the fallback order moves on)."""
        if not settings.tgi_url:
            raise ProviderError("TGI_URL is not set")
        url = settings.tgi_url.rstrip("/")
        self.adapter_id: str | None = settings.tgi_adapter_id
        super().__init__(settings, model=self.adapter_id or "tgi-base", where=url)
        api_key = settings.tgi_api_key.get_secret_value() if settings.tgi_api_key is not None else None
        # Without a key, huggingface_hub would send the machine's saved Hugging Face token (HF_TOKEN,
        # `hf auth login`) to this URL; an explicit empty Authorization header keeps it at home.
        headers = None if api_key else {"authorization": ""}
        self.client = InferenceClient(base_url=url, token=api_key or None, timeout=self.timeout_s, headers=headers)
        self.chat_api = True  # until the server says the model has no chat template

    @property
    def compact_prompt(self) -> bool:  # type: ignore[override]
        """An adapter was trained here (``retrain --backend trl``) on the compact prompt; the base
        alone may be any open model, and gets the full instructions."""
        return self.adapter_id is not None

    def _chat(self, messages: list[Message], spec: OutputSpec) -> str:
        output = self.client.chat_completion(messages, **self._chat_args(spec))
        return output.choices[0].message.content or ""

    def _chat_args(self, spec: OutputSpec) -> dict[str, Any]:
        return {
            "model": self.adapter_id or BASE_MODEL,
            "max_tokens": MAX_NEW_TOKENS,
            "temperature": spec.temperature,
            "response_format": {"type": "json", "value": spec.schema},
        }

    def _generate_args(self, spec: OutputSpec) -> dict[str, Any]:
        return {
            "max_new_tokens": MAX_NEW_TOKENS,
            "temperature": spec.temperature,
            "grammar": {"type": "json", "value": spec.schema},
            "adapter_id": self.adapter_id,
        }

    def _generate(self, messages: list[Message], spec: OutputSpec) -> str:
        return str(self.client.text_generation(plain_prompt(messages), **self._generate_args(spec)))

    def _chat_stream(self, messages: list[Message], spec: OutputSpec) -> Iterator[str]:
        """``/v1/chat/completions`` with ``stream: true``: the content deltas."""
        for chunk in self.client.chat_completion(messages, stream=True, **self._chat_args(spec)):
            if chunk.choices and chunk.choices[0].delta.content:
                yield chunk.choices[0].delta.content

    def _generate_stream(self, messages: list[Message], spec: OutputSpec) -> Iterator[str]:
        """TGI's token stream (``/generate_stream`` semantics); with ``details`` each token says whether
        it is special, so the end-of-sequence token stays out of the text, as in ``generated_text``."""
        tokens = self.client.text_generation(
            plain_prompt(messages), stream=True, details=True, **self._generate_args(spec)
        )
        for output in tokens:
            if not output.token.special:
                yield output.token.text

    def _either(self, chat: Callable[[], T], generate: Callable[[], T]) -> T:
        """The Messages API until the server says the model has no chat template, then ``/generate``."""
        if self.chat_api:
            try:
                return chat()
            except Exception as exc:
                if not _template_missing(exc):
                    raise
                log.warning("TGI at %s has no chat template; using /generate with a plain prompt", self.where)
                self.chat_api = False
        return generate()

    def complete(self, messages: list[Message], spec: OutputSpec) -> str:
        return self._either(
            lambda: with_retries(lambda: self._chat(messages, spec), self.max_retries),
            lambda: with_retries(lambda: self._generate(messages, spec), self.max_retries),
        )

    def stream(self, messages: list[Message], spec: OutputSpec) -> Iterator[str]:
        """The same grammar-constrained request, streamed; retried (and switched to ``/generate``)
        only before the first chunk."""
        return self._either(
            lambda: stream_with_retries(lambda: self._chat_stream(messages, spec), self.max_retries),
            lambda: stream_with_retries(lambda: self._generate_stream(messages, spec), self.max_retries),
        )

    def with_model(self, model: str) -> TGIProvider:
        """The same TGI server with another LoRA adapter (``adapter_id`` per request)."""
        variant = super().with_model(model)
        variant.adapter_id = model
        return variant

