"""Retries with exponential backoff for clients that have none of their own (TGI's InferenceClient).

The OpenAI and google-genai SDKs retry 429 / 5xx themselves and are configured with the
same count and a similar backoff, so every provider behaves alike: ``LLM_MAX_RETRIES``
further attempts, waits of 0.5 s, 1 s, 2 s ... capped at 8 s, or the server's Retry-After.
A streamed reply is retried only until its first chunk: after that, text has been shown,
and a second attempt would write a different reply after it.
"""

from __future__ import annotations

import itertools
import logging
import random
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

from chains.llm.errors import causes, retryable

log = logging.getLogger(__name__)
T = TypeVar("T")

INITIAL_BACKOFF_S = 0.5
MAX_BACKOFF_S = 8.0


def retry_after(exc: BaseException) -> float | None:
    """The server's ``Retry-After`` (seconds) or ``retry-after-ms``, if it sent one."""
    for error in causes(exc):
        headers = getattr(getattr(error, "response", None), "headers", None)
        if not headers:
            continue
        try:
            if headers.get("retry-after-ms") is not None:
                return float(headers["retry-after-ms"]) / 1000
            if headers.get("retry-after") is not None:
                return float(headers["retry-after"])
        except ValueError:
            return None
    return None


def backoff(attempt: int) -> float:
    """Wait before retry number ``attempt`` (0-based), with up to 25% jitter."""
    base = min(INITIAL_BACKOFF_S * 2**attempt, MAX_BACKOFF_S)
    return base * (1 - 0.25 * random.random())


def with_retries(
    call: Callable[[], T],
    retries: int,
    *,
    when: Callable[[BaseException], bool] = retryable,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``call()``, retried up to ``retries`` times when ``when(error)``: by default on 429 / 5xx /
    timeouts / refused or dropped connections."""
    for attempt in range(retries + 1):
        try:
            return call()
        except Exception as exc:
            if attempt >= retries or not when(exc):
                raise
            wait = retry_after(exc)
            wait = min(wait, MAX_BACKOFF_S) if wait is not None else backoff(attempt)
            log.info(
                "retrying after %s (attempt %d of %d, waiting %.2f s)",
                type(exc).__name__,
                attempt + 1,
                retries,
                wait,
            )
            sleep(wait)
    raise AssertionError("unreachable")


def stream_with_retries(
    start: Callable[[], Iterable[T]],
    retries: int,
    *,
    when: Callable[[BaseException], bool] = retryable,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[T]:
    """The chunks of ``start()``, retried like ``with_retries`` until the first chunk has arrived.

    The first chunk is read here, before returning, so an error before it (a refused request,
    a model without a chat template) is raised to the caller at once; a later one ends the
    iteration with that error and is never retried.
    """

    def first() -> tuple[list[T], Iterator[T]]:
        chunks = iter(start())
        return [chunk for chunk in itertools.islice(chunks, 1)], chunks

    head, rest = with_retries(first, retries, when=when, sleep=sleep)
    return itertools.chain(head, rest)

