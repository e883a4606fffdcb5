"""Files a command writes where it was told (``--chart``, ``--html``, ``--out``).

Checked before the work, not after: an export or an evaluation that runs for minutes and then
cannot save its result has wasted those minutes. Missing parent directories are made.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

from bot.errors import FixableError


class OutputPathError(FixableError):
    """The file cannot be written there; the message names the part of the path that is in the way."""


def prepare_output(path: Path) -> Path:
    """Make ``path``'s missing parent directories, or raise ``OutputPathError`` saying why not."""
    if path.is_dir():
        raise OutputPathError(f"{path} is a directory", f"give a file name, such as {path / 'out'}")
    existing = next(parent for parent in (path.parent.absolute(), *path.parent.absolute().parents)
                    if parent.exists())
    if not existing.is_dir():
        raise OutputPathError(f"Cannot write {path}: {existing} is a file, not a directory",
                              "choose another path")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OutputPathError(f"Cannot write {path}: {existing} is not writable", "choose a directory you can write")
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputPathError(f"Cannot write {path}: the file is read-only", "choose another file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputPathError(f"Cannot create {path.parent} ({exc.strerror})", "choose another path") from exc
    return path


PRIVATE_MODE = 0o600


def open_private(path: Path) -> IO[str]:
    """``path`` opened for writing text, readable and writable by its owner only (0600), whatever
    the umask: exports and exemplar sets hold candidates' answers. An existing file is truncated
    and its mode tightened too."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_MODE)
    try:
        os.fchmod(fd, PRIVATE_MODE)  # O_CREAT's mode is cut by the umask and ignored for an existing file
        return os.fdopen(fd, "w", encoding="utf-8")
    except BaseException:
        os.close(fd)
        raise
