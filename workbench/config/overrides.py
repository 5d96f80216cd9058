"""Command-line overrides: ``KEY=VALUE`` with a dotted key path and a YAML value.

Parsed overrides are cached, so a sweep can apply the same axis values to many runs cheaply.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Iterable
from typing import Any

from .loading import load_yaml
from .messages import ConfigError, type_name

__all__ = ["apply_overrides", "parse_override"]


def parse_override(text: str) -> tuple[list[str], Any]:
    """Split an override into its key path and its value.

    ``"solver.rtol=1e-8"`` gives ``(["solver", "rtol"], 1e-8)``; the value is parsed as YAML.
    An empty value (``name=``) is the empty string; write ``key=null`` for None.

    Parameters
    ----------
    text : str
        ``KEY=VALUE``, the key dotted.

    Returns
    -------
    path : list of str
        The key path.
    value : object
        The parsed value (a fresh copy each call).
    """
    path, value = _parse_override_cached(text)
    return list(path), copy.deepcopy(value)


_INDEX = re.compile(r"\[\s*(\d+)\s*\]")


@functools.lru_cache(maxsize=4096)
def _parse_override_cached(text: str) -> tuple[tuple[str, ...], Any]:
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE (e.g. solver.rtol=1e-8)")
    if not key:
        raise ConfigError(f"override {text!r}: the key before '=' is empty")
    # "optimizers[0].lr", the form messages show, is "optimizers.0.lr"
    path = tuple(part.strip() for part in _INDEX.sub(r".\1", key).split("."))
    if not all(path):
        raise ConfigError(f"override {text!r}: empty part in key path {key!r}")
    if not value_text.strip():
        return path, ""
    try:
        value = load_yaml(value_text)
    except ConfigError as exc:
        raise ConfigError(f"override {text!r}: cannot parse value: {exc.problem}") from None
    return path, value


def apply_overrides(raw: dict, overrides: Iterable[str]) -> dict:
    """A copy of ``raw`` with each ``KEY=VALUE`` override applied in order.

    Missing intermediate mappings are created. A list item is addressed by its index, as
    ``optimizers.0.lr`` or ``optimizers[0].lr`` (the form error messages use). Setting
    ``SECTION.kind`` to a *different* kind replaces the section with ``{"kind": new}`` so it
    gets the new kind's defaults; the other overrides of that section given anywhere on the
    command line are then applied again, in order. Setting ``kind`` to the kind the section
    already has keeps the section as it is.

    Parameters
    ----------
    raw : dict
        A loaded experiment file (not changed).
    overrides : iterable of str
        ``KEY=VALUE`` overrides.

    Returns
    -------
    dict
        The overridden mapping.
    """
    out = copy.deepcopy(raw)
    parsed = [parse_override(text) + (text,) for text in overrides]
    for i, (path, value, text) in enumerate(parsed):
        if len(path) > 1 and path[-1] == "kind":
            section_path = path[:-1]
            parent = _container(out, section_path, text)
            section = _get(parent, section_path[-1])
            if isinstance(section, dict) and section.get("kind") == value:
                continue
            _put(parent, section_path[-1], {"kind": copy.deepcopy(value)})
            # Overrides of this section that came before the reset are applied again; those
            # after it are applied when the loop reaches them.
            n = len(section_path)
            for other_path, other_value, other_text in parsed[:i]:
                if len(other_path) > n and other_path[:n] == section_path:
                    if other_path[n:] != ["kind"]:
                        _set(out, other_path, other_value, other_text)
        else:
            _set(out, path, value, text)
    return out


def _container(root: dict, path: list[str], text: str) -> dict | list:
    """The mapping or list that holds ``path[-1]``, creating missing mappings on the way."""
    node: dict | list = root
    for depth, part in enumerate(path[:-1]):
        child = _get(node, part, path[:depth], text)
        if child is None and path[depth + 1].isdigit():
            where = ".".join(path[: depth + 1])
            raise ConfigError(
                f"{where!r} is not in the file, so item {path[depth + 1]} cannot be set; give "
                f"the whole list (e.g. {where}=[...]) (override {text!r})",
                key=".".join(path),
            )
        if child is None:
            child = {}
            _put(node, part, child)
        elif not isinstance(child, (dict, list)):
            where = ".".join(path[: depth + 1])
            raise ConfigError(
                f"cannot set {path[depth + 1]!r} under {where!r}: "
                f"it is {type_name(child)}, not a mapping (override {text!r})",
                key=".".join(path),
            )
        node = child
    _get(node, path[-1], path[:-1], text)  # an index must exist
    return node


def _get(node: dict | list, part: str, where: list[str] = (), text: str = "") -> Any:
    """``node[part]``: a key of a mapping (None when missing), an index of a list."""
    if isinstance(node, dict):
        return node.get(part)
    if not (part.isdigit() and int(part) < len(node)):
        shown = ".".join(where)
        indices = f"0 to {len(node) - 1}" if node else "none: it is empty"
        raise ConfigError(
            f"{shown!r} is a list of {len(node)} items; {part!r} is not one of its indices "
            f"({indices}) (override {text!r})",
            key=f"{shown}[{part}]",
        )
    return node[int(part)]


def _put(node: dict | list, part: str, value: Any) -> None:
    if isinstance(node, dict):
        node[part] = value
    else:
        node[int(part)] = value


def _set(root: dict, path: list[str], value: Any, text: str) -> None:
    _put(_container(root, path, text), path[-1], copy.deepcopy(value))
