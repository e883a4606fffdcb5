"""The interview engine: platform-free, stateless between calls, safe under concurrency.

``InterviewEngine`` is the one object adapters hold. Its rooms, one job each:

* ``core``: collaborators, people and roles, loading a session, the compare-and-set transition;
* ``lifecycle``: start, next question, grading and moving on, resume, end, report
  (the state machine is drawn there);
* ``intake``: a reply or skip claims the open question once, across redeliveries;
* ``ratings``: 👍 / 👎, corrections and surveys, handed to the background side;
* ``queries``: what adapters read (thread owner, history, tallies);
* ``privacy``: forgetting a person.

The engine imports chains and the store, never an adapter, Celery or a metrics library: it
reports through the ``EngineObserver`` and ``SignalSink`` the composition root (``bot.app``)
hands it.
"""

from __future__ import annotations

from bot.engine.intake import Intake
from bot.engine.privacy import Privacy
from bot.engine.queries import Queries
from bot.engine.ratings import Signals


class InterviewEngine(Intake, Signals, Queries, Privacy):
    """Every room of the engine behind one object (see the module docstring)."""
