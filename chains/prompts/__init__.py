"""Prompt files: one Markdown file per task and interview kind, each with its own version.

A file has a front matter block with ``version:`` and two sections, ``## system`` and
``## user``, and may have a third, ``## compact system``: the system text for the small open models
fine-tuned here (``local`` and TGI adapters), which learnt the rubric's output from recruiters'
replies; the full rubric would only make every training step and every prefill twice as long.
The system text is sent exactly as written (no substitution, so nothing a candidate types can
reach it); the user text is a template whose ``{name}`` fields are
filled with delimited, escaped values. The version is stored with every turn, so a
change of wording shows up in the validity and satisfaction figures.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROMPT_DIR = Path(__file__).parent
_FRONT = re.compile(r"\A---\n(?P<meta>.*?)\n---\n", re.DOTALL)
_SECTION = re.compile(r"^## (system|user|compact system)\s*$", re.MULTILINE)


class PromptError(ValueError):
    """A prompt file is malformed; the message names the file."""


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    system: str
    user: str
    compact: str = ""  # the "## compact system" section; empty: the models trained here get ``system``

    @property
    def fields(self) -> frozenset[str]:
        """The ``{name}`` fields of the user template."""
        return frozenset(f for _, f, _, _ in string.Formatter().parse(self.user) if f)

    def render_user(self, **values: str) -> str:
        missing = self.fields - values.keys()
        if missing:
            raise PromptError(f"prompt {self.name} needs {', '.join(sorted(missing))}")
        return self.user.format(**{k: v for k, v in values.items() if k in self.fields})


def parse(name: str, text: str) -> Prompt:
    front = _FRONT.match(text)
    if front is None:
        raise PromptError(f"prompt {name}: missing the '---' front matter with a version")
    meta = dict(line.split(":", 1) for line in front["meta"].splitlines() if ":" in line)
    version = meta.get("version", "").strip()
    if not version or len(version) > 40:
        raise PromptError(f"prompt {name}: version must be 1-40 characters")
    parts = _SECTION.split(text[front.end() :])
    sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
    if "user" not in sections:
        raise PromptError(f"prompt {name}: missing the '## user' section")
    return Prompt(name=name, version=version, system=sections.get("system", ""), user=sections["user"],
                  compact=sections.get("compact system", ""))


@cache
def load(name: str) -> Prompt:
    """The prompt ``chains/prompts/<name>.md`` (cached; files ship with the package)."""
    path = PROMPT_DIR / f"{name}.md"
    if not path.is_file():
        raise PromptError(f"no prompt file {path.name}")
    return parse(name, path.read_text(encoding="utf-8"))


def names() -> list[str]:
    return sorted(p.stem for p in PROMPT_DIR.glob("*.md"))


@cache
def _compact_texts() -> dict[str, str]:
    return {prompt.system: prompt.compact for prompt in map(load, names()) if prompt.compact}


def compact_messages(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """``messages`` with each system text that has a compact form replaced by it (idempotent).

    For training rows built from the full prompt (exports, the annotated set): a model trained here
    is trained on the prompt it is served with (``chains.llm.task.Task.messages(compact=True)``)."""
    table = _compact_texts()
    return [
        {**m, "content": table[m["content"]]} if m.get("role") == "system" and m.get("content") in table else m
        for m in messages
    ]


__all__ = ["Prompt", "PromptError", "compact_messages", "load", "names", "parse"]
