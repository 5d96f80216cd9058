"""The public functions carry numpydoc docstrings: a summary, a Parameters section and a
Returns section (Yields for generators; Attributes for classes).

Add a public function here when it is written, so the standard holds from now on.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

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
    "workbench.optim": ["chain", "scale", "clip_value", "clip_norm"],
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
