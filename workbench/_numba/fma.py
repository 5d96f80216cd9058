"""A fused multiply-add for compiled code, and its exact twin for the CUDA simulator.

BLAS kernels fuse; reproducing their rounding (``integrate._sums``, ``optimize._blas``) needs
``a * b + c`` rounded once.
"""

from __future__ import annotations

from numba import types
from numba.extending import intrinsic

__all__ = ["fma", "fma_python"]


@intrinsic
def fma(typingctx, a, b, c):
    """``a * b + c`` rounded once (LLVM's ``llvm.fma.f64``: one instruction on CPUs with FMA
    and on GPUs)."""
    if not all(isinstance(x, types.Float) for x in (a, b, c)):
        return None

    def codegen(context, builder, signature, args):
        x, y, z = (
            context.cast(builder, v, t, types.float64)
            for v, t in zip(args, signature.args, strict=True)
        )
        return builder.fma(x, y, z)

    return types.float64(a, b, c), codegen


def fma_python(a, b, c):
    """:func:`fma` for the CUDA simulator, which runs kernels as Python (exact, via
    fractions, for finite values)."""
    import math

    if hasattr(math, "fma"):  # Python 3.13
        return math.fma(a, b, c)
    from fractions import Fraction

    a, b, c = float(a), float(b), float(c)
    if not all(abs(v) < float("inf") for v in (a, b, c)):
        return a * b + c
    return float(Fraction(a) * Fraction(b) + Fraction(c))


fma.python_form = fma_python  # what the CUDA simulator runs (_numba.gpu.pure_python)
