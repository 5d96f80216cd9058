"""Numba plumbing shared by the kernel families (``integrate``, ``optimize``, ``optim``).

Nothing here knows about a numerical method; the families import from here and not from one
another:

- :mod:`.decorators`: the compile options the kernels use (``jit``, ``leaf``, ``inline``) and
  :func:`.decorators.compiled_for` for template modules compiled once per instance;
- :mod:`.callbacks`: user functions as dispatchers and C callbacks (:class:`CompiledCallback`,
  :func:`as_dispatcher`, :func:`kernel_entry`, :func:`address_call`, the wrapper generator);
- :mod:`.pyfallback`: functions Numba cannot compile, as ctypes trampolines with the same C
  signatures, so the same cached kernels run them as plain Python;
- :mod:`.compile_events`: says when Numba compiles (an INFO log record; the CLI's status);
- :mod:`.gpu`: the same Python source as CUDA device functions, and as plain Python for the
  CUDA simulator (:func:`pure_python`; an intrinsic names its Python twin in ``python_form``).
"""

from .callbacks import (
    F64,
    CompiledCallback,
    address_call,
    arg_layout,
    as_dispatcher,
    compile_cfunc,
    kernel_entry,
    unpack_lines,
)
from .compile_events import WATCH as COMPILE_WATCH
from .decorators import compiled_for, inline, jit, leaf
from .gpu import device_function, pure_python
from .pyfallback import (
    Bridge,
    PythonFallbackWarning,
    compile_or_fallback,
    require_compiled,
    run_as_python,
)

__all__ = [
    "COMPILE_WATCH",
    "F64",
    "Bridge",
    "PythonFallbackWarning",
    "compile_or_fallback",
    "CompiledCallback",
    "address_call",
    "arg_layout",
    "as_dispatcher",
    "compile_cfunc",
    "compiled_for",
    "device_function",
    "inline",
    "jit",
    "kernel_entry",
    "leaf",
    "pure_python",
    "require_compiled",
    "run_as_python",
    "unpack_lines",
]
