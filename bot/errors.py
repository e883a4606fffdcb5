"""Problems the person running Mockingbird can fix: a setting, a path, a service to start.

They carry the fix with them, so the CLI can print one line instead of a traceback (a
newcomer's first error should say what to change, not where in SQLAlchemy it broke) and
``mockingbird doctor`` can show the same words.
"""

from __future__ import annotations


class FixableError(Exception):
    """One line: what is wrong, then what to do about it. Never carries a secret."""

    exit_code = 2

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}. Fix: {fix}" if fix else problem)
