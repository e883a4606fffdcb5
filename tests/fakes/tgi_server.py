"""A fake Text Generation Inference server: ``/v1/chat/completions`` (Messages API) and ``/generate``.

The chat route reads the grammar from ``response_format`` (``{"type": "json", "value": schema}``)
and the LoRA adapter from ``model``; ``/generate`` (and TGI's compat route ``/``) from
``parameters.grammar`` and ``parameters.adapter_id``. With ``chat_template=False`` the
chat route fails as TGI does for a model without a chat template. Streaming is TGI's:
``"stream": true`` on the chat route gives ``chat.completion.chunk`` events ending in ``[DONE]``;
``/generate_stream`` (and ``/`` with ``"stream": true``) gives one token event per piece, then the
end-of-sequence token (``special``) with ``generated_text``, and no ``[DONE]``. As TGI does, a
streamed ``/generate`` refuses ``best_of`` above 1.
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
        if path == "/generate_stream":
            return "generate_stream"
        return None

    def streamed(self, request: Recorded) -> bool:
        path = request.path.split("?", 1)[0]
        return path == "/generate_stream" or (path != "/generate" and bool((request.body or {}).get("stream")))

    def schema_of(self, endpoint: str, body: Any) -> dict[str, Any] | None:
        grammar = (
            body.get("response_format") if endpoint == "chat" else body.get("parameters", {}).get("grammar")
        )  # the same on /generate_stream
        return (grammar or {}).get("value")

    def next_reply(self, request: Recorded) -> Reply:
        endpoint = self.route(request.path.split("?", 1)[0])
        if not self.chat_template and endpoint == "chat":
            return Reply("status", status=422)
        if endpoint != "chat" and self.streamed(request) and (request.body.get("parameters") or {}).get("best_of"):
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

    def stream_events(self, endpoint: str, request: Recorded, content: str) -> list[Any] | None:
        if not self.streamed(request):
            return None
        pieces = self.pieces(content)
        if endpoint == "chat":
            return [*(self._chat_chunk(request, piece, None) for piece in pieces),
                    self._chat_chunk(request, "", "stop"), "[DONE]"]
        details = bool((request.body.get("parameters") or {}).get("details"))

        def token(index: int, text: str, special: bool = False) -> dict[str, Any]:
            return {"id": index, "text": text, "logprob": -0.1, "special": special}

        events: list[Any] = [
            {"index": i, "token": token(i, piece), "generated_text": None, "details": None, "top_tokens": None}
            for i, piece in enumerate(pieces, 1)
        ]
        end = len(pieces) + 1
        events.append({
            "index": end, "token": token(2, "</s>", special=True), "generated_text": content, "top_tokens": None,
            "details": {"finish_reason": "eos_token", "generated_tokens": end, "seed": None} if details else None,
        })
        return events

    def _chat_chunk(self, request: Recorded, content: str, finish: str | None) -> dict[str, Any]:
        return {
            "object": "chat.completion.chunk",
            "id": "",
            "created": 1_700_000_000,
            "model": request.body.get("model"),
            "system_fingerprint": "3.0.0-native",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": content},
                         "logprobs": None, "finish_reason": finish}],
            "usage": None,
        }

    def error(self, endpoint: str, code: int) -> Any:
        if code == 422 and endpoint != "chat":
            return {"error": "Input validation error: `best_of` != 1 is not supported when streaming tokens",
                    "error_type": "validation"}
        if code == 422 and not self.chat_template:
            return {"error": "Template error: template not found", "error_type": "template_error"}
        kinds = {429: "overloaded", 401: "authentication", 500: "generation"}
        return {"error": f"Fake error {code}", "error_type": kinds.get(code, "generation")}

    def adapters(self) -> list[str | None]:
        """The adapter each request asked for (chat: ``model``; generate: ``parameters.adapter_id``)."""
        out: list[str | None] = []
        for r in self.requests:
            if self.route(r.path.split("?", 1)[0]) == "chat":
                out.append(r.body.get("model"))
            else:
                out.append(r.body.get("parameters", {}).get("adapter_id"))
        return out
