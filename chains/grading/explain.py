"""The words of offline feedback: every remark is a true statement about this answer.

Each remark is tied to the measurement that justifies it (a strength about numbers needs
numbers; "most of the story is 'we'" needs more "we" than "I"); remarks about key points and
story parts are made only where ``claims`` finds them likely true; a non-answer gets no
strengths at all, and lists are joined as English sentences.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from chains.grading import claims, text
from chains.grading.model import LENGTH_TARGET
from chains.grading.nonanswers import NonAnswer
from chains.grading.signals import Signals
from chains.schemas import Question

STAR_PARTS = ("situation", "task", "action", "result")
SOLID = 6.5  # a fitted score that rounds to 7 or more
SHOWN_POINTS = 3  # key points named in one "Covers:" or "Not yet covered:" remark
STAR_TIPS = {
    "situation": "Open with the situation: where and when it happened, and what was at stake.",
    "task": "Say what you specifically had to achieve, and by when.",
    "action": "Walk through the steps you took yourself (\"I decided ...\", \"I wrote ...\").",
    "result": "Close with the result: what changed, ideally with a number or a before/after.",
}


@dataclass
class Remarks:
    strengths: list[str] = field(default_factory=list)
    weaknesses: list[str] = field(default_factory=list)
    suggestions: list[str] = field(default_factory=list)


def for_non_answer(question: Question, non_answer: NonAnswer) -> Remarks:
    remarks = Remarks(weaknesses=[non_answer.reason])
    remarks.suggestions.append(f"Answer the question asked: {question.text}")
    remarks.suggestions.append("A strong answer would cover " + "; ".join(question.key_points[:4]) + ".")
    return remarks


def for_answer(question: Question, s: Signals, criteria: dict[str, int], predicted: float) -> Remarks:
    """``predicted`` is the fitted score before rounding: how likely a point or a part is there depends on it."""
    r = Remarks()
    covered, missing = claims.key_points(question.key_points, s.point_similarity, s.point_shares, question.kind,
                                         predicted, claims.on_topic(s, question.kind))
    if question.kind == "behavioral":
        _behavioral(s, predicted, r)
        _points(covered, missing, r, "The story does not show")
    else:
        r.weaknesses.extend(mistake_remark(correction) for correction in s.mistakes[:2])
        _points(covered, missing, r, "Not yet covered")
        _reasoning(s, r)
    if s.numbers >= 2 and s.specific_terms + s.numbers >= 3:
        r.strengths.append("Concrete and specific, with numbers.")
    elif s.numbers == 0 and s.spelled_numbers == 0 and s.specific_terms < 2:
        r.weaknesses.append("No concrete specifics such as numbers, names, tools or scale.")
        r.suggestions.append("Add specifics: scale, numbers, timelines, tools.")
    low, high = LENGTH_TARGET[question.level]
    if s.words < low // 2:
        r.weaknesses.append(f"Too short to show depth ({s.words} words).")
        r.suggestions.append("Aim for a 1-2 minute answer (about 120-300 words).")
    elif s.words > 2 * high:
        r.weaknesses.append(f"Long ({s.words} words): the key message gets lost.")
        r.suggestions.append("Lead with the main point and cut what does not support it.")
    if criteria["delivery"] <= 6:
        count = s.fillers + s.hedges
        said = "One filler word or hedge" if count == 1 else f"{count} filler words and hedges"
        r.weaknesses.append(f"{said} (\"um\", \"basically\", \"I guess\") weaken{'s' if count == 1 else ''} the "
                            "delivery.")
        r.suggestions.append("Cut fillers and hedges; state what you did and why.")
    elif s.fillers + s.hedges == 0 and s.words >= 60:
        r.strengths.append("Direct, filler-free delivery.")
    if not r.weaknesses and predicted < SOLID:  # a low score needs a reason, even a general one
        r.weaknesses.append("Not yet the depth of a strong answer: the outline shows what one would cover.")
        r.suggestions.append("Take each part of the outline and say how you would do it, and why.")
    return r


def mistake_remark(correction: str) -> str:
    """What the feedback says of a known mistake (the LLM guardrail says the same)."""
    return f"This looks like a common mistake. {correction}"


@dataclass(frozen=True)
class StoryRemarks:
    """What the feedback says about a story (tasks/evaluation/remark_labels checks each against people)."""

    clear_parts: list[str]  # named in "A clear story: it covers the ..." (empty when fewer than three)
    unclear_parts: list[str]  # named in "The story does not make clear the ..."
    reflects: bool  # "You reflect on what you learned."
    mostly_we: bool | None  # True: "most of the story is 'we'"; False: "You make your own contribution clear"


def story_remarks(s: Signals, predicted: float) -> StoryRemarks:
    clear, unclear = claims.story(s.story_evidence, predicted)
    clear_star = [p for p in STAR_PARTS if p in clear]
    mostly_we: bool | None = None
    if s.we_count >= 3 and s.we_count > 2 * s.i_count:
        mostly_we = True
    elif s.i_count >= 3 and s.star["action"] and s.i_count >= s.we_count:
        mostly_we = False
    return StoryRemarks(clear_parts=clear_star if len(clear_star) >= 3 else [],
                        unclear_parts=[p for p in STAR_PARTS if p in unclear],
                        reflects="reflection" in clear, mostly_we=mostly_we)


def _behavioral(s: Signals, predicted: float, r: Remarks) -> None:
    story = story_remarks(s, predicted)
    if story.clear_parts:
        r.strengths.append(f"A clear story: it covers the {text.join_words(story.clear_parts)}.")
    if story.unclear_parts:
        r.weaknesses.append(f"The story does not make clear the {text.join_words(story.unclear_parts)}.")
        r.suggestions.extend(STAR_TIPS[p] for p in story.unclear_parts)
    if story.reflects:
        r.strengths.append("You reflect on what you learned.")
    else:
        r.suggestions.append("End with what you learned or would do differently.")
    if story.mostly_we:
        r.weaknesses.append("It is hard to tell what you did yourself: most of the story is \"we\".")
        r.suggestions.append("Use \"I\" for your own decisions and actions.")
    elif story.mostly_we is False:
        r.strengths.append("You make your own contribution clear.")


def _reasoning(s: Signals, r: Remarks) -> None:
    if s.explaining >= 2:  # reasons or comparisons, not "cost" or "monitor" said in passing
        r.strengths.append("Explains why, not only what.")
    else:
        r.suggestions.append("Explain why: name the trade-offs and how you would measure success.")


def _sentence(text_: str) -> str:
    return text_ if text_.endswith((".", "?", "!")) else text_ + "."


def _points(covered: list[str], missing: list[str], r: Remarks, missing_label: str) -> None:
    if covered:
        r.strengths.append(_sentence("Covers: " + "; ".join(covered[:SHOWN_POINTS])))
    if missing:
        r.weaknesses.append(_sentence(f"{missing_label}: " + "; ".join(missing[:SHOWN_POINTS])))
        r.suggestions.append(_sentence(f"Cover {missing[0]}"))
