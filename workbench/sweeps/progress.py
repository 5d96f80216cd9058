"""How a sweep reports progress: :class:`Reporter` (silent) and :class:`RichReporter` (a rich
progress bar over runs)."""

from __future__ import annotations


class Reporter:
    """Told what a sweep is doing; the base class ignores it all."""

    def start(self, total: int, skipped: int) -> None: ...

    def update(self, done: int, failed: int, running: int) -> None: ...

    def note(self, text: str) -> None: ...

    def stop(self) -> None: ...


class RichReporter(Reporter):
    """A rich progress bar over runs (done, failed, running, ETA) on ``console``."""

    def __init__(self, console, enabled: bool = True):
        self.console = console
        self.enabled = enabled
        self.bar = None
        self.task = None

    def start(self, total: int, skipped: int) -> None:
        if not self.enabled:
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        if skipped:
            self.console.print(f"{skipped} run(s) already done in this folder: skipped")
        self.bar = Progress(
            TextColumn("sweep"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self.task = self.bar.add_task("sweep", total=total, counts="")
        self.bar.start()

    def update(self, done: int, failed: int, running: int) -> None:
        if self.bar is not None:
            counts = f"[green]{done - failed} ok[/] [red]{failed} failed[/] {running} running"
            self.bar.update(self.task, completed=done, counts=counts)

    def note(self, text: str) -> None:
        if self.enabled:
            self.console.print(text, highlight=False)

    def stop(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
