"""Where log records go while an interview is on the screen.

Rich draws a panel line by line, and a warning written to the same terminal meanwhile (a
provider falling back, the broker down, a library's ``warnings.warn``) lands between those
lines and breaks the panel apart. During ``mockingbird practice`` records go to a log file in
the data directory instead; if that file cannot be opened they wait in memory and are printed,
one line each, after the session. Either way a single line at the end says that something
was logged, so a warning is never silently lost.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _Held(logging.Handler):
    """Keeps warnings and errors until the session is over (no writable log file)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


class _Counter(logging.Handler):
    """Counts warnings and errors, for the closing line."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1


@contextmanager
def logs_aside(directory: Path, stream: TextIO | None = None) -> Iterator[Path | None]:
    """Send the root logger's records to ``directory/practice.log`` for the duration.

    Yields the log file's path, or None when it could not be opened (records are then held
    and printed to ``stream``, stderr by default, at the end). The previous handlers come
    back afterwards, whatever happened inside.
    """
    out = stream or sys.stderr
    root = logging.getLogger()
    saved = root.handlers[:]
    path: Path | None = directory / "practice.log"
    handler: logging.Handler
    try:
        directory.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")  # type: ignore[arg-type]
    except OSError:
        path, handler = None, _Held()
    handler.setFormatter(logging.Formatter(FORMAT))
    counter = _Counter()
    root.handlers = [handler, counter]
    logging.captureWarnings(True)
    try:
        yield path
    finally:
        logging.captureWarnings(False)
        root.handlers = saved
        handler.close()
        if isinstance(handler, _Held):
            for record in handler.records:
                message = " ".join(record.getMessage().split())
                print(f"mockingbird: {record.levelname.lower()}: {message}", file=out)
        elif counter.count:
            noun = "warning" if counter.count == 1 else "warnings"
            print(f"mockingbird: {counter.count} {noun} during the session, in {path}", file=out)


__all__ = ["logs_aside"]
