"""Build the end-of-session report from stored turns (no model call needed)."""

from __future__ import annotations

from collections import Counter

from bot.store.models import InterviewSession, Turn, TurnState
from chains.schemas import Feedback, RequirementSummary, SessionReport, TurnSummary


def _recurring(items: list[str], limit: int) -> list[str]:
    """Most frequent first, ties in first-seen order (``most_common`` keeps insertion order)."""
    return [item for item, _ in Counter(items).most_common(limit)]


def _requirements(session: InterviewSession, turns: list[TurnSummary]) -> list[RequirementSummary]:
    """Each job-ad requirement with the questions that practised it and how they went."""
    summaries = []
    for requirement in session.requirements or []:
        scores = [t.score for t in turns if t.requirement == requirement and t.score is not None]
        summaries.append(RequirementSummary(
            requirement=requirement, questions=sum(1 for t in turns if t.requirement == requirement),
            average_score=round(sum(scores) / len(scores), 1) if scores else None))
    return summaries


def build_report(session: InterviewSession) -> SessionReport:
    """Per-turn rows (a second attempt is shown on its question's row: before -> after), themes, next steps.

    The average and the strongest answer count first attempts only, so trying again never
    inflates the session's figures; the themes read every feedback, second attempts included.
    """
    turns: list[TurnSummary] = []
    feedbacks: list[Feedback] = []
    rows: dict[int, TurnSummary] = {}
    later: list[tuple[Turn, Feedback]] = []
    for turn in session.turns:
        feedback = Feedback.model_validate(turn.feedback) if turn.feedback else None
        if feedback:
            feedbacks.append(feedback)
        if turn.attempt_of is not None:
            if feedback:
                later.append((turn, feedback))
            continue
        rows[turn.id] = TurnSummary(
            index=turn.index + 1, question=turn.question, domain=turn.domain or "general",
            score=feedback.score if feedback else None, summary=feedback.summary if feedback else None,
            skipped=turn.state == TurnState.skipped, level=turn.level, requirement=turn.requirement,  # type: ignore[arg-type]
        )
        turns.append(rows[turn.id])
    for turn, feedback in later:
        if turn.attempt_of in rows:
            rows[turn.attempt_of].retry_scores.append(feedback.score)
    scores = [t.score for t in turns if t.score is not None]
    average = round(sum(scores) / len(scores), 1) if scores else None
    strengths = _recurring([s for f in feedbacks for s in f.strengths], 3)
    weaknesses = _recurring([w for f in feedbacks for w in f.weaknesses], 3)
    next_steps = _recurring([s for f in feedbacks for s in f.suggestions], 3)
    skipped = sum(1 for t in turns if t.skipped)
    if average is None:
        summary = "No answers were graded in this session; start another when you are ready."
    else:
        best = max((t for t in turns if t.score is not None), key=lambda t: t.score or 0)
        summary = (f"You answered {len(scores)} question(s) with an average score of {average}/10. "
                   f"Your strongest answer was on {best.domain} ({best.score}/10).")
        if next_steps:
            summary += f" Focus next on: {next_steps[0]}"
    path = [t.level for t in session.turns if t.follow_up_of is None and t.attempt_of is None and t.level]
    return SessionReport(
        session_id=session.id, role=session.role, kind=session.kind, level=session.level,  # type: ignore[arg-type]
        turns=turns, average_score=average, answered=len(scores), skipped=skipped,
        strengths=strengths, weaknesses=weaknesses, next_steps=next_steps, summary=summary,
        level_path=path if session.adaptive else [], requirements=_requirements(session, turns),  # type: ignore[arg-type]
    )


def scores_shown(turn: TurnSummary) -> str:
    """A report row's score as every front end shows it: ``4/10 → 8/10`` after a second attempt."""
    if turn.skipped:
        return "skipped"
    if turn.score is None:
        return "not graded"
    return " → ".join(f"{score}/10" for score in [turn.score, *turn.retry_scores])


def practice_lines(report: SessionReport) -> list[str]:
    """Plain-text lines for the difficulty path and the job-ad requirements (adapters escape them)."""
    lines = [f"Difficulty: {' → '.join(report.level_path)}"] if report.level_path else []
    for item in report.requirements:
        how = (f"{item.average_score}/10 over {item.questions} question(s)" if item.average_score is not None
               else "not answered")
        lines.append(f"Job requirement: {item.requirement} — {how}")
    return lines
