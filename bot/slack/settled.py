"""The 👍 / 👎 tally shown on a feedback message, read after the rating landed.

The rating travels through the signal sink (a Celery task when ``REDIS_URL`` is set), so it
is stored a moment after the click. ``settled_tally`` waits, briefly and on a condition,
until this rater's rating has the clicked value, then returns the turn's counts.
"""

from __future__ import annotations

import time
from typing import Any

from bot.engine import Actor, InterviewEngine


def settled_tally(
    engine: InterviewEngine, turn_id: int, actor: Actor, value: int, timeout_s: float = 10.0,
    known: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], bool]:
    """The tally once the rating is stored; ``(tally, False)`` if it is still in flight at the deadline.

    ``known`` is the tally the rating's own transaction read (an in-process sink): no read is needed.
    """
    deadline, pause = time.monotonic() + timeout_s, 0.01
    counts = known if known is not None and "mine" in known else engine.tally(turn_id, actor)
    while counts["mine"] != value:
        if time.monotonic() >= deadline:
            return counts, False
        time.sleep(pause)
        pause = min(pause * 2, 0.25)
        counts = engine.tally(turn_id, actor)
    return counts, True
