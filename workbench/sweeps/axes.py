"""Sweep axes and their combinations.

An axis is a dotted config key and the values it takes. On the command line it is written
``KEY=V1,V2,...`` (each value a YAML scalar or flow collection, split at the commas that are
not inside brackets or quotes: ``solver.atol=[1e-6,1e-8],[1e-7,1e-9]`` has two values), or with
one of the range forms ``linspace(a,b,n)``, ``logspace(a,b,n)`` (``10**a`` to ``10**b``) and
``range(a,b[,step])`` (``b`` excluded, as Python's). In a ``sweep:`` section the values are a
YAML list or one of the same range forms as a string.

Values made by ``linspace``/``logspace`` are rounded to 15 significant digits, so that
``logspace(-3,-6,4)`` gives ``0.001`` and not ``0.0010000000000000002``.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

from ..config import ConfigError, load_yaml

__all__ = ["Axis", "axis_from_yaml", "grid", "parse_axis", "sample", "show", "yaml_text"]

#: A grid larger than this is refused (use --random to draw from it instead).
MAX_GRID = 100_000

_FUNC = re.compile(r"^\s*(linspace|logspace|range)\s*\((.*)\)\s*$", re.S)
# a key, with list indices as ``optimizers[0]`` or as a part of their own (``optimizers.0``)
_KEY_PART = re.compile(r"^(?:[A-Za-z_][A-Za-z0-9_]*(?:\[\d+\])*|\d+)$")
FORMS = "V1,V2,... (YAML values), linspace(a,b,n), logspace(a,b,n) or range(a,b,step)"


@dataclass
class Axis:
    """One swept key. ``sampler`` says how ``--random`` draws from it: ``("choice",)`` picks
    one of ``values``, ``("uniform", a, b)`` and ``("loguniform", a, b)`` draw from the range
    that ``linspace``/``logspace`` spans."""

    key: str
    values: list[Any]
    spec: str
    sampler: tuple = field(default=("choice",))

    def describe(self) -> dict[str, Any]:
        """What ``sweep.yaml`` records for this axis."""
        return {"spec": self.spec, "values": self.values}


class _AxisError(Exception):
    """A problem with one axis; the caller turns it into a ConfigError naming file and key."""


# ------------------------------------------------------------------------------------ parsing


def parse_axis(text: str) -> Axis:
    """An axis written on the command line, ``KEY=V1,V2,...`` or ``KEY=linspace(a,b,n)``."""
    key, sep, spec = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ConfigError(f"axis {text!r}: expected KEY=VALUES, with VALUES one of {FORMS}")
    try:
        _check_key(key)
        if not spec.strip():
            raise _AxisError(f"no values after '='; expected {FORMS}")
        match = _FUNC.match(spec)
        if match:
            values, sampler = _expand(match.group(1), match.group(2))
        else:
            values, sampler = [_value(item) for item in _split(spec)], ("choice",)
    except _AxisError as exc:
        raise ConfigError(f"axis {text!r}: {exc}") from None
    return Axis(key, values, spec.strip(), sampler)


def axis_from_yaml(key: Any, value: Any, *, file: Any = None, where: str = "sweep") -> Axis:
    """An axis from a ``sweep:`` section: a list of values, or a range form as a string."""
    where_key = f"{where}.{key}"
    try:
        if not isinstance(key, str):
            raise _AxisError(f"expected a dotted config key such as solver.rtol, got {key!r}")
        _check_key(key)
        if isinstance(value, str) and _FUNC.match(value):
            match = _FUNC.match(value)
            values, sampler = _expand(match.group(1), match.group(2))
            return Axis(key, values, value.strip(), sampler)
        if isinstance(value, list):
            if not value:
                raise _AxisError("the list of values is empty")
            return Axis(key, list(value), yaml_text(value), ("choice",))
        if isinstance(value, dict):
            raise _AxisError(
                "expected a list of values or a range form such as logspace(-3,-6,4), got a "
                "mapping (a mapping value is written as a one-item list: [{...}])"
            )
        return Axis(key, [value], yaml_text(value), ("choice",))
    except _AxisError as exc:
        raise ConfigError(str(exc), file=file, key=where_key) from None


def _check_key(key: str) -> None:
    parts = key.split(".")
    if parts[0].isdigit() or not all(_KEY_PART.match(part) for part in parts):
        raise _AxisError(f"{key!r} is not a dotted config key such as solver.rtol")


def _split(text: str) -> list[str]:
    """``text`` split at the commas outside brackets, braces and quotes."""
    items, depth, quote, start = [], 0, None, 0
    pairs = {"[": "]", "{": "}", "(": ")"}
    stack: list[str] = []
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in pairs:
            stack.append(pairs[ch])
            depth += 1
        elif ch in "]})":
            if not stack or stack.pop() != ch:
                raise _AxisError(f"unbalanced {ch!r} in {text!r}")
            depth -= 1
        elif ch == "," and depth == 0:
            items.append(text[start:i])
            start = i + 1
    if quote or stack:
        raise _AxisError(f"unclosed {'quote' if quote else repr(stack[-1])} in {text!r}")
    items.append(text[start:])
    for item in items:
        if not item.strip():
            raise _AxisError(f"empty value in {text!r} (two commas in a row, or a trailing comma)")
    return [item.strip() for item in items]


def _value(text: str) -> Any:
    try:
        return load_yaml(text)
    except ConfigError as exc:
        raise _AxisError(f"cannot read value {text!r}: {exc.problem}") from None


def _number(text: str, func: str) -> float | int:
    value = _value(text.strip()) if text.strip() else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _AxisError(f"{func}(...): expected finite numbers, got {text.strip()!r}")
    return value


def _clean(x: float) -> float:
    return float(f"{float(x):.15g}")


def _expand(func: str, args_text: str) -> tuple[list[Any], tuple]:
    """The values of ``func(args)`` and how ``--random`` samples the axis."""
    args = [_number(a, func) for a in args_text.split(",")] if args_text.strip() else []
    if func in ("linspace", "logspace"):
        if len(args) != 3:
            raise _AxisError(f"{func}(a,b,n) takes 3 numbers, got {len(args)}")
        a, b, n = args
        if not isinstance(n, int) or not 1 <= n <= MAX_GRID:
            raise _AxisError(f"{func}(a,b,n): n must be an integer from 1 to {MAX_GRID}, got {n!r}")
        step = (b - a) / (n - 1) if n > 1 else 0.0
        exps = [a + i * step for i in range(n - 1)] + [b] if n > 1 else [a]
        if func == "linspace":
            return [_clean(x) for x in exps], ("uniform", float(a), float(b))
        if max(abs(a), abs(b)) > 300:
            raise _AxisError(f"logspace(a,b,n): 10**a and 10**b must be floats, got a={a}, b={b}")
        return [_clean(10.0**x) for x in exps], ("loguniform", 10.0**a, 10.0**b)
    if len(args) not in (2, 3):
        raise _AxisError(f"range(a,b[,step]) takes 2 or 3 numbers, got {len(args)}")
    a, b = args[0], args[1]
    step = args[2] if len(args) == 3 else 1
    if step == 0:
        raise _AxisError("range(a,b,step): step must not be 0")
    if all(isinstance(x, int) for x in (a, b, step)):
        values: list[Any] = list(range(a, b, step))
    else:
        count = max(0, math.ceil((b - a) / step - 1e-9))
        values = [_clean(a + i * step) for i in range(count)]
    if not values:
        raise _AxisError(f"range({a},{b},{step}) is empty")
    if len(values) > MAX_GRID:
        raise _AxisError(f"range({a},{b},{step}) has {len(values)} values (at most {MAX_GRID})")
    return values, ("choice",)


# ------------------------------------------------------------------------------- combinations


def grid(axes: list[Axis]) -> list[dict[str, Any]]:
    """Every combination, the first axis varying slowest."""
    size = math.prod(len(ax.values) for ax in axes)
    if size > MAX_GRID:
        raise ConfigError(
            f"the grid has {size} combinations (more than {MAX_GRID}); "
            "draw some of them with --random N"
        )
    keys = [ax.key for ax in axes]
    products = itertools.product(*(ax.values for ax in axes))
    return [dict(zip(keys, combo, strict=True)) for combo in products]


def sample(axes: list[Axis], n: int, seed: int) -> list[dict[str, Any]]:
    """``n`` combinations drawn at random (seeded).

    When every axis is a list of values, ``n`` distinct grid points are drawn without
    replacement; an axis written as ``linspace``/``logspace`` is drawn uniformly (log-uniformly)
    over its whole range instead of from its ``n`` points.
    """
    import numpy as np

    if n < 1:
        raise ConfigError(f"--random: expected a count >= 1, got {n}")
    rng = np.random.default_rng(seed)
    keys = [ax.key for ax in axes]
    if all(ax.sampler[0] == "choice" for ax in axes):
        sizes = [len(ax.values) for ax in axes]
        total = math.prod(sizes)
        if n > total:
            raise ConfigError(
                f"--random {n}: the grid has only {total} combinations; run it whole "
                "(leave out --random) or ask for fewer"
            )
        flat = rng.choice(total, size=n, replace=False)
        picks = [np.unravel_index(int(i), sizes) for i in flat]
        return [
            {k: ax.values[int(j)] for k, ax, j in zip(keys, axes, p, strict=True)} for p in picks
        ]
    out = []
    for _ in range(n):
        combo = {}
        for ax in axes:
            kind = ax.sampler[0]
            lo, hi = sorted(ax.sampler[1:]) if kind != "choice" else (0, 0)
            if kind == "uniform":
                combo[ax.key] = _clean(rng.uniform(lo, hi))
            elif kind == "loguniform":
                combo[ax.key] = _clean(math.exp(rng.uniform(math.log(lo), math.log(hi))))
            else:
                combo[ax.key] = ax.values[int(rng.integers(len(ax.values)))]
        out.append(combo)
    return out


# ------------------------------------------------------------------------------------ showing


def yaml_text(value: Any) -> str:
    """``value`` written as YAML flow text that :func:`workbench.config.load_yaml` reads back
    to an equal value (used to turn a combination into ``KEY=VALUE`` overrides)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(yaml_text(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (f"{json.dumps(str(k))}: {yaml_text(v)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    raise ConfigError(f"cannot use a {type(value).__name__} as a sweep value")


def show(value: Any) -> str:
    """A value as a person reads it in a message or a table (strings unquoted)."""
    if isinstance(value, str):
        return value
    return yaml_text(value)
