"""The public functions carry numpydoc docstrings: a summary, a Parameters section and a
Returns section (Yields for generators; Attributes for classes).

Add a public function here when it is written, so the standard holds from now on.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
from pathlib import Path

import pytest

from workbench.optim import RULES, optimizer_class
from workbench.optim.optimizers import _numpydoc
from workbench.optim.registry import REQUIRED

#: module -> public names whose docstrings must have the sections
PUBLIC = {
    "workbench.optimize": [
        "minimize",
        "minimize_bfgs",
        "fmin_bfgs",
        "minimize_bfgs_batch",
        "line_search",
        "line_search_wolfe1",
    ],
    "workbench.integrate": ["solve_ivp", "solve_ivp_batch", "odeint"],
    "workbench.interpolate": [
        "pack_table",
        "validate_table",
        "table_eval",
        "table_eval_into",
        "table_eval_scalar",
        "table_range",
        "table_channels",
        "evaluate",
    ],
    "workbench.data": ["ptb_producer"],
    "workbench.data.sequences": [
        "read_text",
        "split_ids",
        "corpora",
        "corpus_path",
        "PTBProducer",
    ],
    "workbench.data.tables": ["read_table"],
    "workbench.data.labeled": ["read_csv", "read_npz", "synthetic", "design_matrix"],
    "workbench.data.datasets": [
        "digits",
        "blobs",
        "moons",
        "spirals",
        "from_file",
        "split",
        "standardize",
        "Minibatches",
        "Minibatches.permutation",
        "Minibatches.epoch",
    ],
    "workbench.data.torques": [
        "read_torque",
        "zero",
        "constant",
        "sines",
        "step",
        "chirp",
        "torque_table",
    ],
    "workbench.runs": [
        "load",
        "create_run",
        "is_complete",
        "list_runs",
        "perform",
        "write_complete",
        "state_to_arrays",
        "state_from_arrays",
        "Run.optimizer_state",
    ],
    "workbench.optim": [
        "chain",
        "scale",
        "clip_value",
        "clip_norm",
        "RMSprop",
        "SGD",
        "Adam",
        "Adagrad",
    ],
    "workbench.models.reference": [
        "arm_rhs_interp",
        "arm_dynamics",
        "logistic_loss",
        "logistic_grad",
        "net_loss_and_grad",
        "gru_loss_and_grad",
        "rosenbrock",
        "saddle_value_grad",
        "beale",
        "booth",
    ],
    "workbench.config": [
        "ConfigError",
        "resolve",
        "resolve_dict",
        "dump_resolved",
        "split_sweep",
        "load_file",
        "load_yaml",
        "limit",
        "parse_override",
        "apply_overrides",
    ],
    "workbench.sweeps": [
        "plan",
        "run",
        "load_summary",
        "plot",
        "check_options",
        "summary_table",
        "sorted_rows",
        "failure_lines",
        "is_sweep_folder",
    ],
}

CASES = [(module, name) for module, names in PUBLIC.items() for name in names]


def _section(doc: str, title: str) -> bool:
    """Whether ``doc`` has a numpydoc section ``title`` (the title, then a dashed underline)."""
    return re.search(rf"^\s*{title}\n\s*-{{{len(title)}}}\s*$", doc, re.MULTILINE) is not None


def _resolve(module: str, name: str):
    obj = importlib.import_module(module)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize(("module", "name"), CASES, ids=[f"{m}.{n}" for m, n in CASES])
def test_numpydoc_sections(module, name):
    obj = _resolve(module, name)
    doc = inspect.getdoc(obj)
    assert doc, f"{module}.{name} has no docstring"
    summary = doc.splitlines()[0].strip()
    assert summary, f"{module}.{name}: the docstring should open with a one-line summary"
    if inspect.isclass(obj):
        assert _section(doc, "Attributes") or _section(doc, "Parameters"), (
            f"{module}.{name}: a class docstring needs an Attributes (or Parameters) section"
        )
        return
    params = inspect.signature(obj).parameters
    wants_params = any(p for p in params if p != "self")
    if wants_params:
        assert _section(doc, "Parameters"), f"{module}.{name}: no Parameters section"
    assert _section(doc, "Returns") or _section(doc, "Yields"), (
        f"{module}.{name}: no Returns (or Yields) section"
    )


def test_documented_parameters_exist():
    """Every name a Parameters section lists is a parameter of the function (catches a
    section that went stale after a signature change)."""
    stale = []
    for module, name in CASES:
        obj = _resolve(module, name)
        if inspect.isclass(obj):
            obj = obj.__init__
        doc = inspect.getdoc(obj) or ""
        match = re.search(r"^Parameters\n-+\n(.*?)(?:^\w[\w ]*\n-+\n|\Z)", doc, re.M | re.S)
        if match is None:
            continue
        actual = set(inspect.signature(obj).parameters)
        for line in match.group(1).splitlines():
            if not line or line[0].isspace():
                continue
            for listed in line.split(" : ")[0].split(","):
                listed = listed.strip().lstrip("*")
                if listed and listed not in actual:
                    stale.append(f"{module}.{name}: {listed}")
    assert not stale, "documented parameters that the function does not have: " + ", ".join(stale)


def _entries(doc: str, title: str) -> dict[str, tuple[str, str]]:
    """The entries of numpydoc section ``title`` of ``doc``: name -> (type, description)."""
    match = re.search(rf"^{title}\n-+\n(.*?)(?:^\w[\w ]*\n-+\n|\Z)", doc, re.M | re.S)
    assert match, f"no {title} section"
    entries: dict[str, list[str]] = {}
    for line in match.group(1).splitlines():
        if line and not line[0].isspace():
            name, _, type_ = line.partition(" : ")
            entries[name] = [type_, ""]
        elif line.strip():
            entries[name][1] += " " + line.strip()
    return {k: (t, d.strip()) for k, (t, d) in entries.items()}


@pytest.mark.parametrize("kind", sorted(RULES))
def test_optimizer_docstrings_list_their_rules_options(kind):
    """An optimizer class's Parameters section is its constructor, made from its update rule:
    every option of the rule, in order, with its type, default and description, between
    ``params`` and ``target``; the Attributes section names every option too. The class's own
    summary stays in front."""
    r = RULES[kind]
    cls = optimizer_class(kind)
    doc = inspect.getdoc(cls)
    assert doc.splitlines()[0] != f"The {r.title} optimizer.", "the hand-written summary is lost"
    params = _entries(doc, "Parameters")
    assert list(params) == ["params", *r.option_names, "target"]
    assert list(params) == list(inspect.signature(cls).parameters)
    for o in r.options:
        type_, text = params[o.name]
        assert o.description, f"{kind}.{o.name} has no description in the registry"
        assert " ".join(o.description.split()) in text, f"{kind}.{o.name}: {text!r}"
        if o.default is REQUIRED:
            assert "default" not in type_ and text.startswith("Required."), (kind, o.name)
        else:
            assert type_.endswith(f", default {o.default!r}"), f"{kind}.{o.name}: {type_!r}"
            assert inspect.signature(cls).parameters[o.name].default == o.default
    assert params["target"][0].endswith("default 'auto'")
    attributes = _entries(doc, "Attributes")
    listed = {n.strip() for name in attributes for n in name.split(",")}
    assert set(r.option_names) <= listed
    assert {"params", "target", "block_targets", "step_count", "state"} <= listed


def test_every_option_needs_a_description():
    adagrad = RULES["adagrad"]
    bare = tuple(
        dataclasses.replace(o, description=None) if o.name == "eps" else o for o in adagrad.options
    )
    with pytest.raises(ValueError, match="eps"):
        dataclasses.replace(adagrad, options=bare)
    with pytest.raises(TypeError, match="made from the update rule"):
        _numpydoc("Summary.\n\nParameters\n----------\nlr : float\n    Hand-written.", adagrad)


# ------------------------------------------------------------- every public definition has one

PACKAGE = Path(__file__).resolve().parents[1] / "workbench"
_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _definitions(nodes):
    """The function and class definitions among ``nodes`` and inside their compound
    statements (``if``, ``try``, ``with``...), but not inside the definitions themselves."""
    for node in nodes:
        if isinstance(node, _DEFINITIONS):
            yield node
        elif isinstance(node, (ast.stmt, ast.excepthandler, ast.match_case)):
            yield from _definitions(ast.iter_child_nodes(node))


def _undocumented(package: Path) -> list[str]:
    """``path:line: name`` of every public definition without a docstring in the public
    modules of ``package``.

    A module is public when no component of its path (from the package's folder) starts with
    ``_``, ``__init__.py`` excepted; a definition is public when its name does not start with
    ``_`` and it sits at a module's top level or in a public class (methods, properties and
    nested classes). Functions defined inside functions are not counted.
    """
    missing = []

    def visit(body, prefix: str, where: str) -> None:
        for node in _definitions(body):
            if node.name.startswith("_"):
                continue
            name = prefix + node.name
            if ast.get_docstring(node) is None:
                missing.append(f"{where}:{node.lineno}: {name}")
            if isinstance(node, ast.ClassDef):
                visit(node.body, f"{name}.", where)

    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package.parent)
        if any(part.startswith("_") and part != "__init__.py" for part in rel.parts):
            continue
        visit(ast.parse(path.read_text(encoding="utf-8")).body, "", rel.as_posix())
    return missing


def test_every_public_definition_has_a_docstring():
    missing = _undocumented(PACKAGE)
    listing = "\n".join(missing)
    assert not missing, f"{len(missing)} public definition(s) without a docstring:\n{listing}"


def test_undocumented_finds_what_it_should(tmp_path):
    """The scan itself, on a small package: what counts as public, and what does not."""
    pkg = tmp_path / "pkg"
    (pkg / "_private").mkdir(parents=True)
    (pkg / "__init__.py").write_text("def exported():\n    pass\n")
    (pkg / "_helpers.py").write_text("def helper():\n    pass\n")
    (pkg / "_private" / "mod.py").write_text("def hidden():\n    pass\n")
    (pkg / "mod.py").write_text(
        '''
def documented():
    """Yes."""

    def inner():  # a nested function: not counted
        pass


def bare(x):
    return x


class Public:
    def method(self):
        pass

    @property
    def prop(self):
        return 1

    def _private(self):
        pass

    def __repr__(self):
        return ""

    class Nested:
        """Yes."""

        def deep(self):
            pass


class _Hidden:
    def method(self):
        pass


if True:
    def conditional():
        pass
'''
    )
    assert _undocumented(pkg) == [
        "pkg/__init__.py:1: exported",
        "pkg/mod.py:9: bare",
        "pkg/mod.py:13: Public",
        "pkg/mod.py:14: Public.method",
        "pkg/mod.py:18: Public.prop",
        "pkg/mod.py:30: Public.Nested.deep",
        "pkg/mod.py:40: conditional",
    ]
