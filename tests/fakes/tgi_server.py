"""A fake Text Generation Inference server: ``/v1/chat/completions`` (Messages API) and ``/generate``.

The chat route reads the grammar from ``response_format`` (``{"type": "json", "value": schema}``)
and the LoRA adapter from ``model``; ``/generate`` (and TGI's compat route ``/``) from
``parameters.grammar`` and ``parameters.adapter_id``. With ``chat_template=False`` the
chat route fails as TGI does for a model without a chat template.
"""

from __future__ import annotations

from typing import Any

from tests.fakes.llm_server import FakeLLMServer, Recorded, Reply


class FakeTGI(FakeLLMServer):
    def __init__(self, *, chat_template: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.chat_template = chat_template

    @property
    def base_url(self) -> str:
        return self.origin

    def route(self, path: str) -> str | None:
        if path.rstrip("/").endswith("/chat/completions"):
            return "chat"
        if path in ("/", "/generate"):
            return "generate"
        return None

    def schema_of(self, endpoint: str, body: Any) -> dict[str, Any] | None:
        grammar = (
            body.get("response_format") if endpoint == "chat" else body.get("parameters", {}).get("grammar")
        )
        return (grammar or {}).get("value")

    def next_reply(self, request: Recorded) -> Reply:
        if not self.chat_template and self.route(request.path.split("?", 1)[0]) == "chat":
            return Reply("status", status=422)
        return super().next_reply(request)

    def success(self, endpoint: str, request: Recorded, content: str) -> Any:
        if endpoint == "generate":
            return [{"generated_text": content}] if request.path == "/" else {"generated_text": content}
        return {
            "object": "chat.completion",
            "id": "",
            "created": 1_700_000_000,
            "model": request.body.get("model"),
            "system_fingerprint": "3.0.0-native",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": content},
                    "logprobs": None,
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 40, "total_tokens": 90},
        }

    def error(self, endpoint: str, code: int) -> Any:
        if code == 422 and not self.chat_template:
            return {"error": "Template error: template not found", "error_type": "template_error"}
        kinds = {429: "overloaded", 401: "authentication", 500: "generation"}
        return {"error": f"Fake error {code}", "error_type": kinds.get(code, "generation")}

    def adapters(self) -> list[str | None]:
        """The adapter each request asked for (chat: ``model``; generate: ``parameters.adapter_id``)."""
        out: list[str | None] = []
        for r in self.requests:
            if self.route(r.path) == "chat":
                out.append(r.body.get("model"))
            else:
                out.append(r.body.get("parameters", {}).get("adapter_id"))
        return out
