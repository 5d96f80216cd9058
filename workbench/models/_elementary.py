"""``exp``, ``log1p`` and ``tanh`` without libm calls, for the models' hot loops.

glibc's ``exp``, ``log1p`` and ``tanh`` are opaque calls: a loop that makes one runs one
element at a time, and costs 20 to 40 cycles per call (``tanh`` alone took longer than
numpy's SIMD ``np.tanh``; the logistic loss's ``exp`` and ``log1p`` were most of a BFGS fit's
time). These are straight-line arithmetic (range reduction, a polynomial, selections instead
of branches), so they inline and vectorise, and they compile for CUDA as well. On their
ranges ``exp`` stays within 1 ulp of libm, ``log1p`` within 2 and ``tanh`` within 3 (tests
check this against ``math``), so the compiled models agree with their numpy references to
about 1e-15.

The methods are the textbook ones: Cody and Waite's reduction for ``exp``; for ``log``, Tang's
reduction to [sqrt(1/2), sqrt(2)] and the series of ``2 atanh(s)``; Cephes' rational form for
``tanh`` near 0. Taylor coefficients: a minimax fit would need fewer terms, but these need no
tables and are easy to check.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

inl = njit(cache=True, error_model="numpy", _nrt=False, inline="always")

_LOG2E = 1.4426950408889634
# ln 2 split so that n * _LN2_HI is exact for |n| < 2**11 (its low 11 bits are zero)
_LN2_HI = 0.6931471803691238
_LN2_LO = 1.9082149292705877e-10
_SQRT2 = 1.4142135623730951
#: Below this, 2**n would be subnormal: exp returns 0 there (the true value is below 2.3e-308,
#: zero next to the loss's other terms)
_EXP_FLOOR = -708.39


@intrinsic
def _float_from_bits(typingctx, bits):
    """The float64 whose IEEE-754 bit pattern is the int64 ``bits`` (a bitcast, no call)."""
    if not isinstance(bits, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        value = context.cast(builder, args[0], signature.args[0], types.int64)
        return builder.bitcast(value, context.get_value_type(types.float64))

    return types.float64(bits), codegen


def _float_from_bits_python(bits):
    """:func:`_float_from_bits` for the CUDA simulator, which runs device code as Python."""
    import struct

    return struct.unpack("<d", struct.pack("<q", int(bits)))[0]


_float_from_bits.python_form = _float_from_bits_python  # see workbench._numba.gpu.pure_python


@inl
def exp_nonpositive(x):
    """``exp(x)`` for ``x <= 0``; 0 below -708.39, where the result would be subnormal; NaN
    for NaN."""
    underflow = x < _EXP_FLOOR
    x = _EXP_FLOOR if underflow else x  # keeps 2**n normal (and NaN NaN: not max())
    v = x * _LOG2E + 0.5
    n = int(math.floor(v if v == v else 0.0))  # NaN has no integer part (x stays NaN)
    r = (x - n * _LN2_HI) - n * _LN2_LO  # |r| <= ln(2) / 2
    # Taylor series to r**13 / 13!: the next term is below 4e-18 on |r| <= 0.347
    p = 1.0 / 6227020800.0
    p = p * r + 1.0 / 479001600.0
    p = p * r + 1.0 / 39916800.0
    p = p * r + 1.0 / 3628800.0
    p = p * r + 1.0 / 362880.0
    p = p * r + 1.0 / 40320.0
    p = p * r + 1.0 / 5040.0
    p = p * r + 1.0 / 720.0
    p = p * r + 1.0 / 120.0
    p = p * r + 1.0 / 24.0
    p = p * r + 1.0 / 6.0
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    scale = _float_from_bits((n + 1023) << 52)  # 2**n
    return 0.0 if underflow else p * scale


@inl
def tanh(x):
    """``tanh(x)`` within 3 ulp (Cephes' rational form below |x| = 0.625, else
    ``(1 - e) / (1 + e)`` with ``e = exp(-2|x|)``); NaN stays NaN."""
    x = float(x)
    a = abs(x)
    e = exp_nonpositive(-2.0 * a)
    big = (1.0 - e) / (1.0 + e)
    big = big if x >= 0.0 else -big
    s = x * x
    p = (-9.64399179425052238628e-1 * s - 9.92877231001918586564e1) * s - 1.61468768441708447952e3
    q = ((s + 1.12811678491632931402e2) * s + 2.23548839060100448583e3) * s
    q += 4.84406305325125486048e3
    small = x + x * s * (p / q)
    out = small if a <= 0.625 else big
    return out if x == x else x


@inl
def log1p_unit(x):
    """``log(1 + x)`` for ``0 <= x <= 1``."""
    u = 1.0 + x
    correction = (x - (u - 1.0)) / u  # what rounding 1 + x lost, to first order
    k = 1.0 if u > _SQRT2 else 0.0
    f = u * 0.5 if u > _SQRT2 else u  # in [sqrt(1/2), sqrt(2)]: scaling by 2 is exact
    s = (f - 1.0) / (f + 1.0)  # f - 1 is exact here; |s| <= 0.1716
    s2 = s * s
    # log(f) = 2 atanh(s) = 2 (s + s^3/3 + ... + s^21/21): the next term is below 2e-18 |s|
    q = 2.0 / 21.0
    q = q * s2 + 2.0 / 19.0
    q = q * s2 + 2.0 / 17.0
    q = q * s2 + 2.0 / 15.0
    q = q * s2 + 2.0 / 13.0
    q = q * s2 + 2.0 / 11.0
    q = q * s2 + 2.0 / 9.0
    q = q * s2 + 2.0 / 7.0
    q = q * s2 + 2.0 / 5.0
    q = q * s2 + 2.0 / 3.0
    log_f = 2.0 * s + s * s2 * q
    return k * _LN2_HI + ((log_f + correction) + k * _LN2_LO)


@intrinsic
def stack_buffer(typingctx, size):
    """A float64 scratch array of ``size`` (a literal) elements on the caller's stack (thread-
    local memory on a GPU): no allocation, so code that runs without Numba's reference counting
    and on the GPU can use it. It lives as long as the calling function's frame; never return
    it."""
    if not isinstance(size, types.IntegerLiteral):
        return None
    length = size.literal_value
    array_type = types.Array(types.float64, 1, "C")

    def codegen(context, builder, signature, args):
        data = cgutils.alloca_once(builder, context.get_value_type(types.float64), size=length)
        array = context.make_array(array_type)(context, builder)
        itemsize = context.get_constant(types.intp, 8)
        context.populate_array(
            array,
            data=data,
            shape=cgutils.pack_array(builder, [context.get_constant(types.intp, length)]),
            strides=cgutils.pack_array(builder, [itemsize]),
            itemsize=itemsize,
            meminfo=None,
        )
        return array._getvalue()

    return array_type(size), codegen


def _stack_buffer_python(size):
    return np.empty(size)


stack_buffer.python_form = _stack_buffer_python
