"""Keep the garbage collector's full passes off long-running bots' latency.

A bot process holds about 100,000 long-lived objects once started (the SDKs,
SQLAlchemy's mappers and compiled statements, the question bank). CPython's full (oldest
generation) collection walks all of them while holding the interpreter lock, and every
interview in the process waits: 30-45 ms per pass in ``bench/bench_slack.py``, the largest
part of the added-latency tail. ``gc.freeze()`` moves what exists at startup into a
permanent generation the collector no longer scans, so later passes only walk what requests
create. Cycles among those frozen objects are simply never collected, which is fine for
objects that live as long as the process anyway.
"""

from __future__ import annotations

import gc


def freeze_startup_heap() -> int:
    """Collect once, then freeze every surviving object; returns how many are frozen.

    Call it when a process has finished starting: app built, before serving.
    """
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
