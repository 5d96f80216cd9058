"""The ``workbench`` command: a thin Typer shell over the Python API.

Exit status: 0 success; 2 usage or config error; 1 the run finished but the solver reported
failure (or some ensemble members failed; the run folder records which).
"""

from __future__ import annotations

import contextlib
import math
import shlex
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    add_completion=True,
    rich_markup_mode=None,  # click's plain help: flags show as flags, not "<bool>"
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Numba-compiled numerical experiments (RK45, BFGS, RMSprop) driven by YAML files.",
)
out = Console()
err = Console(stderr=True)

TargetOpt = Annotated[
    Optional[str],  # noqa: UP045 - typer needs Optional here on Python 3.10
    typer.Option("--target", help="auto | cpu | parallel | cuda (overrides the config)."),
]
Overrides = Annotated[
    Optional[list[str]],  # noqa: UP045
    typer.Argument(help="KEY=VALUE overrides with dotted keys, e.g. solver.rtol=1e-8"),
]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show a traceback on errors.")]


class UsageError(Exception):
    """An error reported as one line on stderr with exit status 2."""


def _fail(message: str, code: int = 2) -> None:
    err.print(f"[bold red]error:[/] {escape(str(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(debug: bool):
    """Turn the errors users can fix into one clear line and exit status 2."""
    from .config import ConfigError
    from .experiments.base import ProblemError
    from .runs import ResumeError
    from .targets import TargetError

    class _Guard:
        def __enter__(self):
            return self

        def __exit__(self, et, ev, tb):
            if et is None or issubclass(et, (typer.Exit, KeyboardInterrupt)):
                return False
            if debug:
                return False
            if issubclass(et, (ConfigError, TargetError, UsageError, ResumeError)):
                _fail(str(ev))
            if issubclass(et, ProblemError):
                _fail(f"{ev.file}: {ev}" if getattr(ev, "file", None) else str(ev))
            return False

    return _Guard()


def _resolve(config: Path, overrides: list[str] | None, target: str | None = None):
    from . import config as cfgmod
    from . import experiments
    from .experiments.base import ProblemError

    cfg = cfgmod.resolve(config, overrides or [])
    if target is not None:
        cfg = cfg.model_copy(update={"target": target})
    exp = experiments.get(cfg.experiment)
    if hasattr(cfg, "sweep") and getattr(cfg, "sweep", None):
        raise UsageError(f"{config}: has a sweep: section; run it with `workbench sweep`")
    try:
        exp.check(cfg, config.parent)
    except ProblemError as exc:
        exc.file = str(config)
        raise
    return cfg, exp


def _progress_callback(enabled: bool):
    """A rich progress bar driven by ``progress(done, total)``; None when disabled."""
    if not enabled:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=out,
        transient=True,
    )
    task = bar.add_task("running", total=None)

    def update(done: int, total: int, note: str | None = None) -> None:
        if note is None:
            bar.update(task, completed=done, total=total)
        else:  # e.g. the running loss of a training run
            bar.update(task, completed=done, total=total, description=note)

    return bar, update


COMPILING = "compiling kernels, first run only"


@contextlib.contextmanager
def _compile_status(bar, enabled: bool):
    """While Numba compiles (not when it loads from its cache), say so on one line: in the
    progress bar's description when there is one (rich allows one live display at a time),
    else as a rich status spinner. Nothing when output is not a terminal."""
    if not enabled:
        yield
        return
    from ._numba import COMPILE_WATCH

    state: dict = {}

    def start(name: str) -> None:
        if bar is not None and bar.task_ids:
            task = bar.task_ids[0]
            state["description"] = bar.tasks[0].description
            bar.update(task, description=COMPILING)
        else:
            state["status"] = out.status(COMPILING)
            state["status"].start()

    def end() -> None:
        if "status" in state:
            state.pop("status").stop()
        elif "description" in state and bar is not None and bar.task_ids:
            bar.update(bar.task_ids[0], description=state.pop("description"))

    with COMPILE_WATCH.hook(start, end):
        try:
            yield
        finally:
            end()


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


def _positive_seconds(value: float | None) -> float | None:
    if value is not None and not (value > 0 and math.isfinite(value)):
        raise typer.BadParameter(f"must be a positive number of seconds, got {value!r}")
    return value


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="Experiment file (YAML).")],
    overrides: Overrides = None,
    out_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--out", help="Parent folder for the run folder (overrides `output`)."),
    ] = None,
    target: TargetOpt = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    resume: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("--resume", help="Continue the interrupted run in this .partial folder."),
    ] = None,
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option(
            "--timeout",
            callback=_positive_seconds,
            metavar="SECONDS",
            help="Stop the run after this long (exit 1; compiled work stops too).",
        ),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Run one experiment and write its run folder."""
    with _guard(debug):
        from . import runs
        from ._numba.interrupt import TimeLimitReached
        from .config import dump_resolved
        from .targets import choose_target

        cfg, exp = _resolve(config, overrides, target)
        choose_target(cfg.target, batched=exp.is_batched(cfg))  # a usage error before a folder
        show_bar = not quiet and not as_json and out.is_terminal and exp.shows_progress(cfg)
        resolved = dump_resolved(cfg)
        if resume is not None:
            _check_resumable(resume, resolved, exp)
        bar, progress = _progress_callback(show_bar)
        rd = runs.create_run(out_dir or cfg.output, cfg.name, resume=resume)
        try:
            with rd:
                rd.write_config(resolved)
                feedback = not quiet and not as_json and out.is_terminal
                with (
                    bar if bar is not None else contextlib.nullcontext(),
                    _compile_status(bar, feedback),
                ):
                    performed = runs.perform(
                        cfg, exp, progress=progress, base_dir=config.parent, checkpoint=rd,
                        timeout=timeout,
                    )  # fmt: skip
                result = runs.write_complete(rd, cfg, performed)
                outcome = performed.outcome
        except KeyboardInterrupt:
            _stopped(rd, config, overrides, "interrupted", 130)
        except TimeLimitReached as exc:
            _stopped(rd, config, overrides, f"stopped: {exc}", 1)
        except OSError as exc:  # a file that cannot be read or written: the user can fix it
            if exc.errno is None:  # not the file system's (a signal handler's TimeoutError...)
                raise
            if not rd.has_checkpoint():  # a half-written folder helps nobody
                rd.discard()
            _fail(_filesystem_message(exc, Path(out_dir or cfg.output)))
        result["run_dir"] = str(rd.path)
        if as_json:
            print(runs.strict_json(result))
        elif not quiet:
            _print_summary(result)
        else:
            out.print(str(rd.path), highlight=False)
        if outcome.status != 0:
            raise typer.Exit(1)


def _filesystem_message(exc: OSError, output: Path) -> str:
    """One line for a file that cannot be read or written: the path and the reason, and where
    run folders go when the file is in the output folder (or unnamed)."""
    target = Path(exc.filename) if exc.filename is not None else output
    reason = exc.strerror or str(exc)
    if isinstance(exc, FileExistsError) and target.exists() and not target.is_dir():
        reason = "exists and is not a folder"
    if exc.filename is not None and not target.resolve().is_relative_to(output.resolve()):
        return f"{target}: {reason}"  # not the run folder's: the hint would mislead
    return f"{target}: {reason} (run folders are written under --out, or the config's output)"


def _stopped(rd, config: Path, overrides, what: str, code: int) -> None:
    """A run stopped by Ctrl-C (exit 130) or its time limit (exit 1): keep the unfinished
    folder only when it holds a checkpoint, say how to go on from it, and exit."""
    partial = rd.partial_path
    if rd.has_checkpoint():
        again = shlex.join(
            ["workbench", "run", str(config), *(overrides or []), "--resume", str(partial)]
        )
        err.print(
            f"{what}; the run's last checkpoint is in {escape(str(partial))}; continue it "
            f"with\n  {escape(again)}",
            highlight=False,
            soft_wrap=True,
        )
    else:
        rd.discard()
        err.print(f"{what}; the run was not finished, and nothing of it was kept", soft_wrap=True)
    raise typer.Exit(code)


def _check_resumable(path: Path, resolved: str, exp) -> None:
    """An interrupted run of this very config, of a kind that keeps checkpoints."""
    from .runs import CONFIG_FILE, partial_and_final

    if not exp.checkpoints:
        raise UsageError(f"--resume: {exp.kind} runs keep no checkpoints; run them again instead")
    partial, _ = partial_and_final(path)
    if (partial / CONFIG_FILE).read_text(encoding="utf-8") != resolved:
        raise UsageError(
            f"--resume: {partial} was started with another config; resume it with the same "
            f"config and overrides (see {partial / CONFIG_FILE})"
        )


@app.command()
def sample(
    run_dir: Annotated[Path, typer.Argument(help="A finished language-model run folder.")],
    length: Annotated[int, typer.Option("--length", help="Tokens to sample (>= 1).")] = 200,
    temperature: Annotated[
        float, typer.Option("--temperature", help="0: greedy (argmax); else > 0.")
    ] = 0.8,
    prime: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--prime", help="Text that warms up the state (default: the run's)."),
    ] = None,
    seed: Annotated[Optional[int], typer.Option("--seed")] = None,  # noqa: UP045
    debug: DebugOpt = False,
) -> None:
    """Sample text from a trained language model (experiment: lm)."""
    with _guard(debug):
        from .experiments.lm import sample_text
        from .runs import is_complete, load

        if length < 1:
            raise UsageError(f"--length must be at least 1, got {length}")
        if not (math.isfinite(temperature) and temperature >= 0):
            raise UsageError(f"--temperature must be a finite number >= 0, got {temperature}")
        if not is_complete(run_dir):
            raise UsageError(f"{run_dir}: not a finished run folder")
        try:
            text = sample_text(load(run_dir), length, temperature, prime, seed)
        except ValueError as exc:
            raise UsageError(f"{run_dir}: {exc}") from None
        sys.stdout.write(text + "\n")


def _flat(figures: dict, prefix: str = ""):
    """(dotted key, value) pairs of nested figures, one table row each."""
    for key, value in figures.items():
        if isinstance(value, dict) and value:
            yield from _flat(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", value


def _print_summary(result: dict) -> None:
    ok = result["status"] == 0
    table = Table(title=f"{result['experiment']}: {result['name']}", show_header=False)
    table.add_column("figure", style="cyan", overflow="fold")
    table.add_column("value", overflow="fold")
    table.add_row("status", ("[green]" if ok else "[red]") + result["message"])
    for key, value in _flat(result["figures"]):
        table.add_row(key, escape(_format(value)))
    table.add_row("target", f"{result['target']} ({result['target_reason']})")
    table.add_row("wall time", f"{result['timings']['wall_s']:.3f} s")
    table.add_row("results", result["run_dir"])
    out.print(table)
    for w in result["warnings"]:
        out.print(f"[yellow]warning:[/] {w}")


@app.command()
def validate(
    config: Annotated[Path, typer.Argument(help="Experiment file (YAML).")],
    overrides: Overrides = None,
    debug: DebugOpt = False,
) -> None:
    """Check a config and print it fully resolved (every default filled in)."""
    with _guard(debug):
        from .config import dump_resolved

        cfg, _ = _resolve(config, overrides)
        sys.stdout.write(dump_resolved(cfg))


def _bundled_configs() -> list[Path]:
    seen, found = set(), []
    for folder in (Path.cwd() / "configs", Path(__file__).resolve().parents[1] / "configs"):
        for path in sorted(folder.glob("*.yaml")):
            if path.resolve() not in seen:
                seen.add(path.resolve())
                found.append(path)
    return found


@app.command("list")
def list_(debug: DebugOpt = False) -> None:
    """The experiment kinds and the bundled configs, one line each."""
    from . import experiments
    from .config import load_file

    for kind in experiments.KINDS:
        # soft_wrap: one line per entry, also when piped (no wrapping at the console's width)
        out.print(
            f"kind    [bold]{kind}[/]: {experiments.get(kind).summary}",
            highlight=False,
            soft_wrap=True,
        )
    for path in _bundled_configs():
        try:
            raw = load_file(path)
            what = f"{raw.get('experiment', '?')}: {raw.get('name', '')}"
        except Exception as exc:  # a broken file is listed, not fatal
            what = f"unreadable ({exc})"
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        out.print(f"config  {shown}  ({what})", highlight=False, soft_wrap=True)


@app.command()
def info() -> None:
    """Versions, CPU threads and threading layer, CUDA, and the compile cache."""
    import numba

    from . import runs
    from .targets import cpu_threads, cuda_status, threading_layer

    table = Table(show_header=False, title="workbench info")
    for key, value in runs.versions().items():
        table.add_row(key, value)
    table.add_row("CPU threads", str(cpu_threads()))
    table.add_row("threading layer", threading_layer(initialise=True))
    usable, why = cuda_status()
    table.add_row("CUDA", ("usable: " if usable else "not usable: ") + why)
    cache = numba.config.CACHE_DIR or "beside each module, in __pycache__ (NUMBA_CACHE_DIR unset)"
    table.add_row("compile cache", str(cache))
    out.print(table)


@app.command()
def compare(
    config: Annotated[Path, typer.Argument(help="Experiment file (YAML).")],
    overrides: Overrides = None,
    repeats: Annotated[int, typer.Option(help="Timed repeats (median).")] = 5,
    debug: DebugOpt = False,
) -> None:
    """Run with our kernel and with the scipy/numpy reference; print differences and speed."""
    with _guard(debug):
        cfg, exp = _resolve(config, overrides)
        result = exp.compare(cfg, config.parent, repeats=repeats)
        table = Table(title=f"{cfg.experiment}: workbench vs reference")
        table.add_column("", overflow="fold")
        table.add_column("workbench", overflow="fold")
        table.add_column("reference", overflow="fold")
        for row in result.rows:
            table.add_row(row.quantity, _format(row.ours), _format(row.reference))
        table.add_row("max abs difference", f"{result.max_abs_diff:.3g}", "")
        table.add_row("max rel difference", f"{result.max_rel_diff:.3g}", "")
        table.add_row(
            "median wall time",
            f"{result.ours_seconds * 1e3:.3f} ms",
            f"{result.reference_seconds * 1e3:.3f} ms",
        )
        table.add_row("speed-up", f"{result.speedup:.1f}x", "")
        out.print(table)


@contextlib.contextmanager
def _sweep_errors(debug: bool):
    """A sweep's config and usage errors as one line (`_fail` escapes values like [q])."""
    from .config import ConfigError

    try:
        yield
    except ConfigError as exc:
        if debug:
            raise
        _fail(str(exc))


@app.command()
def sweep(
    config: Annotated[Path, typer.Argument(help="Experiment file (YAML), maybe with a sweep:.")],
    axes: Annotated[
        Optional[list[str]],  # noqa: UP045
        typer.Argument(
            help="Axes: KEY=V1,V2,... (YAML values) or KEY=linspace(a,b,n), logspace(a,b,n), "
            "range(a,b,step); they add to or replace the file's sweep: axes."
        ),
    ] = None,
    random_n: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--random", help="Run N combinations drawn at random, not the whole grid."),
    ] = None,
    seed: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--seed", help="Seed of --random (default: the sweep section's, else 0)."),
    ] = None,
    executor: Annotated[str, typer.Option("--executor", help="local | dask")] = "local",
    workers: Annotated[
        Optional[int],  # noqa: UP045
        typer.Option("--workers", help="Worker processes (default: the usable cores)."),
    ] = None,
    address: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--address", help="tcp://HOST:PORT of a Dask scheduler (--executor dask)."),
    ] = None,
    out_dir: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option(
            "--out",
            help="The sweep folder (default OUTPUT/NAME-sweep-TIMESTAMP); one that holds runs "
            "of this sweep is resumed.",
        ),
    ] = None,
    timeout: Annotated[
        Optional[float],  # noqa: UP045
        typer.Option("--timeout", help="Seconds one run may take; then its worker is killed."),
    ] = None,
    sort: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--sort", help="Sort the final table by this column (-COLUMN: descending)."),
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or table.")] = False,
    debug: DebugOpt = False,
) -> None:
    """Run an experiment for every combination of the axes' values, in parallel.

    Exit status: 0 all runs ok; 1 some failed; 2 usage or config error; 130 stopped by Ctrl-C.
    """
    with _guard(debug), _sweep_errors(debug):
        from . import sweeps as sw

        sw.check_options(executor, workers, address, timeout)
        plan = sw.plan(config, axes or [], random=random_n, seed=seed, sort=sort, out=out_dir)
        if not quiet:
            out.print(f"sweep {plan.out}: {len(plan.runs)} runs", highlight=False)
        reporter = sw.RichReporter(out, enabled=not quiet and out.is_terminal)
        try:
            result = sw.run(
                plan,
                executor=executor,
                workers=workers,
                address=address,
                timeout=timeout,
                reporter=reporter,
            )
        except KeyboardInterrupt:
            err.print(
                f"interrupted: finished runs are kept in {plan.out}; run the same command "
                "again to resume",
                highlight=False,
                soft_wrap=True,
            )
            raise typer.Exit(130) from None
        if not quiet:
            rows_warning = sw.sorted_rows(result, sort or result.sort)[1]
            for warning in [*result.warnings, *([rows_warning] if rows_warning else [])]:
                err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False)
            out.print(sw.summary_table(result, sort))
        for line in sw.failure_lines(result):
            err.print(escape(line), highlight=False, soft_wrap=True)
        if not quiet:
            out.print(f"summary: {result.path / sw.SUMMARY_CSV}", highlight=False)
        raise typer.Exit(result.exit_code)


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A complete run folder, or a sweep folder.")],
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("-o", "--output", help="PNG file (default RUN_DIR/plot.png)."),
    ] = None,
    x: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--x", help="Sweep folder: the varied key along the x axis."),
    ] = None,
    y: Annotated[
        Optional[str],  # noqa: UP045
        typer.Option("--y", help="Sweep folder: the figure (summary column) along the y axis."),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Draw the experiment's standard figure for a run folder, or a figure against a varied
    key for a sweep folder (one line per value of a second varied key)."""
    with _guard(debug):
        from . import experiments, runs
        from . import sweeps as sw

        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("plotting needs matplotlib: pip install 'workbench[plot]'") from None
        if not run_dir.is_dir():
            raise UsageError(f"{run_dir}: no such folder (a run folder or a sweep folder)")
        if output is not None and not output.parent.is_dir():
            raise UsageError(f"-o {output}: the folder {output.parent} does not exist")
        if sw.is_sweep_folder(run_dir):
            if not x or not y:
                raise UsageError(f"{run_dir}: a sweep folder: say what to draw, --x KEY --y FIGURE")
            with _sweep_errors(debug):
                out.print(f"wrote {sw.plot(run_dir, x, y, output)}", highlight=False)
            return
        if x or y:
            raise UsageError(f"{run_dir}: --x and --y apply to sweep folders only")
        try:
            run_ = runs.load(run_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise UsageError(f"{run_dir}: {exc}") from None
        target = output or run_dir / "plot.png"
        experiments.get(run_.config["experiment"]).plot(run_, target)
        out.print(f"wrote {target}", highlight=False)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        out.print(f"workbench {__version__}", highlight=False)
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Numba-compiled numerical experiments (RK45, BFGS, RMSprop) driven by YAML files."""


def main() -> None:
    """Run the ``workbench`` command line on ``sys.argv`` (the console script's entry point)."""
    app(prog_name="workbench")


if __name__ == "__main__":
    main()
