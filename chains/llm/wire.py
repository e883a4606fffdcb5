"""What the models are asked to write: the JSON shapes on the wire.

They differ from ``chains.schemas`` where a provider's constrained output cannot express
the domain model: OpenAI strict mode and Gemini response schemas need every object to
have fixed keys, so ``Feedback.criteria`` (a free-form ``dict[str, int]``) travels as a
list of ``{name, score}``. Ids, role, kind and level are filled in by code, not by the model.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from chains.schemas import Feedback


class _Wire(BaseModel):
    # Extra keys are ignored rather than fatal: they cost nothing and a repair call costs a round trip.
    model_config = ConfigDict(extra="ignore")


class Criterion(_Wire):
    name: str = Field(min_length=1, max_length=40, description="Criterion name, e.g. depth")
    score: int = Field(ge=1, le=10, description="Whole number from 1 to 10")


class FeedbackOut(_Wire):
    # The score comes last: a model that writes its judgement first (remarks, summary) scores from
    # it, instead of committing to a number in its first tokens. Constrained decoding and the
    # providers' structured outputs keep this order, and so do training replies and few-shot turns.
    # (Greedy decoding that starts with the score also favours "1": it begins both 1 and 10.)
    strengths: list[str] = Field(max_length=8, description="Up to 5 short sentences")
    weaknesses: list[str] = Field(max_length=8, description="Up to 5 short sentences")
    suggestions: list[str] = Field(max_length=8, description="Up to 5 concrete improvements")
    criteria: list[Criterion] = Field(max_length=10, description="One entry per criterion, each 1-10")
    summary: str = Field(min_length=1, max_length=2000, description="Two or three sentences to the candidate")
    score: int = Field(ge=1, le=10, description="Overall score, a whole number from 1 to 10")

    def to_feedback(self) -> Feedback:
        return Feedback(
            score=self.score,
            strengths=self.strengths,
            weaknesses=self.weaknesses,
            suggestions=self.suggestions,
            criteria={c.name.strip().lower(): c.score for c in self.criteria},
            summary=self.summary.strip(),
        )

    @classmethod
    def of(cls, feedback: Feedback) -> FeedbackOut:
        """The wire form of a stored feedback (few-shot exemplars are shown in it)."""
        criteria = [{"name": name, "score": score} for name, score in feedback.criteria.items()]
        return cls.model_validate(feedback.model_dump() | {"criteria": criteria})  # ``outline`` is ignored


class QuestionOut(_Wire):
    domain: str = Field(min_length=1, max_length=60, description="Short lowercase domain name")
    text: str = Field(min_length=10, max_length=600, description="The question, one to three sentences")
    key_points: list[str] = Field(min_length=2, max_length=8, description="3 to 6 short phrases")


class ReportOut(_Wire):
    strengths: list[str] = Field(max_length=5, description="Up to 3 short sentences")
    weaknesses: list[str] = Field(max_length=5, description="Up to 3 short sentences")
    next_steps: list[str] = Field(max_length=5, description="Up to 3 actionable sentences")
    summary: str = Field(min_length=1, max_length=2000, description="Three or four sentences")
