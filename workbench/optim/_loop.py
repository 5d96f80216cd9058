"""The loop of an update rule over a block: a template, instantiated per rule and target.

Not imported as itself: :func:`._kernels.loop` runs this text as a module of its own per
update rule and target, with the globals

* ``ELEMENT``: the rule's element function ``*_at(i, p, g, *args, *loop_flags)``;
* ``RANGE``: ``range`` (the cpu loop) or ``prange`` (the parallel loop, compiled with
  ``parallel=True``);
* ``N_ARGS``: how many arguments the element function takes after ``(i, p, g)`` and before
  its loop flags (state arrays, scalars, run-time flags);
* ``N_FLAGS``: how many loop flags (0, 1 or 2) end its arguments;
* ``NAME``: the instance's name, appended to ``update``'s qualified name, after which numba
  names its cache files: the instances share this file, so without it they would load one
  another's compiled code. It ends with a digest of the element function's code, so that
  editing the element function (in another file) makes new cache files rather than loading a
  loop compiled around its old code.

``update(p, g, *args)`` takes the element function's arguments after ``i``, loop flags last,
and runs one loop per combination of the loop flags, in which the element function is called
with the flags as constants: LLVM inlines it, drops the dead branches and vectorises a
straight-line body (one loop with run-time flags ran 15x slower). The branches for other
numbers of flags are pruned at compile time (``N_FLAGS`` is a constant).
"""

from numba import prange

from .._numba.decorators import compiled_for

if "ELEMENT" not in globals():  # set per instance, before this text runs
    raise ImportError("workbench.optim._loop is a template: see workbench.optim._kernels.loop")
ELEMENT = globals()["ELEMENT"]
RANGE = globals()["RANGE"]
N_ARGS: int = globals()["N_ARGS"]
N_FLAGS: int = globals()["N_FLAGS"]
NAME: str = globals()["NAME"]


@compiled_for(
    NAME, cache=True, parallel=RANGE is prange, error_model="numpy", fastmath=False, _nrt=False
)
def update(p, g, *args):
    head = args[:N_ARGS]
    n = p.shape[0]
    if N_FLAGS == 0:
        for i in RANGE(n):
            ELEMENT(i, p, g, *head)
    elif N_FLAGS == 1:
        (a,) = args[N_ARGS:]
        if a:
            for i in RANGE(n):
                ELEMENT(i, p, g, *head, True)
        else:
            for i in RANGE(n):
                ELEMENT(i, p, g, *head, False)
    elif N_FLAGS == 2:
        a, b = args[N_ARGS:]
        if a and b:
            for i in RANGE(n):
                ELEMENT(i, p, g, *head, True, True)
        elif a:
            for i in RANGE(n):
                ELEMENT(i, p, g, *head, True, False)
        elif b:
            for i in RANGE(n):
                ELEMENT(i, p, g, *head, False, True)
        else:
            for i in RANGE(n):
                ELEMENT(i, p, g, *head, False, False)
