"""The ``workbench`` command: a thin Typer shell over the Python API.

Exit status: 0 success; 2 usage or config error; 1 the run finished but the solver reported
failure (or some ensemble members failed; the run folder records which).
"""

from __future__ import annotations

import json
import platform
import sys
import time
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(
    add_completion=False,
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
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _guard(debug: bool):
    """Turn the errors users can fix into one clear line and exit status 2."""
    from .config import ConfigError
    from .experiments.base import ProblemError
    from .targets import TargetError

    class _Guard:
        def __enter__(self):
            return self

        def __exit__(self, et, ev, tb):
            if et is None or issubclass(et, (typer.Exit, KeyboardInterrupt)):
                return False
            if debug:
                return False
            if issubclass(et, (ConfigError, TargetError, UsageError)):
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


def _versions() -> dict[str, str]:
    import llvmlite
    import numba
    import numpy
    import scipy

    from . import __version__

    return {
        "workbench": __version__,
        "python": platform.python_version(),
        "numba": numba.__version__,
        "llvmlite": llvmlite.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
    }


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


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, list):
        return "[" + ", ".join(_format(v) for v in value) + "]"
    return str(value)


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
    debug: DebugOpt = False,
) -> None:
    """Run one experiment and write its run folder."""
    with _guard(debug):
        from . import runs
        from .config import dump_resolved
        from .targets import choose_target

        started = time.perf_counter()
        cfg, exp = _resolve(config, overrides, target)
        choice = choose_target(cfg.target, batched=exp.is_batched(cfg))
        show_bar = not quiet and not as_json and out.is_terminal and exp.shows_progress(cfg)
        bar, progress = _progress_callback(show_bar)
        with runs.create_run(out_dir or cfg.output, cfg.name) as rd:
            rd.write_config(dump_resolved(cfg))
            rd.log(f"target: {choice.name} ({choice.reason})")
            if bar is not None:
                with bar:
                    outcome = exp.run(cfg, choice.name, progress, config.parent)
            else:
                outcome = exp.run(cfg, choice.name, progress, config.parent)
            wall = time.perf_counter() - started
            result = {
                "experiment": cfg.experiment,
                "name": cfg.name,
                "status": outcome.status,
                "success": outcome.status == 0,
                "message": outcome.message,
                "figures": outcome.figures,
                "warnings": outcome.warnings,
                "target": outcome.target,
                "target_reason": choice.reason,
                "timings": {**outcome.timings, "wall_s": wall},
                "seed": cfg.seed,
                "versions": _versions(),
            }
            rd.write_arrays(outcome.arrays)
            rd.log(f"status {outcome.status}: {outcome.message}")
            rd.write_result(result)
        result["run_dir"] = str(rd.path)
        if as_json:
            print(json.dumps(result, default=str))
        elif not quiet:
            _print_summary(result)
        else:
            out.print(str(rd.path), highlight=False)
        if outcome.status != 0:
            raise typer.Exit(1)


def _print_summary(result: dict) -> None:
    ok = result["status"] == 0
    table = Table(title=f"{result['experiment']}: {result['name']}", show_header=False)
    table.add_column("figure", style="cyan")
    table.add_column("value")
    table.add_row("status", ("[green]" if ok else "[red]") + result["message"])
    for key, value in result["figures"].items():
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
        out.print(f"kind    [bold]{kind}[/]: {experiments.get(kind).summary}", highlight=False)
    for path in _bundled_configs():
        try:
            raw = load_file(path)
            what = f"{raw.get('experiment', '?')}: {raw.get('name', '')}"
        except Exception as exc:  # a broken file is listed, not fatal
            what = f"unreadable ({exc})"
        shown = path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
        out.print(f"config  {shown}  ({what})", highlight=False)


@app.command()
def info() -> None:
    """Versions, CPU threads and threading layer, CUDA, and the compile cache."""
    import numba

    from .targets import cpu_threads, cuda_status, threading_layer

    table = Table(show_header=False, title="workbench info")
    for key, value in _versions().items():
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
        table.add_column("")
        table.add_column("workbench")
        table.add_column("reference")
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


@app.command()
def plot(
    run_dir: Annotated[Path, typer.Argument(help="A complete run folder.")],
    output: Annotated[
        Optional[Path],  # noqa: UP045
        typer.Option("-o", "--output", help="PNG file (default RUN_DIR/plot.png)."),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Draw the experiment's standard figure for a run folder."""
    with _guard(debug):
        from . import experiments, runs

        try:
            import matplotlib  # noqa: F401
        except ImportError:
            raise UsageError("plotting needs matplotlib: pip install 'workbench[plot]'") from None
        try:
            run_ = runs.load(run_dir)
        except (FileNotFoundError, ValueError) as exc:
            raise UsageError(f"{run_dir}: {exc}") from None
        target = output or run_dir / "plot.png"
        experiments.get(run_.config["experiment"]).plot(run_, target)
        out.print(f"wrote {target}", highlight=False)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
