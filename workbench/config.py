"""Experiment files: loading YAML, command-line overrides, validation and the resolved dump.

Everything here fails with :class:`ConfigError`, whose ``str`` is one line such as
``configs/arm.yaml: solver.rtol: must be > 0, got -1``.

Key paths in messages are dotted (``solver.rtol``); list items are written with an index in
brackets (``solver.t_eval[3]``); the tag of a discriminated union (``torque: {kind: ...}``) is
left out, so an error in the ``sines`` member of ``torque`` reads ``torque.amplitudes``.

pydantic is imported lazily (only :func:`resolve` needs it) to keep ``import workbench.config``
cheap. Loaded files and parsed overrides are cached, so a sweep can call :func:`resolve` on many
override sets without re-reading or re-parsing anything.
"""

from __future__ import annotations

import copy
import functools
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from pydantic import ValidationError

    from workbench.experiments.base import ExperimentConfig

__all__ = [
    "ConfigError",
    "apply_overrides",
    "dump_resolved",
    "load_file",
    "load_yaml",
    "parse_override",
    "resolve",
    "resolve_dict",
    "split_sweep",
]


class ConfigError(Exception):
    """A problem with an experiment file or an override, in one line.

    ``file`` and ``key`` (a dotted key path) are None when they do not apply. ``more`` holds
    the other problems found in the same validation (``str`` only mentions how many).
    """

    def __init__(
        self,
        problem: str,
        *,
        file: str | os.PathLike[str] | None = None,
        key: str | None = None,
        more: Sequence[ConfigError] = (),
    ) -> None:
        self.file = None if file is None else str(file)
        self.key = key
        self.problem = problem
        self.more = list(more)
        super().__init__(str(self))

    def __reduce__(self):
        # Keeps the fields when pickled (sweeps may run in other processes).
        return _config_error, (self.problem, self.file, self.key, tuple(self.more))

    def __str__(self) -> str:
        text = ": ".join(part for part in (self.file, self.key, self.problem) if part)
        if self.more:
            text += f" (and {len(self.more)} more)"
        return text


def _config_error(problem: str, file: str | None, key: str | None, more: tuple) -> ConfigError:
    return ConfigError(problem, file=file, key=key, more=more)


# --------------------------------------------------------------------------------------- YAML

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
    """The limit ``name`` (see :data:`LIMITS`), from the environment if set there."""
    text = os.environ.get(name)
    if text is None:
        return LIMITS[name]
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"environment variable {name}={text!r} must be an integer") from None
    return value


def load_yaml(text: str, *, file: str | os.PathLike[str] | None = None) -> Any:
    """Parse YAML ``text`` with :class:`Loader`; a syntax error is a :class:`ConfigError`, and
    so is a document that expands (through aliases) to more values than the limit."""
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


# -------------------------------------------------------------------------------- Loading files


def load_file(path: str | os.PathLike[str]) -> dict:
    """The top-level mapping of the YAML file at ``path`` (a fresh copy each call)."""
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
        raise ConfigError(
            f"top level must be a mapping of keys, got {_type_name(data)}", file=shown
        )
    return data


# ------------------------------------------------------------------------------------ Overrides


def parse_override(text: str) -> tuple[list[str], Any]:
    """``"solver.rtol=1e-8"`` -> ``(["solver", "rtol"], 1e-8)``; the value is parsed as YAML.

    An empty value (``name=``) is the empty string; write ``key=null`` for None.
    """
    path, value = _parse_override_cached(text)
    return list(path), copy.deepcopy(value)


@functools.lru_cache(maxsize=4096)
def _parse_override_cached(text: str) -> tuple[tuple[str, ...], Any]:
    key, sep, value_text = text.partition("=")
    key = key.strip()
    if not sep:
        raise ConfigError(f"override {text!r}: expected KEY=VALUE (e.g. solver.rtol=1e-8)")
    if not key:
        raise ConfigError(f"override {text!r}: the key before '=' is empty")
    path = tuple(part.strip() for part in key.split("."))
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

    Missing intermediate mappings are created. Setting ``SECTION.kind`` to a *different* kind
    replaces the section with ``{"kind": new}`` so it gets the new kind's defaults; the other
    overrides of that section given anywhere on the command line are then applied again, in
    order. Setting ``kind`` to the kind the section already has keeps the section as it is.
    """
    out = copy.deepcopy(raw)
    parsed = [parse_override(text) + (text,) for text in overrides]
    for i, (path, value, text) in enumerate(parsed):
        if len(path) > 1 and path[-1] == "kind":
            section_path = path[:-1]
            parent = _container(out, section_path, text)
            section = parent.get(section_path[-1])
            if isinstance(section, dict) and section.get("kind") == value:
                continue
            parent[section_path[-1]] = {"kind": copy.deepcopy(value)}
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


def _container(root: dict, path: list[str], text: str) -> dict:
    """The mapping that holds ``path[-1]``, creating missing mappings on the way."""
    node = root
    for depth, part in enumerate(path[:-1]):
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        elif not isinstance(child, dict):
            where = ".".join(path[: depth + 1])
            raise ConfigError(
                f"cannot set {path[depth + 1]!r} under {where!r}: "
                f"it is {_type_name(child)}, not a mapping (override {text!r})",
                key=".".join(path),
            )
        node = child
    return node


def _set(root: dict, path: list[str], value: Any, text: str) -> None:
    _container(root, path, text)[path[-1]] = copy.deepcopy(value)


# ----------------------------------------------------------------------------------- Resolving

#: The top-level key of a sweep's axes (see :mod:`workbench.sweeps`); no experiment has it.
SWEEP_KEY = "sweep"


def split_sweep(raw: dict) -> tuple[dict, Any]:
    """``raw`` without its ``sweep:`` section, and that section (None when there is none).

    :func:`resolve_dict` refuses a mapping with a ``sweep:`` section, so that ``workbench run``
    on a sweep file is an error; the sweep code resolves each combination from the first item.
    """
    base = {key: value for key, value in raw.items() if key != SWEEP_KEY}
    return base, raw.get(SWEEP_KEY)


def resolve(path: str | os.PathLike[str], overrides: Iterable[str] = ()) -> ExperimentConfig:
    """Load ``path``, apply ``overrides`` and validate against the experiment kind's schema."""
    return resolve_dict(load_file(path), overrides, file=path)


def resolve_dict(
    raw: dict, overrides: Iterable[str] = (), *, file: str | os.PathLike[str] | None = None
) -> ExperimentConfig:
    """Like :func:`resolve` for an already loaded mapping (``file`` is only used in messages)."""
    from pydantic import ValidationError

    from workbench import experiments

    overrides = list(overrides)
    data = apply_overrides(raw, overrides)
    if SWEEP_KEY in data:
        raise ConfigError(
            "this file describes a sweep (it has a sweep: section); run it with "
            "`workbench sweep`, or remove the section to run one experiment",
            file=file,
            key=SWEEP_KEY,
        )
    kind = data.get("experiment")
    known = ", ".join(sorted(experiments.KINDS))
    if kind is None:
        raise ConfigError(
            f"missing; say which experiment to run (known kinds: {known})",
            file=file,
            key="experiment",
        )
    if not isinstance(kind, str) or kind not in experiments.KINDS:
        hint = _did_you_mean(kind, experiments.KINDS) if isinstance(kind, str) else ""
        raise ConfigError(
            f"unknown experiment kind {_show(kind)}{hint} (known kinds: {known})",
            file=file,
            key="experiment",
        )
    model = experiments.get(kind).config_model
    try:
        cfg = model.model_validate(data)
    except ValidationError as exc:
        raise _from_validation(exc, model, data, file, overrides) from None
    if not cfg.name:
        cfg.name = kind
    return cfg


def dump_resolved(cfg: ExperimentConfig) -> str:
    """The fully resolved config as YAML, in schema order; :func:`resolve` reads it back."""
    return yaml.dump(
        cfg.model_dump(mode="json"),
        Dumper=Dumper,
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )


# ------------------------------------------------------------------ pydantic errors -> messages


def _from_validation(
    exc: ValidationError,
    model: type,
    data: dict,
    file: str | os.PathLike[str] | None,
    overrides: list[str],
) -> ConfigError:
    """One :class:`ConfigError` for the first error by key path, the others in ``more``."""
    overridden = {}
    for text in overrides:
        try:
            overridden[tuple(parse_override(text)[0])] = text
        except ConfigError:
            pass
    found = []
    for err in exc.errors(include_url=False):
        loc, parent, (tp, disc) = _clean_loc(model, data, err["loc"])
        problem = _problem(err, parent, _union_tags(tp, disc))
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc = loc + [err.get("ctx", {}).get("discriminator", "'kind'").strip("'")]
        key_path = tuple(str(p) for p in loc)
        for n in range(len(key_path), 0, -1):
            if key_path[:n] in overridden:
                problem += f" (from override {overridden[key_path[:n]]!r})"
                break
        sort_key = tuple((1, p) if isinstance(p, int) else (0, p) for p in loc)
        found.append((sort_key, _key(loc), problem))
    found.sort(key=lambda item: item[0])
    errors = [ConfigError(problem, file=file, key=key or None) for _, key, problem in found]
    first = errors[0]
    return ConfigError(first.problem, file=file, key=first.key, more=errors[1:])


def _key(loc: list[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _clean_loc(model: type, data: Any, loc: tuple) -> tuple[list[str | int], type | None, Any]:
    """``loc`` without union tags, the model holding the last key, and the type at ``loc``.

    The schema is walked alongside ``loc``: where the current type is a discriminated union
    the next ``loc`` item is its tag, which names no key in the file. If the walk meets a type
    it does not understand, the data is used instead (a string that is not a key of the current
    mapping but equals its ``kind`` is a tag).
    """
    out: list[str | int] = []
    tp: Any = model
    disc: str | None = None
    parent: type | None = model
    for part in loc:
        tp, disc = _unwrap(tp, disc)
        if _is_union(tp):
            # pydantic puts the member's tag (or, without a discriminator, its type name) in loc.
            tp = _union_member(tp, disc, part) if disc is not None else None
            disc, parent = None, (tp if _is_model(tp) else None)
            continue
        if tp is None and isinstance(part, str) and isinstance(data, dict):
            if part not in data and data.get("kind") == part:
                continue
        out.append(part)
        parent = tp if _is_model(tp) else None
        tp, disc = _child(tp, part)
        data = _index(data, part)
    return out, parent, _unwrap(tp, disc)


def _unwrap(tp: Any, disc: str | None) -> tuple[Any, str | None]:
    """Strip ``Annotated`` and ``Optional``, picking up a ``discriminator`` on the way."""
    import typing

    while tp is not None:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            for meta in tp.__metadata__:
                disc = getattr(meta, "discriminator", None) or disc
            tp = tp.__args__[0]
        elif _is_union(tp):
            members = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(members) != 1:
                return tp, disc
            tp = members[0]
        else:
            return tp, disc
    return tp, disc


def _is_union(tp: Any) -> bool:
    import types
    import typing

    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and hasattr(tp, "model_fields")


def _union_member(tp: Any, disc: str, tag: str) -> Any:
    import typing

    for member in typing.get_args(tp):
        member, _ = _unwrap(member, None)
        field = getattr(member, "model_fields", {}).get(disc)
        if field is not None and tag in typing.get_args(field.annotation):
            return member
    return None


def _child(tp: Any, part: str | int) -> tuple[Any, str | None]:
    """The type at ``part`` inside ``tp`` and its discriminator (None, None if unknown)."""
    import typing

    if _is_model(tp) and isinstance(part, str):
        field = tp.model_fields.get(part)
        if field is None:
            return None, None
        return field.annotation, field.discriminator if isinstance(
            field.discriminator, str
        ) else None
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (list, tuple, set, frozenset) and args and isinstance(part, int):
        return (args[0] if origin is not tuple or args[-1] is Ellipsis else _nth(args, part)), None
    if origin is dict and len(args) == 2:
        return args[1], None
    return None, None


def _nth(args: tuple, i: int) -> Any:
    return args[i] if 0 <= i < len(args) else None


def _index(data: Any, part: str | int) -> Any:
    try:
        return data[part]
    except (KeyError, IndexError, TypeError):
        return None


def _union_tags(tp: Any, disc: str | None) -> list[str]:
    """The tag values a discriminated union accepts, in declaration order."""
    import typing

    if disc is None or not _is_union(tp):
        return []
    tags = []
    for member in typing.get_args(tp):
        field = getattr(_unwrap(member, None)[0], "model_fields", {}).get(disc)
        if field is not None:
            tags += [str(t) for t in typing.get_args(field.annotation)]
    return tags


def _problem(err: dict, parent: type | None, tags: list[str]) -> str:
    """A short message for one pydantic error."""
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    got = f"got {_show(value)}"
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        accepted = list(parent.model_fields) if parent is not None else []
        hint = _did_you_mean(key, accepted)
        listed = f" (accepted: {', '.join(accepted)})" if accepted else ""
        return f"unknown key {key!r}{hint}{listed}"
    if kind == "missing":
        return "missing required key"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = ctx.get("expected_tags", "")
        accepted = ", ".join(tags or [t.strip("'") for t in expected.split(", ") if t])
        if kind == "union_tag_not_found":
            return f"missing; say which kind (accepted: {accepted})"
        return f"unknown kind {_show(ctx.get('tag'))} (accepted: {accepted})"
    bounds = {
        "greater_than": (">", "gt"),
        "greater_than_equal": (">=", "ge"),
        "less_than": ("<", "lt"),
        "less_than_equal": ("<=", "le"),
        "multiple_of": ("a multiple of", "multiple_of"),
    }
    if kind in bounds:
        op, name = bounds[kind]
        return f"must be {op} {_number(ctx.get(name))}, {got}"
    if kind in ("too_short", "too_long"):
        word = "at least" if kind == "too_short" else "at most"
        limit = ctx.get("min_length" if kind == "too_short" else "max_length")
        items = "characters" if isinstance(value, str) else "items"
        return f"must have {word} {limit} {items}, got {ctx.get('actual_length')}"
    expected = {
        "float_parsing": "a number",
        "float_type": "a number",
        "int_parsing": "an integer",
        "int_type": "an integer",
        "int_from_float": "an integer",
        "bool_parsing": "true or false",
        "bool_type": "true or false",
        "string_type": "a string",
        "list_type": "a list",
        "tuple_type": "a list",
        "set_type": "a list",
        "dict_type": "a mapping",
        "model_type": "a mapping",
        "model_attributes_type": "a mapping",
    }
    if kind in expected:
        return f"expected {expected[kind]}, {got}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '?')}, {got}"
    if kind == "finite_number":
        return f"must be a finite number, {got}"
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    msg = f"{msg[:1].lower()}{msg[1:]}"
    # a validator's own message already says what it got; a whole section is too long to show
    if " got " in msg or isinstance(value, dict):
        return msg
    return f"{msg}, {got}"


def _did_you_mean(word: str, options: Iterable[str]) -> str:
    import difflib  # only needed on the error path

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _number(x: Any) -> str:
    """Bounds as a person writes them: ``0`` rather than ``0.0``."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def _show(value: Any) -> str:
    """A value as it looks in YAML, shortened."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _type_name(value: Any) -> str:
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else f"a {type(value).__name__}"
