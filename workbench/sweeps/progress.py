"""How a sweep reports progress: :class:`Reporter` (silent) and :class:`RichReporter` (a rich
progress bar over runs)."""

from __future__ import annotations


class Reporter:
    """Told what a sweep is doing; the base class ignores it all."""

    def start(self, total: int, skipped: int) -> None:
        """The sweep starts.

        Parameters
        ----------
        total : int
            Runs to do.
        skipped : int
            Runs left out because the folder already holds them, finished.

        Returns
        -------
        None
        """

    def update(self, done: int, failed: int, running: int) -> None:
        """The counts changed.

        Parameters
        ----------
        done : int
            Runs finished, failed ones included.
        failed : int
            Runs finished without success.
        running : int
            Runs in progress.

        Returns
        -------
        None
        """

    def note(self, text: str) -> None:
        """A line to show the user.

        Parameters
        ----------
        text : str
            The line.

        Returns
        -------
        None
        """

    def stop(self) -> None:
        """The sweep is over (or interrupted)."""


class RichReporter(Reporter):
    """A rich progress bar over runs (done, failed, running, ETA) on ``console``."""

    def __init__(self, console, enabled: bool = True):
        self.console = console
        self.enabled = enabled
        self.bar = None
        self.task = None

    def start(self, total: int, skipped: int) -> None:
        """Say how many runs were skipped and start the bar (when enabled)."""
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
        """Move the bar and show the ok, failed and running counts."""
        if self.bar is not None:
            counts = f"[green]{done - failed} ok[/] [red]{failed} failed[/] {running} running"
            self.bar.update(self.task, completed=done, counts=counts)

    def note(self, text: str) -> None:
        """Print ``text`` on the console (when enabled)."""
        if self.enabled:
            self.console.print(text, highlight=False)

    def stop(self) -> None:
        """Stop the bar, leaving it on the screen."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
