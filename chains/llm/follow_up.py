"""Follow-up question: ``FollowUpRequest -> Question``, probing the weakest part of the answer."""

from __future__ import annotations

from chains.contract import FollowUpRequest, QuestionRequest
from chains.llm.question import to_question
from chains.llm.safety import as_data
from chains.llm.task import Task, task
from chains.llm.wire import FeedbackOut, QuestionOut
from chains.schemas import Kind, Question

FollowUpTask = Task[FollowUpRequest, QuestionOut, Question]


def _render(request: FollowUpRequest) -> dict[str, str]:
    q = request.question
    return {
        "role": q.role,
        "level": q.level,
        "domain": q.domain,
        "question": as_data("question", q.text),
        "answer": as_data("answer", request.answer),
        "feedback": as_data("feedback", FeedbackOut.of(request.feedback).model_dump_json()),
    }


def _convert(wire: QuestionOut, request: FollowUpRequest) -> Question:
    q = request.question
    origin = QuestionRequest(role=q.role, kind=q.kind, level=q.level, asked_texts=(q.text,))
    question = to_question(wire, origin, id_prefix="followup")
    return question.model_copy(update={"domain": q.domain})


def build(kind: Kind) -> FollowUpTask:
    return task(
        f"follow_up_{kind}",
        wire=QuestionOut,
        temperature=0.5,
        render=_render,
        convert=_convert,
    )
