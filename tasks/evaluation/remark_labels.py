"""Labels by people of what answers contain, and how often the offline grader's remarks are true.

Two sets over answers of the annotated set, made by labellers who saw only the question (and its
key points) and the answer, never the score, the reason or the grader's feedback (briefs in
docs/data/, method in docs/grading.md):
- ``labels/points.jsonl``: every key point of 300 genuine answers (150 from each part) and of the
  73 off-topic and other-question ones (which score well when no check catches them) as covered,
  partial, missing or wrong;
- ``labels/stories.jsonl``: 240 behavioral answers (all of them), each STAR part and the
  reflection as clear, vague or absent, and the candidate's own role as clear, mixed or unclear.
They decide which remarks the feedback may make (``chains.grading.claims``, fitted on the
training part by ``fit_claims``), and `mockingbird eval` reports on the held-out part how often
each kind of remark is true.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from chains.grading import claims, explain, fitted_score, measure, nonanswers
from chains.grading.signals import Signals
from chains.schemas import Question
from tasks.evaluation import annotated

LABELS = Path(__file__).with_name("labels")


@dataclass(frozen=True)
class LabelledPoint:
    answer_id: str
    question: Question
    index: int  # which of the question's key points
    label: str  # covered | partial | missing | wrong
    predicted: float  # the answer's fitted score before rounding (grading.fitted_score)
    signals: Signals  # the whole answer's (the relevance model reads them)
    genuine: bool  # not a non-answer (those get no remarks of this kind)

    @property
    def point(self) -> str:
        return self.question.key_points[self.index]

    @property
    def similarity(self) -> float:
        return self.signals.point_similarity[self.index]

    @property
    def share(self) -> float:
        return self.signals.point_shares[self.index]


@dataclass(frozen=True)
class LabelledStory:
    answer_id: str
    question: Question
    labels: dict[str, str]  # part -> clear | vague | absent; own_role -> clear | mixed | unclear
    signals: Signals
    predicted: float
    genuine: bool


class RemarkPrecision(BaseModel):
    """Per kind of remark: how often the grader makes it on the held-out labels, and the share true."""

    covers_said: int
    covers_true: float | None  # "Covers: X": X labelled covered
    not_covered_said: int
    not_covered_true: float | None  # "Not yet covered: X": missing or wrong
    story_clear_said: int
    story_clear_true: float | None  # "A clear story: it covers the X": X labelled clear
    story_unclear_said: int
    story_unclear_true: float | None  # "The story does not make clear the X": vague or absent
    reflects_said: int
    reflects_true: float | None  # "You reflect on what you learned": reflection clear
    own_role_said: int
    own_role_true: float | None  # the "we" / own-contribution remarks against the own-role label


def _rows(name: str, split: annotated.Split) -> Iterator[tuple[dict, Question, Signals, float, bool]]:
    """(label row, question, signals, fitted score, genuine) for each labelled answer of the part."""
    answers = {item.id: (item, question) for item, question in annotated.load(split)}
    for line in (LABELS / name).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["id"] in answers:
            item, question = answers[row["id"]]
            s = measure(question, item.answer)
            yield row, question, s, fitted_score(question, s), nonanswers.detect(question, item.answer, s) is None


@cache
def load_points(split: annotated.Split = "all") -> tuple[LabelledPoint, ...]:
    """Every labelled key point of one part, with the grader's measurements of it."""
    return tuple(LabelledPoint(row["id"], question, index, label, predicted, s, genuine)
                 for row, question, s, predicted, genuine in _rows("points.jsonl", split)
                 for index, label in enumerate(_one_per_point(row["labels"], question)))


def _one_per_point(labels: list[str], question: Question) -> list[str]:
    if len(labels) != len(question.key_points):
        raise ValueError(f"{len(labels)} labels for the {len(question.key_points)} key points of {question.id}")
    return labels


@cache
def load_stories(split: annotated.Split = "all") -> tuple[LabelledStory, ...]:
    return tuple(LabelledStory(row["id"], question, {k: v for k, v in row.items() if k not in ("id", "writer")},
                               s, predicted, genuine)
                 for row, question, s, predicted, genuine in _rows("stories.jsonl", split))


def _share(values: list[bool]) -> float | None:
    return sum(values) / len(values) if values else None


def measure_remarks(split: annotated.Split = "heldout") -> RemarkPrecision:
    """How often each remark the grader makes about the labelled answers is true (as shown: at most three
    key points of each kind)."""
    covers: list[bool] = []
    not_covered: list[bool] = []
    by_answer: dict[str, list[LabelledPoint]] = {}
    for p in load_points(split):
        if p.genuine:
            by_answer.setdefault(p.answer_id, []).append(p)
    for mine in by_answer.values():
        said_covered, said_missing = claims.key_points([p.point for p in mine], [p.similarity for p in mine],
                                                       [p.share for p in mine], mine[0].question.kind,
                                                       mine[0].predicted, claims.on_topic(mine[0].signals,
                                                                                          mine[0].question.kind))
        covers += [p.label == "covered" for p in mine if p.point in said_covered[:explain.SHOWN_POINTS]]
        not_covered += [p.label in ("missing", "wrong") for p in mine if p.point in said_missing[:explain.SHOWN_POINTS]]
    clear: list[bool] = []
    unclear: list[bool] = []
    reflects: list[bool] = []
    own_role: list[bool] = []
    for story in (s for s in load_stories(split) if s.genuine):
        remarks = explain.story_remarks(story.signals, story.predicted)
        clear += [story.labels[part] == "clear" for part in remarks.clear_parts]
        unclear += [story.labels[part] != "clear" for part in remarks.unclear_parts]
        if remarks.reflects:
            reflects.append(story.labels["reflection"] == "clear")
        if remarks.mostly_we is not None:
            own_role.append((story.labels["own_role"] == "clear") != remarks.mostly_we)
    return RemarkPrecision(covers_said=len(covers), covers_true=_share(covers), not_covered_said=len(not_covered),
                           not_covered_true=_share(not_covered), story_clear_said=len(clear),
                           story_clear_true=_share(clear), story_unclear_said=len(unclear),
                           story_unclear_true=_share(unclear), reflects_said=len(reflects),
                           reflects_true=_share(reflects), own_role_said=len(own_role),
                           own_role_true=_share(own_role))
