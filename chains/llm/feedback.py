"""Answer feedback: ``GradeRequest -> Feedback``, with few-shot exemplars within the budget."""

from __future__ import annotations

from chains import fewshot, prompts
from chains.contract import GradeRequest
from chains.llm.safety import as_data, as_list
from chains.llm.task import Message, Task, assistant, task, user
from chains.llm.wire import FeedbackOut
from chains.schemas import Feedback, Kind, Question

FeedbackTask = Task[GradeRequest, FeedbackOut, Feedback]


def values(question: Question, answer: str) -> dict[str, str]:
    """The user-template fields; everything a person typed is delimited and escaped."""
    return {
        "role": question.role,
        "level": question.level,
        "domain": question.domain,
        "question": as_data("question", question.text),
        "key_points": as_list("key_points", question.key_points),
        "pitfalls": as_list("pitfalls", question.pitfalls),
        "answer": as_data("answer", answer),
    }


def build(kind: Kind, budget_tokens: int) -> FeedbackTask:
    name = f"feedback_{kind}"
    prompt = prompts.load(name)

    def pair(exemplar: fewshot.Exemplar, current: Question) -> list[Message]:
        """An exemplar as the conversation it stands for: the same user message, then the ideal reply."""
        text, answer, feedback = exemplar
        shown = current.model_copy(update={"text": text, "key_points": ["(not listed for this example)"],
                                              "pitfalls": []})
        return [
            user(prompt.render_user(**values(shown, answer))),
            assistant(FeedbackOut.of(feedback).model_dump_json()),
        ]

    def examples(request: GradeRequest) -> list[Message]:
        if not request.exemplars:
            return []
        pairs: dict[int, list[Message]] = {}

        def cost(exemplar: fewshot.Exemplar) -> int:
            pairs[id(exemplar)] = pair(exemplar, request.question)
            return sum(fewshot.estimate_tokens(m["content"]) for m in pairs[id(exemplar)])

        chosen = fewshot.select(request.exemplars, request.question, request.answer, budget_tokens, cost)
        return [message for exemplar in chosen for message in pairs[id(exemplar)]]

    return task(
        name,
        wire=FeedbackOut,
        temperature=0.2,
        examples=examples,
        render=lambda request: values(request.question, request.answer),
        convert=lambda wire, request: wire.to_feedback(),
    )
