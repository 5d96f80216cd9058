"""User functions as Numba dispatchers and C callbacks, shared by the kernel families.

A kernel specialised on a user's dispatcher is compiled afresh in every process (numba 0.68
recompiles a cached function that receives or passes on a dispatcher). A C callback's address
is an integer: kernels that receive one are cached on disk. So a user's function is wrapped,
where its arguments allow, in a small ``cfunc`` with a fixed signature (:func:`compile_cfunc`,
its argument unpacking from :func:`arg_layout` and :func:`unpack_lines`), and kernels call it
through an intrinsic made by :func:`address_call`. A :class:`CompiledCallback` pairs a
module-level cached ``cfunc`` with the Python source it wraps (compiled as a CUDA device
function for the GPU targets).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import cfunc, njit, typeof, types
from numba.core import cgutils
from numba.core.errors import NumbaError, TypingError
from numba.core.registry import CPUDispatcher
from numba.extending import intrinsic

#: numpy's float64 descriptor. Fast paths test ``a.dtype is F64`` (a tenth of ``==``); an
#: equal descriptor that is another object only takes the slower path.
F64 = np.dtype(np.float64)


class CompiledCallback:
    """A C callback (``cfunc``, defined at module level) and the Python function behind it.

    A C callback sees pointers and lengths, so nothing stops it from reading past an array
    it was given the wrong size of. It can declare what it expects, checked by
    :meth:`check_args` before the first step: ``n``, the length of the state (or of the
    parameters, for an objective); ``p``, the length of its ``p`` vector (of each row, in a
    batch); ``data``, a function ``data(array, n)`` that raises ValueError, saying what to
    pass, when ``data`` is not what the callback reads (a packed table, a packed data set).
    ``state`` names the state's entries for the messages.
    """

    def __init__(self, cfunc, py_func, *, n=None, p=None, data=None, state=None):
        self.cfunc = cfunc
        self.py_func = py_func
        self.n, self.p_len, self.data_check, self.state = n, p, data, state
        self._device = None

    def check_args(self, n: int, args, what: str = "y0") -> None:
        """Raise ValueError, naming the expected and the given shapes, when the state size
        ``n`` (the length of ``what``) or ``args = (p, data)`` (``p`` 1-D, or one row per
        member) do not match the declarations."""
        if self.n is not None and n != self.n:
            names = f" ({self.state})" if self.state else ""
            raise ValueError(f"{self._name()} works on {self.n} values{names}; `{what}` has {n}.")
        if self.p_len is not None and args:
            shape = args[0].shape if type(args[0]) is np.ndarray else np.shape(args[0])
            if len(shape) not in (1, 2) or shape[-1] != self.p_len:
                raise ValueError(
                    f"{self._name()} takes p of length {self.p_len} (one row of {self.p_len} "
                    f"per member in a batch); got p of shape {shape}."
                )
        if self.data_check is not None and len(args) > 1:
            self.data_check(args[1], n)

    def _name(self) -> str:
        return getattr(self.py_func, "__qualname__", None) or repr(self.cfunc)

    @property
    def address(self) -> int:
        return self.cfunc.address

    @property
    def device(self):
        """The function compiled as a CUDA device function (on first use)."""
        if self._device is None:
            from .gpu import device_function

            self._device = device_function(self.py_func)
        return self._device

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.py_func.__module__}.{self.py_func.__qualname__})"

    def pointer_args(self, args) -> tuple[np.ndarray, np.ndarray, tuple[bool, bool]]:
        """``args`` as the callback's ``(p, data)``: two contiguous float64 arrays, either of
        which may be omitted (then empty), and whether each is writeable: all that changes a
        kernel's argument types, so a key for :func:`kernel_entry`. Float64 vectors pass
        through uncopied; the flags are read once (each read builds a flags object)."""
        if len(args) > 2:
            raise ValueError(
                f"a {type(self).__name__} takes args=(p, data): at most two float64 arrays."
            )
        p, p_writeable = _vector(args[0]) if args else _NONE
        data, data_writeable = _vector(args[1]) if len(args) == 2 else _NONE
        return p, data, (p_writeable, data_writeable)


def _vector(a) -> tuple[np.ndarray, bool]:
    """``a`` as a contiguous float64 vector, and whether it is writeable."""
    if type(a) is np.ndarray:
        flags = a.flags
        if a.dtype is F64 and a.ndim == 1 and flags.c_contiguous:
            return a, flags.writeable
    a = np.ascontiguousarray(a, dtype=float).ravel()
    return a, a.flags.writeable


_NONE = (np.empty(0), True)  # an omitted p or data (never written)


def as_dispatcher(fun, name: str = "fun"):
    """A Numba dispatcher for ``fun``: itself if already ``@njit``, else compiled here."""
    if isinstance(fun, CPUDispatcher):
        return fun
    if not callable(fun):
        raise ValueError(f"`{name}` must be callable, got {type(fun).__name__}.")
    # Keep the compiled form on the function itself, so that calling the API again with the
    # same plain function reuses it (and the C-callback wrapper keyed on it) instead of
    # compiling anew; the reference cycle goes away with the function.
    compiled = getattr(fun, _COMPILED_ATTR, None)
    if compiled is None:
        compiled = njit(error_model="numpy")(fun)
        try:
            setattr(fun, _COMPILED_ATTR, compiled)
        except (AttributeError, TypeError):  # builtins, bound methods: compile each time
            pass
    return compiled


_COMPILED_ATTR = "__workbench_njit__"


_entries: dict = {}


def kernel_entry(kernel, values: tuple, key):
    """The compiled specialisation of the cached ``kernel`` for ``values`` (its arguments),
    loaded from Numba's cache or compiled once, and remembered under ``key``: a hashable that
    fixes the argument types (the callers pass every other argument with a fixed type), so
    later calls skip typing the arguments."""
    entry = _entries.get((kernel, key))
    if entry is None:
        entry = _entries[(kernel, key)] = kernel.compile(tuple(typeof(v) for v in values))
    return entry


# --- calling a C callback from compiled code ---------------------------------------------------


def address_call(name: str, restype, plan, arity: int):
    """An intrinsic ``name(addr, v0, ..., v{arity-1})`` that calls the C function at ``addr``.

    ``plan`` lists the C function's parameters in order: ``("value", i)`` passes ``v{i}`` (a
    float as double, an integer as intp), ``("data", i)`` the data pointer of the array
    ``v{i}`` and ``("len", i)`` its length. Arrays must be 1-D C-contiguous float64 (a typing
    error says which is not). ``restype`` is ``types.void`` or ``types.float64``.
    """
    arrays = sorted({i for kind, i in plan if kind in ("data", "len")})

    def typer(typingctx, addr, *values):
        for i in arrays:
            ty = values[i]
            if not (isinstance(ty, types.Array) and ty.dtype == types.float64 and ty.ndim == 1):
                raise TypingError(f"{name}: argument {i} must be a 1-D float64 array, got {ty}")
            if ty.layout != "C":
                raise TypingError(f"{name}: argument {i} must be C-contiguous, got {ty.layout}")

        def codegen(context, builder, signature, args):
            addr_v, *vals = args
            tys = signature.args[1:]
            intp = context.get_value_type(types.intp)
            dptr = ir.DoubleType().as_pointer()
            c_args, c_types = [], []
            for kind, i in plan:
                if kind == "value":
                    if isinstance(tys[i], types.Float):
                        c_args.append(context.cast(builder, vals[i], tys[i], types.float64))
                        c_types.append(ir.DoubleType())
                    else:
                        c_args.append(context.cast(builder, vals[i], tys[i], types.intp))
                        c_types.append(intp)
                    continue
                ary = context.make_array(tys[i])(context, builder, vals[i])
                if kind == "data":
                    c_args.append(ary.data)
                    c_types.append(dptr)
                else:
                    c_args.append(cgutils.unpack_tuple(builder, ary.shape, 1)[0])
                    c_types.append(intp)
            ret = ir.VoidType() if restype == types.void else ir.DoubleType()
            fn = builder.inttoptr(addr_v, ir.FunctionType(ret, c_types).as_pointer())
            result = builder.call(fn, c_args)
            return context.get_dummy_value() if restype == types.void else result

        return restype(addr, *values), codegen

    params = ", ".join(f"v{i}" for i in range(arity))
    namespace = {"typer": typer}
    exec(  # an intrinsic's typing function needs named parameters, one per argument
        f"def {name}(typingctx, addr, {params}):\n    return typer(typingctx, addr, {params})\n",
        namespace,
    )
    return intrinsic(namespace[name])


# --- wrapping a user's function as a C callback ----------------------------------------------


def arg_layout(args):
    """(kinds, p, data) for args made only of floats and 1-D or 2-D float64 arrays; None
    otherwise.

    One or two C-contiguous float64 arrays (the usual ``(p, data)``, or ``(X, y)``) travel as
    ``p`` and ``data`` themselves, uncopied (flattened views): kinds ``("p", cols, ndim)``
    and ``("d", cols, ndim)``; a 2-D array's column count is baked into the wrapper and its
    row count read from the length, so a new number of rows compiles nothing. Otherwise
    floats travel in ``p`` and arrays, concatenated, in ``data``: ``("s", index, 0)``,
    ``("a", offset, size)`` or ``("m", offset, (rows, cols))``, sizes baked in.
    """
    if 0 < len(args) <= 2:
        passed = [_plain_array(a) for a in args]
        if all(v is not None for v in passed):
            kinds = tuple(
                (name, cols, ndim) for name, (_, cols, ndim) in zip("pd", passed, strict=False)
            )
            return kinds, passed[0][0], (passed[1][0] if len(args) == 2 else _EMPTY)
    kinds, scalars, arrays, offset = [], [], [], 0
    for a in args:
        if isinstance(a, float | np.floating):
            kinds.append(("s", len(scalars), 0))
            scalars.append(float(a))
        elif isinstance(a, np.ndarray) and a.dtype == np.float64 and a.ndim in (1, 2):
            if a.ndim == 1:
                kinds.append(("a", offset, a.shape[0]))
            else:
                kinds.append(("m", offset, a.shape))
            arrays.append(a.ravel())
            offset += a.size
        else:
            return None
    data = np.concatenate(arrays) if arrays else np.empty(0)
    return tuple(kinds), np.array(scalars, dtype=float), np.ascontiguousarray(data)


_EMPTY = np.empty(0)


def _plain_array(a):
    """(a flat view, columns, ndim) of a C-contiguous float64 array of 1 or 2 dimensions with
    some elements, else None."""
    if type(a) is not np.ndarray or a.dtype is not F64 or not a.flags.c_contiguous:
        return None
    if a.ndim == 1:
        return a, 0, 1
    if a.ndim == 2 and a.shape[1] > 0:
        return a.reshape(-1), a.shape[1], 2
    return None


def unpack_lines(kinds) -> tuple[list[str], list[str]]:
    """Source lines that rebuild the arguments ``a0, a1, ...`` from ``p`` (length ``n_p``) and
    ``d`` (length ``nd``) inside a C callback, and those names (see :func:`arg_layout` for
    the kinds)."""
    lines, names = [], []
    for i, (kind, at, size) in enumerate(kinds):
        names.append(f"a{i}")
        if kind == "s":
            lines.append(f"    a{i} = p[{at}]")
        elif kind == "a":
            lines.append(f"    a{i} = carray(d, (nd,))[{at}:{at + size}]")
        elif kind == "m":
            rows, cols = size
            lines.append(
                f"    a{i} = carray(d, (nd,))[{at}:{at + rows * cols}].reshape(({rows}, {cols}))"
            )
        else:  # "p"/"d": all of p or d, 1-D, or 2-D with `at` columns
            ptr, length = ("p", "n_p") if kind == "p" else ("d", "nd")
            if size == 2:
                lines.append(f"    a{i} = carray({ptr}, ({length} // {at}, {at}))")
            else:
                lines.append(f"    a{i} = carray({ptr}, ({length},))")
    return lines, names


def compile_cfunc(source: list[str], namespace: dict, signature, filename: str):
    """Compile the generated function ``source`` (its lines; the function is the first name it
    defines) as a ``cfunc`` with ``signature``, or None when Numba cannot (the caller then
    takes the dispatcher path)."""
    from numba import carray

    namespace = {"carray": carray, **namespace}
    exec(compile("\n".join(source), filename, "exec"), namespace)
    name = source[0].split("(")[0].removeprefix("def ").strip()
    try:
        return cfunc(signature, error_model="numpy")(namespace[name])
    except NumbaError:
        return None
