"""Which lists a feedback message and a session report show, in what order, under what heading.

One rule for every adapter (console, Slack, Discord): each renders the non-empty sections in
this order and styles them its own way, by ``key``.
"""

from __future__ import annotations

from typing import NamedTuple

from chains.schemas import Feedback, SessionReport


class Section(NamedTuple):
    key: str
    title: str
    items: list[str]


_FEEDBACK = (("strengths", "Strengths"), ("weaknesses", "Weaknesses"), ("suggestions", "Suggestions"),
             ("outline", "A strong answer would cover"))
_REPORT = (("strengths", "Recurring strengths"), ("weaknesses", "Recurring weaknesses"), ("next_steps", "Next steps"))


def feedback_sections(feedback: Feedback) -> list[Section]:
    return [Section(key, title, items) for key, title in _FEEDBACK if (items := getattr(feedback, key))]


def report_sections(report: SessionReport) -> list[Section]:
    return [Section(key, title, items) for key, title in _REPORT if (items := getattr(report, key))]
