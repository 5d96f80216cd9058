"""Reading experiment files: YAML with scientific-notation floats, no duplicate keys and no
Python tags, within limits on the file's size and on the values its aliases expand to.

Loaded files are cached (keyed on path, modification time and size), so a sweep can resolve
many override sets without re-reading anything; callers get their own deep copy.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from pathlib import Path
from typing import Any

import yaml

from .messages import ConfigError, type_name

__all__ = ["LIMITS", "Dumper", "Loader", "limit", "load_file", "load_yaml"]

# YAML 1.1 (PyYAML) wants a dot and a signed exponent in a float, so `1e-6` and `1E+3` would be
# strings. Experiment files are full of tolerances written that way, so they are floats here.
_SCI_FLOAT = re.compile(
    r"""^(?:[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+
        |[-+]?\.[0-9][0-9_]*[eE][-+]?[0-9]+)$""",
    re.X,
)
_FLOAT_TAG = "tag:yaml.org,2002:float"
_FIRST_CHARS = list("-+.0123456789")


class Loader(yaml.SafeLoader):
    """``yaml.SafeLoader`` plus scientific-notation floats and an error on duplicate keys.

    Being a SafeLoader, it never constructs Python objects: a ``!!python/...`` tag is an error.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        """Construct a mapping as ``yaml.SafeLoader`` does, first refusing a key that appears twice.

        Parameters
        ----------
        node : yaml.MappingNode
            The mapping's node.
        deep : bool, optional
            Construct the values' contents now rather than later (as in PyYAML).

        Returns
        -------
        dict
            The mapping.

        Raises
        ------
        yaml.constructor.ConstructorError
            For a duplicate key (merge keys, ``<<``, are not counted), at the repeated key.
        """
        # PyYAML keeps the last of two equal keys silently; in a config that is almost always a
        # copy-paste mistake whose first value the author thinks is in effect.
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    duplicate = key in seen
                except TypeError:
                    continue  # unhashable: SafeConstructor reports it
                if duplicate:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {key!r}", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


class Dumper(yaml.SafeDumper):
    """``yaml.SafeDumper`` that quotes strings :class:`Loader` would read as floats."""


for _cls in (Loader, Dumper):
    _cls.add_implicit_resolver(_FLOAT_TAG, _SCI_FLOAT, _FIRST_CHARS)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """``line L, column C: problem`` (1-based) for a PyYAML error."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if isinstance(exc, yaml.constructor.ConstructorError) and "constructor" in problem:
            # "could not determine a constructor for the tag '...'" means a Python/custom tag.
            tag = re.search(r"tag '([^']*)'", problem)
            shown = tag.group(1).replace("tag:yaml.org,2002:", "!!") if tag else "?"
            problem = f"tag {shown!r} is not allowed (plain YAML only)"
        if mark is not None:
            return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
        return problem
    return str(exc).splitlines()[0] if str(exc) else "invalid YAML"


#: Limits on what a config may ask of the reader, each raised by an environment variable of
#: the same name: the file's size, and the number of values once aliases are expanded (an
#: "alias bomb", a few lines whose anchors nest, expands to billions of values).
LIMITS = {"WORKBENCH_MAX_CONFIG_BYTES": 1 << 20, "WORKBENCH_MAX_CONFIG_VALUES": 1_000_000}


def limit(name: str) -> int:
    """The limit ``name``, from the environment where it is set there.

    Parameters
    ----------
    name : str
        A key of :data:`LIMITS`.

    Returns
    -------
    int
        The environment variable's value, or the default of :data:`LIMITS`.
    """
    text = os.environ.get(name)
    if text is None:
        return LIMITS[name]
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"environment variable {name}={text!r} must be an integer") from None
    return value


def load_yaml(text: str, *, file: str | os.PathLike[str] | None = None) -> Any:
    """Parse YAML text as experiment files are parsed (:class:`Loader`).

    Parameters
    ----------
    text : str
        The YAML document.
    file : str or path-like, optional
        Where the text came from, only used in messages.

    Returns
    -------
    object
        The document (None for an empty one).

    Raises
    ------
    ConfigError
        For a syntax error, a Python tag, a duplicate key, or a document that expands (through
        aliases) to more values than ``WORKBENCH_MAX_CONFIG_VALUES``.
    """
    loader = Loader(text)  # a SafeLoader subclass
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, limit("WORKBENCH_MAX_CONFIG_VALUES"), file)
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise ConfigError(_yaml_problem(exc), file=file) from None
    finally:
        loader.dispose()


def _check_expansion(root: yaml.Node, most: int, file) -> None:
    """Count the values ``root`` stands for with every alias expanded (each shared node once
    per use, computed once per node), refusing a recursive alias or more than ``most``."""
    sizes: dict[int, int] = {}
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    open_nodes: set[int] = set()
    while stack:
        node, children_done = stack.pop()
        key = id(node)
        if key in sizes:
            continue
        children = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        if children_done:
            total = 1 + sum(sizes[id(c)] for c in children)
            sizes[key] = total
            open_nodes.discard(key)
            if total > most:
                raise ConfigError(
                    f"the document expands (aliases included) to more than {most:,} values; "
                    "set WORKBENCH_MAX_CONFIG_VALUES to raise the limit",
                    file=file,
                )
            continue
        if key in open_nodes:
            raise ConfigError("a recursive alias (an anchor used inside itself)", file=file)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((c, False) for c in children if id(c) not in sizes)


def load_file(path: str | os.PathLike[str]) -> dict:
    """The top-level mapping of an experiment file, read within the size limit.

    Parameters
    ----------
    path : str or path-like
        The YAML file.

    Returns
    -------
    dict
        The file's mapping: a fresh copy each call (the parsed file is cached, keyed on its
        modification time and size).

    Raises
    ------
    ConfigError
        For a missing, unreadable, oversized or non-UTF-8 file, bad YAML, or a top level
        that is not a mapping.
    """
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise ConfigError("no such file", file=path) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=path) from None
    if p.is_dir():
        raise ConfigError("is a directory, not a config file", file=path)
    most = limit("WORKBENCH_MAX_CONFIG_BYTES")
    if st.st_size > most:
        raise ConfigError(
            f"is {st.st_size:,} bytes; config files are limited to {most:,} bytes (set "
            "WORKBENCH_MAX_CONFIG_BYTES to raise the limit)",
            file=path,
        )
    # Keyed on mtime and size so an edited file is re-read; callers get their own deep copy.
    raw = _load_cached(str(p.resolve()), st.st_mtime_ns, st.st_size, str(path))
    return copy.deepcopy(raw)


@functools.lru_cache(maxsize=64)
def _load_cached(resolved: str, mtime_ns: int, size: int, shown: str) -> dict:
    try:
        text = Path(resolved).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ConfigError("not a UTF-8 text file", file=shown) from None
    except OSError as exc:
        raise ConfigError(f"cannot read: {exc.strerror or exc}", file=shown) from None
    data = load_yaml(text, file=shown)
    if data is None:
        raise ConfigError("file is empty", file=shown)
    if not isinstance(data, dict):
        raise ConfigError(f"top level must be a mapping of keys, got {type_name(data)}", file=shown)
    return data
