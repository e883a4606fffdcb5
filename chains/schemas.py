"""The pydantic models that cross the boundary between the engine and the LLM side.

Every provider (offline rubric, OpenAI, Gemini, TGI) returns these same models, so the
engine, the adapters and the training data never depend on which model produced them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Kind = Literal["behavioral", "technical"]
Level = Literal["junior", "mid", "senior"]
KINDS: tuple[Kind, ...] = ("behavioral", "technical")
LEVELS: tuple[Level, ...] = ("junior", "mid", "senior")


def _clean_items(items: list[str]) -> list[str]:
    return [item.strip() for item in items if item and item.strip()]


class Question(BaseModel):
    """One interview question with the key points a strong answer covers.

    ``pitfalls`` name the mistakes a weak answer to this question typically makes (a wrong
    claim, a poor choice), written from domain knowledge for the bank's technical questions.
    They go to the LLM feedback prompt, because an answer can use every right word and still be
    wrong; the offline grader does not use them, as matching by embedding could not tell stating
    a mistake from rejecting it (docs/grading.md).
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, max_length=80)
    role: str = Field(min_length=1, max_length=60)
    domain: str = Field(min_length=1, max_length=60)
    kind: Kind
    level: Level
    text: str = Field(min_length=10, max_length=600)
    key_points: list[str] = Field(min_length=2, max_length=8)
    pitfalls: list[str] = Field(default_factory=list, max_length=6)

    @field_validator("key_points")
    @classmethod
    def _non_empty_points(cls, value: list[str]) -> list[str]:
        cleaned = _clean_items(value)
        if len(cleaned) < 2:
            raise ValueError("a question needs at least two non-empty key points")
        return cleaned


class Feedback(BaseModel):
    """Structured feedback on one answer; the JSON every provider must produce."""

    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=10, description="Overall score, 1 (poor) to 10 (excellent)")
    strengths: list[str] = Field(default_factory=list, max_length=8)
    weaknesses: list[str] = Field(default_factory=list, max_length=8)
    suggestions: list[str] = Field(default_factory=list, max_length=8)
    criteria: dict[str, int] = Field(
        default_factory=dict, description="Criterion name to a 1-10 score"
    )
    summary: str = Field(min_length=1, max_length=2000)
    outline: list[str] = Field(
        default_factory=list, max_length=8, description="What a strong answer to this question would contain"
    )

    @field_validator("strengths", "weaknesses", "suggestions", "outline")
    @classmethod
    def _strip_items(cls, value: list[str]) -> list[str]:
        return _clean_items(value)

    @field_validator("criteria")
    @classmethod
    def _criteria_in_range(cls, value: dict[str, int]) -> dict[str, int]:
        for name, score in value.items():
            if not 1 <= score <= 10:
                raise ValueError(f"criterion {name!r} must be 1-10, got {score}")
        return value


class TurnSummary(BaseModel):
    """One answered (or skipped) question inside a session report."""

    index: int
    question: str
    domain: str
    score: int | None
    summary: str | None
    skipped: bool = False
    level: Level | None = None  # the level it was asked at (adaptive difficulty)
    retry_scores: list[int] = Field(default_factory=list)  # try again: later attempts' scores, in order
    requirement: str | None = None  # the job-ad requirement it practised


class RequirementSummary(BaseModel):
    """How a job-ad requirement went: the questions that practised it and their average first-attempt score."""

    requirement: str
    questions: int
    average_score: float | None


class SessionReport(BaseModel):
    """End-of-session report: per-answer scores, recurring themes, next steps."""

    session_id: int
    role: str
    kind: Kind
    level: Level
    turns: list[TurnSummary]
    average_score: float | None
    answered: int
    skipped: int
    strengths: list[str]
    weaknesses: list[str]
    next_steps: list[str]
    summary: str
    level_path: list[Level] = Field(default_factory=list)  # adaptive difficulty: each main question's level
    requirements: list[RequirementSummary] = Field(default_factory=list)  # tailored to a job ad
