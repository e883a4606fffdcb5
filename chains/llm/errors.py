"""One-line, secret-free descriptions of why a provider call failed.

Each SDK raises its own exception types (openai, google-genai, huggingface_hub, httpx);
the fallback chain and the people reading its message only need to know which of a few
things happened: a timeout, no connection, a rate limit, a server error, a rejected key.
"""

from __future__ import annotations

import re

_SECRETISH = re.compile(r"(key|token|authorization|bearer)[=:\s]+\S+", re.IGNORECASE)
_NOISE = re.compile(r"For more information check: \S+|for url '[^']*'")


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind an SDK exception, if it carries one."""
    for candidate in causes(exc):
        for attr in ("status_code", "code", "status"):
            value = getattr(candidate, attr, None)
            if isinstance(value, int) and 100 <= value < 600:
                return value
        response = getattr(candidate, "response", None)
        value = getattr(response, "status_code", None)
        if isinstance(value, int):
            return value
    return None


def causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it was raised from, outermost first."""
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def is_timeout(exc: BaseException) -> bool:
    return any(isinstance(e, TimeoutError) or "timeout" in type(e).__name__.lower() for e in causes(exc))


def is_connection(exc: BaseException) -> bool:
    return any(isinstance(e, ConnectionError) or "connect" in type(e).__name__.lower() for e in causes(exc))


_DROPPED = frozenset({"RemoteProtocolError", "ReadError", "WriteError", "CloseError"})


def is_dropped(exc: BaseException) -> bool:
    """The server closed the connection mid-exchange (an idle keep-alive race, a restarting proxy)."""
    return any(
        isinstance(e, ConnectionResetError | BrokenPipeError)
        or _DROPPED & {c.__name__ for c in type(e).__mro__}
        for e in causes(exc)
    )


def retryable(exc: BaseException) -> bool:
    """429 and 5xx, timeouts, refused and dropped connections: worth another try after a pause."""
    status = status_of(exc)
    if status is not None:
        return status == 429 or status == 408 or status >= 500
    return is_timeout(exc) or is_connection(exc) or is_dropped(exc)


def describe(exc: BaseException, *, timeout_s: float | None = None, where: str | None = None) -> str:
    status = status_of(exc)
    place = f" ({where})" if where else ""
    if is_timeout(exc) and status in (None, 408, 504):
        after = f" after {timeout_s:g} s" if timeout_s else ""
        return f"timed out{after}{place}"
    if status == 429:
        return f"rate limited (HTTP 429){place}; retries exhausted"
    if status in (401, 403):
        return f"the API key was rejected (HTTP {status}){place}"
    if status is not None:
        return f"HTTP {status}{place}: {_short(exc)}"
    if is_dropped(exc):
        return f"the connection was dropped{place}: {_short(exc)}"
    if is_connection(exc):
        return f"cannot connect{place}: {_short(exc)}"
    return f"{type(exc).__name__}{place}: {_short(exc)}"


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(_NOISE.sub("", str(exc)).split()) or type(exc).__name__
    text = _SECRETISH.sub(r"\1=***", text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
