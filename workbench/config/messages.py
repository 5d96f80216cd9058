"""Config errors in one line: :class:`ConfigError`, and pydantic's errors reworded.

pydantic gives each error a ``loc`` (the path to the bad value) and a ``type``. The path is
shown dotted (``solver.rtol``, ``solver.t_eval[3]``) without the items pydantic adds for unions
(a discriminated union's tag, another union's member label), which name no key in the file:
they are recognised on the schema's JSON form (``model_json_schema()``, a documented format),
which also gives the keys a section accepts and the kinds a union accepts, in the order the
schema declares them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = ["ConfigError", "did_you_mean", "from_validation", "show", "type_name"]


class ConfigError(Exception):
    """A problem with an experiment file or an override, in one line.

    Parameters
    ----------
    problem : str
        What is wrong and what is accepted.
    file : str or path-like, optional
        The experiment file, when the problem is in one.
    key : str, optional
        The dotted key path (``solver.t_eval[3]``), when the problem is at a key.
    more : sequence of ConfigError
        The other problems found in the same validation (``str`` says how many).
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


def from_validation(
    exc: ValidationError,
    model: type,
    data: dict,
    file: str | os.PathLike[str] | None,
    overridden: dict[tuple[str, ...], str],
) -> ConfigError:
    """One :class:`ConfigError` for the first of ``exc``'s errors by key path, the others in
    its ``more``; ``overridden`` maps a key path to the override that set it."""
    found = []
    for err in exc.errors(include_url=False):
        loc, accepted, tags = _locate(_schema(model), data, err["loc"])
        if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
            loc.append(err.get("ctx", {}).get("discriminator", "'kind'").strip("'"))
        problem = _problem(err, accepted, tags)
        path = tuple(str(p) for p in loc)
        source = next(
            (overridden[path[:n]] for n in range(len(path), 0, -1) if path[:n] in overridden), None
        )
        if source is not None:
            problem += f" (from override {source!r})"
        order = tuple((1, p) if isinstance(p, int) else (0, p) for p in loc)
        found.append((order, _dotted(loc), problem))
    found.sort(key=lambda item: item[0])
    errors = [ConfigError(problem, file=file, key=key or None) for _, key, problem in found]
    return ConfigError(errors[0].problem, file=file, key=errors[0].key, more=errors[1:])


def _dotted(loc: list[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


# ------------------------------------------------------------------- the schema's JSON form


@functools.lru_cache(maxsize=32)
def _schema(model: type) -> dict:
    from pydantic.errors import PydanticInvalidForJsonSchema

    try:
        return model.model_json_schema()
    except PydanticInvalidForJsonSchema:  # a type without a JSON form: the data decides alone
        return {}


# pydantic labels the member of a plain (not discriminated) union by its type
_LABEL_TYPES = {"float": "number", "int": "integer", "str": "string", "bool": "boolean"}
_LABEL_TYPES |= dict.fromkeys(("list", "tuple", "set", "frozenset"), "array") | {"dict": "object"}


def _locate(schema: dict, data: Any, loc: tuple) -> tuple[list[str | int], list[str], list[str]]:
    """``loc`` without union tags and labels; the keys accepted by the section that holds its
    last key; the tags accepted by the union at ``loc`` (empty where there is none).

    Where the schema says nothing (a member it cannot follow), a string in ``loc`` that is not
    a key of the data but equals the data's ``kind`` is taken to be a tag.
    """
    defs = schema.get("$defs", {})

    def resolved(node: dict | None) -> dict | None:
        while node is not None and "$ref" in node:
            node = defs.get(node["$ref"].rsplit("/", 1)[-1])
        while node is not None and len(members := _members(node, resolved)) == 1:
            node = members[0]  # Optional[X]: pydantic adds nothing to loc for it
        return node

    out: list[str | int] = []
    node, parent = resolved(schema), schema
    for part in loc:
        if node is not None and _members(node, resolved):
            node = parent = resolved(_member(node, part, resolved))
            continue
        if node is None and isinstance(data, dict) and part not in data:
            if data.get("kind") == part:
                continue
        out.append(part)
        parent, node = node, resolved(_child(node, part))
        data = data.get(part) if isinstance(data, dict) else _item(data, part)
    accepted = list((parent or {}).get("properties", {}))
    return out, accepted, _tags(node, resolved) if node is not None else []


def _members(node: dict, resolved) -> list[dict]:
    """The members of a union other than null (none for a node that is not a union)."""
    union = node.get("oneOf") or node.get("anyOf") or []
    return [resolved(m) or {} for m in union if m.get("type") != "null"]


def _member(node: dict, part: Any, resolved) -> dict | None:
    """The member of union ``node`` that pydantic's ``loc`` item ``part`` names."""
    if "discriminator" in node:
        ref = node["discriminator"].get("mapping", {}).get(part)
        return {"$ref": ref} if ref else None
    members = _members(node, resolved)
    wanted = _LABEL_TYPES.get(str(part).split("[")[0])
    named = [m for m in members if m.get("title") == part or m.get("type") == wanted]
    return named[0] if named else None


def _child(node: dict | None, part: str | int) -> dict | None:
    if node is None:
        return None
    if isinstance(part, int):
        prefix = node.get("prefixItems")
        if prefix is not None:
            return prefix[part] if 0 <= part < len(prefix) else None
        return node.get("items") if isinstance(node.get("items"), dict) else None
    props = node.get("properties", {})
    extra = node.get("additionalProperties")
    return props.get(part, extra if isinstance(extra, dict) else None)


def _item(data: Any, part: Any) -> Any:
    try:
        return data[part]
    except (IndexError, KeyError, TypeError):
        return None


def _tags(node: dict, resolved) -> list[str]:
    """A discriminated union's tags in the order its members are declared."""
    disc = node.get("discriminator")
    if not disc:
        return []
    tags = []
    for member in node.get("oneOf", []):
        prop = (resolved(member) or {}).get("properties", {}).get(disc["propertyName"], {})
        tags += [str(t) for t in ([prop["const"]] if "const" in prop else prop.get("enum", []))]
    return tags or list(disc.get("mapping", {}))


# ------------------------------------------------------------------------------------ wording

_BOUNDS = {
    "greater_than": (">", "gt"),
    "greater_than_equal": (">=", "ge"),
    "less_than": ("<", "lt"),
    "less_than_equal": ("<=", "le"),
    "multiple_of": ("a multiple of", "multiple_of"),
}
_EXPECTED = {
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


def _problem(err: dict, accepted: list[str], tags: list[str]) -> str:
    """A short message for one pydantic error."""
    kind, ctx, value = err["type"], err.get("ctx", {}), err.get("input")
    got = f"got {show(value)}"
    if kind == "extra_forbidden":
        key = str(err["loc"][-1])
        listed = f" (accepted: {', '.join(accepted)})" if accepted else ""
        return f"unknown key {key!r}{did_you_mean(key, accepted)}{listed}"
    if kind == "missing":
        return "missing required key"
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        expected = ctx.get("expected_tags", "")
        tags = tags or [t.strip("'") for t in expected.split(", ") if t]
        if kind == "union_tag_not_found":
            return f"missing; say which kind (accepted: {', '.join(tags)})"
        return f"unknown kind {show(ctx.get('tag'))} (accepted: {', '.join(tags)})"
    if kind in _BOUNDS:
        op, name = _BOUNDS[kind]
        return f"must be {op} {_number(ctx.get(name))}, {got}"
    if kind in ("too_short", "too_long"):
        word, bound = (
            ("at least", "min_length") if kind == "too_short" else ("at most", "max_length")
        )
        items = "character" if isinstance(value, str) else "item"
        items += "" if ctx.get(bound) == 1 else "s"
        return f"must have {word} {ctx.get(bound)} {items}, got {ctx.get('actual_length')}"
    if kind == "finite_number":
        return f"must be a finite number, {got}"
    if kind in _EXPECTED:
        return f"expected {_EXPECTED[kind]}, {got}"
    if kind == "literal_error":
        return f"expected one of {ctx.get('expected', '?')}, {got}"
    msg = str(err.get("msg", "invalid value"))
    for prefix in ("Value error, ", "Assertion failed, "):
        msg = msg.removeprefix(prefix)
    msg = f"{msg[:1].lower()}{msg[1:]}"
    # a validator's own message already says what it got; a whole section is too long to show
    return msg if " got " in msg or isinstance(value, dict) else f"{msg}, {got}"


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """``"; did you mean 'x'?"`` for the option closest to ``word``, or ``""``."""
    import difflib  # only needed on the error path

    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _number(x: Any) -> str:
    """Bounds as a person writes them: ``0`` rather than ``0.0``."""
    if isinstance(x, float) and x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return str(x)


def show(value: Any) -> str:
    """A value as it looks in YAML, shortened."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def type_name(value: Any) -> str:
    """What a YAML value is, in words (``a mapping``, ``a list``, ``a number``, ...)."""
    names = {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean"}
    for cls, name in names.items():
        if isinstance(value, cls):
            return name
    if isinstance(value, (int, float)):
        return "a number"
    return "null" if value is None else f"a {type(value).__name__}"
