"""The startup heap is frozen out of the collector's view, and only that."""

from __future__ import annotations

import subprocess
import sys

# In a child process: freezing is process-wide and would change the rest of the suite.
CHECK = """
import gc
from bot.ops.heap import freeze_startup_heap

startup = [[]]
startup[0].append(startup)  # a cycle, so it is tracked by the collector
frozen = freeze_startup_heap()
later = [[]]
tracked = gc.get_objects()
print(frozen, any(o is startup for o in tracked), any(o is later for o in tracked))
"""


def test_objects_alive_at_startup_leave_the_collected_generations_and_later_ones_do_not() -> None:
    result = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, check=True)
    frozen, startup_tracked, later_tracked = result.stdout.split()
    assert int(frozen) > 1_000  # the interpreter and imports alone are thousands of objects
    assert startup_tracked == "False"
    assert later_tracked == "True"
