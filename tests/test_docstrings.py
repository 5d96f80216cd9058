"""The public functions carry numpydoc docstrings: a summary, a Parameters section and a
Returns section (Yields for generators; Attributes for classes).

Add a public function here when it is written, so the standard holds from now on.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import re

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
