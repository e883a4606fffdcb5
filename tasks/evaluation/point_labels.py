"""Key points labelled by people, and how often the offline grader's key-point remarks are true.

300 genuine answers of the annotated set (150 from each part) have every key point labelled
covered, partial, missing or wrong by one of six labellers working from the question, its key
points and the answer alone (the brief is docs/data/point-labels-brief.md; docs/grading.md says how the
labels were made). They decide what the feedback may say about a key point
(``chains.grading.points``, fitted on the training part by ``fit_points``), and `mockingbird
eval` reports on the held-out part how often "Covers: X" names a point labelled covered, and
"Not yet covered: X" one labelled missing or wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pydantic import BaseModel

from chains.grading import fitted_score, measure, nonanswers, points
from chains.schemas import Question
from tasks.evaluation import annotated

LABELS = Path(__file__).with_name("points") / "labels.jsonl"


@dataclass(frozen=True)
class LabelledPoint:
    answer_id: str
    question: Question
    point: str
    label: str  # covered | partial | missing | wrong
    similarity: float
    share: float
    predicted: float  # the answer's fitted score before rounding (grading.fitted_score)
    genuine: bool  # not a non-answer (those get no key-point remarks)


class PointRemarks(BaseModel):
    points: int
    covers_said: int
    covers_true: float | None  # labelled covered
    not_covered_said: int
    not_covered_true: float | None  # labelled missing or wrong


@cache
def load(split: annotated.Split = "all") -> tuple[LabelledPoint, ...]:
    """Every labelled key point of one part, with the grader's measurements of it."""
    answers = {item.id: (item, question) for item, question in annotated.load(split)}
    found = []
    for line in LABELS.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["id"] not in answers:
            continue
        item, question = answers[row["id"]]
        s = measure(question, item.answer)
        predicted = fitted_score(question, s)
        genuine = nonanswers.detect(question, item.answer, s) is None
        for point, label, similarity, share in zip(question.key_points, row["labels"], s.point_similarity,
                                                   s.point_shares, strict=True):
            found.append(LabelledPoint(item.id, question, point, label, similarity, share, predicted, genuine))
    return tuple(found)


def measure_point_remarks(split: annotated.Split = "heldout") -> PointRemarks:
    """How often the remarks the grader makes about these points (at most three of each) are true."""
    labelled = load(split)
    covers, not_covered = [], []
    for answer_id in dict.fromkeys(p.answer_id for p in labelled):
        mine = [p for p in labelled if p.answer_id == answer_id and p.genuine]
        if not mine:
            continue
        said_covered, said_missing = points.claims([p.point for p in mine], [p.similarity for p in mine],
                                                   [p.share for p in mine], mine[0].question.kind, mine[0].predicted)
        covers += [p.label == "covered" for p in mine if p.point in said_covered[:3]]
        not_covered += [p.label in ("missing", "wrong") for p in mine if p.point in said_missing[:3]]
    return PointRemarks(points=len(labelled), covers_said=len(covers),
                        covers_true=sum(covers) / len(covers) if covers else None,
                        not_covered_said=len(not_covered),
                        not_covered_true=sum(not_covered) / len(not_covered) if not_covered else None)
