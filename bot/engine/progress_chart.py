"""A candidate's progress as a PNG (Slack's App Home, Discord's ``/interview-progress``)."""

from __future__ import annotations

import io

from bot.engine.progress import CandidateProgress


def render_progress_chart(figures: CandidateProgress) -> bytes:
    """Session averages and each criterion over the candidate's sessions, oldest first."""
    # The object API, not pyplot: pyplot keeps global state and the servers draw from many threads.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(8, 3.5), dpi=100)
    axes = figure.subplots()
    xs = list(range(1, len(figures.timeline) + 1))
    if xs:
        axes.plot(xs, [p.average for p in figures.timeline], marker="o", linewidth=2.5, color="#2b7bb9",
                  label="score")
        for name in figures.criteria:
            points = [(x, p.criteria[name]) for x, p in zip(xs, figures.timeline, strict=True) if name in p.criteria]
            axes.plot([x for x, _ in points], [y for _, y in points], marker=".", linewidth=1, alpha=0.7,
                      label=name.replace("$", r"\$"))  # no mathtext from a model-written name
        axes.set_xticks(xs, [p.day[5:] for p in figures.timeline], rotation=30, ha="right", fontsize=8)
        axes.legend(fontsize=7, loc="lower right", ncol=3)
    else:
        axes.text(0.5, 0.5, "no graded answers yet", ha="center", va="center", transform=axes.transAxes)
    axes.set_ylim(0, 10.5)
    axes.set_ylabel("score (1-10)")
    axes.set_title("Your scores by session")
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
