"""A Rich progress bar for the Hugging Face Trainer (TRL trainers included), in place of tqdm."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from transformers import TrainerCallback


class RichProgress(TrainerCallback):
    """Steps done / total, elapsed and remaining time, and the latest loss; starts at the resumed step."""

    def __init__(self, description: str, console: Console | None = None) -> None:
        self.description = description
        self.console = console or Console(stderr=True)
        self.progress: Progress | None = None
        self.task: Any = None

    def on_train_begin(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[loss]}"),
            console=self.console,
            transient=False,
        )
        self.progress.start()
        self.task = self.progress.add_task(
            self.description, total=state.max_steps, completed=state.global_step, loss=""
        )

    def on_step_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):  # type: ignore[no-untyped-def]
        if self.progress is not None and logs and "loss" in logs:
            self.progress.update(self.task, loss=f"loss {float(logs['loss']):.4f}")

    def on_train_end(self, args, state, control, **kwargs):  # type: ignore[no-untyped-def]
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)
            self.progress.stop()
            self.progress = None
