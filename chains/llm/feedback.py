"""Answer feedback: ``GradeRequest -> Feedback``, with few-shot exemplars within the budget."""

from __future__ import annotations

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

from chains import fewshot, prompts
from chains.contract import GradeRequest
from chains.llm.backend import Backend
from chains.llm.chain import StructuredChain
from chains.llm.safety import as_data, as_list
from chains.llm.wire import FeedbackOut
from chains.schemas import Feedback, Kind, Question

FeedbackChain = StructuredChain[GradeRequest, FeedbackOut, Feedback]


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


def build(backend: Backend, kind: Kind, budget_tokens: int) -> FeedbackChain:
    name = f"feedback_{kind}"
    prompt = prompts.load(name)

    def pair(exemplar: fewshot.Exemplar, current: Question) -> list[BaseMessage]:
        """An exemplar as the conversation it stands for: the same user message, then the ideal reply."""
        text, answer, feedback = exemplar
        shown = current.model_copy(update={"text": text, "key_points": ["(not listed for this example)"],
                                              "pitfalls": []})
        return [
            HumanMessage(content=prompt.render_user(**values(shown, answer))),
            AIMessage(content=FeedbackOut.of(feedback).model_dump_json()),
        ]

    def examples(request: GradeRequest) -> list[BaseMessage]:
        if not request.exemplars:
            return []
        pairs: dict[int, list[BaseMessage]] = {}

        def cost(exemplar: fewshot.Exemplar) -> int:
            pairs[id(exemplar)] = pair(exemplar, request.question)
            return sum(fewshot.estimate_tokens(m.text) for m in pairs[id(exemplar)])

        chosen = fewshot.select(request.exemplars, request.question, request.answer, budget_tokens, cost)
        return [message for exemplar in chosen for message in pairs[id(exemplar)]]

    return StructuredChain(
        prompt=name,
        wire=FeedbackOut,
        backend=backend,
        temperature=0.2,
        examples=examples,
        render=lambda request: values(request.question, request.answer),
        convert=lambda wire, request: wire.to_feedback(),
    )
