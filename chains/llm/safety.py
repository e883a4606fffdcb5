"""Untrusted text (a candidate's answer, a typed question) goes into prompts as data.

Every such value is wrapped in its own tags and escaped, so it cannot close its tag, open
a new section or pose as an instruction; the system prompt says the tags hold data.
"""

from __future__ import annotations

import html


def escape(text: str) -> str:
    """``&``, ``<`` and ``>`` as entities: a value can never contain a tag of its own."""
    return html.escape(text, quote=False)


def as_data(tag: str, text: str) -> str:
    """``<tag>`` + escaped text + ``</tag>``."""
    return f"<{tag}>\n{escape(text.strip())}\n</{tag}>"


def as_list(tag: str, items: list[str] | tuple[str, ...], empty: str = "none") -> str:
    """A bulleted list inside one pair of tags, each item escaped."""
    body = "\n".join(f"- {escape(item.strip())}" for item in items) if items else empty
    return f"<{tag}>\n{body}\n</{tag}>"
