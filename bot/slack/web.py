"""The Web API client and what to do when Slack says no.

Rate limits (HTTP 429) are retried by the SDK after ``Retry-After``; dropped connections and
5xx answers are retried too. Everything else comes back as ``SlackApiError`` and is turned
into a sentence a person can act on (``explain``); no listener lets one escape.

A slash command's or a button's ``response_url`` is a bearer credential (anyone holding it can
post as the app for half an hour), and the SDKs log it: slack_sdk's webhook client writes the
full URL at INFO when it retries, and request bodies at DEBUG. ``redact_log_secrets`` installs a
log-record factory that replaces such URLs (and any ``response_url`` field) in every record's
message and traceback before a handler sees it; ``build_app`` installs it.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.config import Settings

log = logging.getLogger(__name__)

EXPLANATIONS = {
    "channel_not_found": (
        "I can't see this channel. If it is private, invite me first with `/invite @Mockingbird`."
    ),
    "not_in_channel": (
        "I'm not a member of this channel yet. Invite me with `/invite @Mockingbird`, then try again."
    ),
    "is_archived": "This channel is archived, so I can't post in it.",
    "restricted_action": "A workspace setting stops me from posting here.",
    "ratelimited": "Slack is rate-limiting me right now. Please try again in a minute.",
    "message_not_found": "That message no longer exists.",
    "expired_trigger_id": "That took too long for Slack; please try again.",
    "missing_scope": "I'm missing a permission for this; ask an admin to reinstall the app.",
}


# hooks.slack.com URLs as written, URL-encoded (form bodies) or JSON-escaped (``https:\/\/…``).
_HOOK_URL = re.compile(
    r"https?(?::|%3A)(?:/|%2F|\\/){2}hooks\.slack(?:-gov)?\.com(?:/|%2F|\\/)[^\s\"'&<>|)]+", re.IGNORECASE
)
# ``response_url=…``, ``"response_url": "…"``, ``'response_url': '…'`` whatever the host (tests, proxies).
_RESPONSE_URL_FIELD = re.compile(
    r"(response_url[\"']?\s*(?:[:=]|%3D)\s*[\"']?)(?!\[redacted)[^\s\"'&,}]+", re.IGNORECASE
)
REDACTED_URL = "[redacted response_url]"
_redaction = threading.Lock()
_installed = False


def redact_secrets(text: str) -> str:
    """``text`` with Slack response URLs (bearer credentials) replaced."""
    if "hooks.slack" not in text and "response_url" not in text.lower():
        return text
    text = _HOOK_URL.sub(REDACTED_URL, text)
    return _RESPONSE_URL_FIELD.sub(lambda m: m.group(1) + REDACTED_URL, text)


def redact_log_secrets() -> None:
    """Redact response URLs from every log record from now on, whichever logger or handler (idempotent)."""
    global _installed
    with _redaction:
        if _installed:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            try:
                message = record.getMessage()
            except Exception:  # a broken format string: leave it to the handler to report
                return record
            clean = redact_secrets(message)
            if clean != message:
                record.msg, record.args = clean, None
            if record.exc_info and record.exc_info[1] is not None:
                trace = logging.Formatter().formatException(record.exc_info)
                clean = redact_secrets(trace)
                if clean != trace:
                    record.exc_text = clean  # formatters use this instead of formatting exc_info again
            return record

        logging.setLogRecordFactory(factory)
        _installed = True


def api_url(settings: Settings) -> str:
    """``SLACK_API_URL`` with the trailing slash the SDK needs."""
    url = settings.slack_api_url
    return url if url.endswith("/") else url + "/"


def make_client(settings: Settings) -> WebClient:
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    return WebClient(
        token=token,
        base_url=api_url(settings),
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            RateLimitErrorRetryHandler(max_retry_count=3),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )


def error_code(exc: Exception) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error") or f"http_{exc.response.status_code}")
    return type(exc).__name__


def explain(exc: Exception) -> str:
    """A user-facing sentence for a failed Web API call."""
    code = error_code(exc)
    return EXPLANATIONS.get(code, f"Slack refused my request ({code}). Please try again in a moment.")


def post(
    client: WebClient,
    channel: str,
    text: str,
    blocks: list[dict[str, Any]] | None = None,
    thread_ts: str | None = None,
) -> str:
    """``chat.postMessage``; returns the new message's ts. Raises ``SlackClientError``."""
    response = client.chat_postMessage(
        channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False, unfurl_media=False
    )
    return str(response["ts"])


def update(client: WebClient, channel: str, ts: str, text: str, blocks: list[dict[str, Any]]) -> bool:
    """``chat.update``; False (logged) when Slack refuses, since the content is also in the database."""
    return _tolerated(
        lambda: client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks),
        f"chat.update {channel}/{ts}",
    )


def tell(client: WebClient, channel: str, user: str, text: str, thread_ts: str | None = None) -> bool:
    """An ephemeral message to one person; False (logged) when Slack refuses."""
    return _tolerated(
        lambda: client.chat_postEphemeral(channel=channel, user=user, text=text, thread_ts=thread_ts),
        f"chat.postEphemeral to {user} in {channel}",
    )


def _tolerated(call: Callable[[], object], what: str) -> bool:
    """Run a Web API call whose refusal the caller can live with: True when it went through,
    False (logged with Slack's error code) when Slack refused."""
    try:
        call()
    except SlackClientError as exc:
        log.warning("%s failed: %s", what, error_code(exc))
        return False
    return True
