"""Tabulated signals packed into one flat float64 array, evaluated inside jitted code.

A table of C channels sampled on a time grid of N points is packed by :func:`pack_table` into a
single 1-D float64 array, so the same object can go to Numba kernels, CUDA device code and C
callbacks (as a ``double*``) without any structured types. Layout (all slots are float64; counts
and offsets are stored as exactly representable integers)::

    [0]  MAGIC (31409.0)     marks the array as a packed table
    [1]  VERSION (2.0)
    [2]  kind                0 = linear, 1 = cubic
    [3]  C                   number of channels
    [4]  N                   number of grid points (N >= 2)
    [5]  uniform             1.0 when the grid is uniform (O(1) lookup), else 0.0 (binary search)
    [6]  t0                  first grid point
    [7]  dt                  (t_last - t0) / (N - 1)
    [8]  t_last              last grid point
    [9]  grid offset         = HEADER_LEN
    [10] data offset         = HEADER_LEN + N
    [11] 1 / dt              (the uniform lookup multiplies rather than divides)
    grid:   N time points, t[i] at packed[grid + i]
    linear: C*N samples, channel k sample i at packed[data + k*N + i], then C*(N-1) slopes,
            channel k piece j at packed[data + C*N + k*(N-1) + j], computed as np.interp does
            ((y[j+1] - y[j]) / (t[j+1] - t[j])), so evaluating costs one multiply-add
    cubic:  C*(N-1)*4 coefficients, channel k piece j at packed[data + (k*(N-1) + j)*4 + m],
            m = 0..3 multiplying (t - t[j])**(3 - m); this is scipy's ``CubicSpline.c[m, j, k]``.

:func:`table_eval` never allocates, raises or calls numpy routines, so it also compiles as CUDA
device code. Outside [t0, t_last] it holds the end values; callers check ranges beforehand.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = [
    "TableError",
    "evaluate",
    "pack_table",
    "table_channels",
    "table_eval",
    "table_eval_into",
    "table_eval_scalar",
    "table_range",
    "validate_table",
]

MAGIC = 31409.0  # 0x7AB1; lets the Python helpers reject arrays that are not packed tables
VERSION = 2.0
KIND_LINEAR = 0
KIND_CUBIC = 1
_KINDS = {"linear": KIND_LINEAR, "cubic": KIND_CUBIC}

H_MAGIC, H_VERSION, H_KIND, H_C, H_N, H_UNIFORM, H_T0, H_DT, H_TLAST = range(9)
H_GRID, H_DATA, H_INVDT = range(9, 12)
HEADER_LEN = 12


class TableError(ValueError):
    """A time grid or table that cannot be used; the message says what is wrong and what works."""


def validate_table(t, values) -> tuple[np.ndarray, np.ndarray]:
    """Check a time grid and a table of channels, as :func:`pack_table` requires them.

    Parameters
    ----------
    t : array_like, shape (N,)
        Time grid: finite, strictly increasing, N >= 2 points, with a span that does not
        overflow float64.
    values : array_like, shape (C, N)
        Table: C >= 1 channels (rows), one finite sample per grid point.

    Returns
    -------
    t : ndarray of float64, shape (N,)
        The grid, C-contiguous.
    values : ndarray of float64, shape (C, N)
        The table, C-contiguous.

    Raises
    ------
    TableError
        If either is not real numbers, or breaks a rule above; the message names the first
        offending index (and suggests ``values.T`` for a transposed table, ``values[None, :]``
        for a 1-D one).
    """
    try:
        t = np.ascontiguousarray(t, dtype=np.float64)
        values = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise TableError(f"time grid and table must be real numbers: {exc}") from None
    if t.ndim != 1 or t.shape[0] < 2:
        raise TableError(f"time grid must be 1-D with at least 2 points, got shape {t.shape}")
    n = t.shape[0]
    bad = np.flatnonzero(~np.isfinite(t))
    if bad.size:
        raise TableError(
            f"time grid contains NaN or infinity at index {bad[0]} (t={float(t[bad[0]])})"
        )
    with np.errstate(over="ignore"):  # a huge span is reported below, not as a warning
        bad = np.flatnonzero(~(np.diff(t) > 0))
        span = t[-1] - t[0]
    if bad.size:
        i = bad[0] + 1
        raise TableError(
            f"time grid is not strictly increasing at index {i} "
            f"(t[{i - 1}]={float(t[i - 1])!r}, t[{i}]={float(t[i])!r}); "
            "times must increase at every step"
        )
    if not np.isfinite(span):
        raise TableError(f"time span {float(t[0])!r} .. {float(t[-1])!r} overflows float64")
    if values.ndim != 2 or values.shape[0] < 1 or values.shape[1] != n:
        hint = ""
        if values.ndim == 2 and values.shape[0] == n:
            hint = "; it looks transposed (N, C), pass values.T"
        elif values.ndim == 1:
            hint = "; for one channel pass values[None, :]"
        raise TableError(
            f"table has shape {values.shape} but the time grid has {n} points; "
            f"expected shape (C, {n}) with C >= 1 channels{hint}"
        )
    bad = np.argwhere(~np.isfinite(values))
    if bad.size:
        k, i = bad[0]
        raise TableError(f"table contains NaN or infinity at channel {k}, sample {i}")
    return t, values


def _is_uniform(t: np.ndarray, dt: float) -> bool:
    """Whether the O(1) index estimate plus one correction step finds the piece of any time.

    Grids from linspace or ``t0 + i*dt`` deviate from the ideal points by a few ulps of the largest
    |t|, so 64 ulps accepts them (a cumsum-built grid may exceed it and just uses bisection). The
    dt/4 cap is what makes the lookup exact: with every point within dt/4 of ``t0 + i*dt`` (and
    the quotient's rounding relative, ~1e-16 * N pieces), ``int((t - t0) / dt)`` is at most one
    piece off, which table_eval corrects by comparing against the stored points.
    """
    n = t.shape[0]
    ideal = t[0] + np.arange(n) * dt
    scale = max(abs(t[0]), abs(t[-1]))
    tol = min(0.25 * dt, 64.0 * np.finfo(np.float64).eps * scale)
    return bool(np.max(np.abs(t - ideal)) <= tol)


def pack_table(t, values, kind: str = "linear") -> np.ndarray:
    """Pack a time grid and a table of channels into one flat float64 array.

    Parameters
    ----------
    t : array_like, shape (N,)
        Time grid, finite and strictly increasing, N >= 2 (see :func:`validate_table`).
    values : array_like, shape (C, N)
        Table of C >= 1 channels, finite.
    kind : {"linear", "cubic"}, optional
        ``"linear"`` (default) interpolates as ``np.interp``; ``"cubic"`` stores a
        not-a-knot cubic spline, as ``scipy.interpolate.CubicSpline``.

    Returns
    -------
    packed : ndarray of float64, shape (12 + N + C * (2N - 1),) or (12 + N + 4C(N - 1),)
        The packed table (linear or cubic), laid out as the module docstring describes.

    Raises
    ------
    TableError
        For an unknown ``kind``, an invalid grid or table (:func:`validate_table`), or cubic
        coefficients that overflow float64.

    Examples
    --------
    >>> import numpy as np
    >>> from workbench.interpolate import pack_table, evaluate
    >>> t = np.linspace(0.0, 1.0, 5)
    >>> packed = pack_table(t, np.vstack([t, 2 * t]))
    >>> evaluate(packed, [0.5, 2.0])
    array([[0.5, 1. ],
           [1. , 2. ]])
    """
    if kind not in _KINDS:
        raise TableError(f"unknown interpolation kind {kind!r}; accepted: 'linear', 'cubic'")
    t, values = validate_table(t, values)
    c, n = values.shape
    t0, t_last = float(t[0]), float(t[-1])
    dt = (t_last - t0) / (n - 1)
    if kind == "linear":
        slopes = (values[:, 1:] - values[:, :-1]) / (t[1:] - t[:-1])
        data = np.concatenate([values.ravel(), slopes.ravel()])
    else:
        overflow = TableError("cubic spline coefficients overflow float64; rescale the table")
        from scipy.interpolate import CubicSpline  # lazily: it costs 0.3 s of start-up

        with np.errstate(over="ignore", invalid="ignore"):
            try:
                spline = CubicSpline(t, values, axis=1, bc_type="not-a-knot")
            except ValueError:  # scipy rejects its own non-finite slopes
                raise overflow from None
        # spline.c is (4, N-1, C); store (C, N-1, 4) so one piece's coefficients are adjacent.
        data = np.ascontiguousarray(spline.c.transpose(2, 1, 0)).ravel()
        if not np.all(np.isfinite(data)):
            raise overflow
    header = np.zeros(HEADER_LEN)
    header[H_MAGIC], header[H_VERSION], header[H_KIND] = MAGIC, VERSION, _KINDS[kind]
    header[H_C], header[H_N], header[H_UNIFORM] = c, n, float(_is_uniform(t, dt))
    header[H_T0], header[H_DT], header[H_TLAST] = t0, dt, t_last
    header[H_GRID], header[H_DATA] = HEADER_LEN, HEADER_LEN + n
    header[H_INVDT] = 1.0 / dt
    return np.concatenate([header, t, data])


def _check_packed(packed) -> np.ndarray:
    """``packed`` if it is a table :func:`pack_table` built (its header says so and its length
    agrees), else a TableError. Kept to a microsecond: a solve checks its table every call."""
    try:
        ok = type(packed) is np.ndarray and packed.ndim == 1 and packed.dtype.char == "d"
        # magic, version, kind, channels, samples: Python floats compare faster than numpy's
        magic, version, kind, c, n = packed[:5].tolist() if ok else (0.0,) * 5
    except ValueError:  # shorter than the header
        ok = False
    if not (ok and magic == MAGIC and version == VERSION):
        raise TableError("not a packed table; build one with pack_table(t, values, kind)")
    per_channel = 2 * n - 1 if kind == KIND_LINEAR else 4 * (n - 1)
    if packed.shape[0] != HEADER_LEN + n + c * per_channel:
        raise TableError("not a packed table; build one with pack_table(t, values, kind)")
    return packed


def table_range(packed: np.ndarray) -> tuple[float, float]:
    """First and last grid time of a packed table.

    Parameters
    ----------
    packed : ndarray of float64, shape (L,)
        A table built by :func:`pack_table`.

    Returns
    -------
    t0, t_last : float
        The first and last grid points.

    Raises
    ------
    TableError
        If ``packed`` is not a packed table.
    """
    packed = _check_packed(packed)
    return float(packed[H_T0]), float(packed[H_TLAST])


def table_channels(packed: np.ndarray) -> int:
    """Number of channels of a packed table.

    Parameters
    ----------
    packed : ndarray of float64, shape (L,)
        A table built by :func:`pack_table`.

    Returns
    -------
    int
        The number of channels C.

    Raises
    ------
    TableError
        If ``packed`` is not a packed table.
    """
    return int(_check_packed(packed)[H_C])


@numba.njit(cache=True, _nrt=False, error_model="numpy")
def _eval_channels(packed, t, k0, k1, out, at):
    """Channels ``k0 <= k < k1`` at ``t`` into ``out[at + k - k0]``; returns the last one.

    The one evaluation routine; ``out`` may be None (then only the value is returned).

    Written flat on purpose: split into lookup and per-channel helpers (tuple returns, header
    re-read per call) it ran at half the speed, and it is called at every stage of every step.
    """
    n = int(packed[H_N])
    g = int(packed[H_GRID])
    d = int(packed[H_DATA])
    y = np.nan
    if t != t:  # NaN time gives NaN values, as np.interp does
        if out is not None:
            for k in range(k0, k1):
                out[at + k - k0] = y
        return y
    # Clamp to the grid (hold the end values) and find the piece j with t[j] <= x < t[j+1].
    if t <= packed[H_T0]:
        j, x = 0, packed[H_T0]
    elif t >= packed[H_TLAST]:
        j, x = n - 2, packed[H_TLAST]
    elif packed[H_UNIFORM] != 0.0:
        x = t
        j = int((x - packed[H_T0]) * packed[H_INVDT])
        if j > n - 2:
            j = n - 2
        # The stored points differ from t0 + j*dt by rounding and the quotient is rounded too, so
        # the estimate can be one piece off (pack_table guarantees no more); comparing with the
        # stored points gives the same piece as bisection, hence np.interp's exact results.
        if x < packed[g + j]:
            j -= 1
        elif x >= packed[g + j + 1]:
            j += 1
    else:
        x = t
        lo = 0
        hi = n - 1
        while hi - lo > 1:
            mid = (lo + hi) >> 1
            if packed[g + mid] <= x:
                lo = mid
            else:
                hi = mid
        j = lo
    xj = packed[g + j]
    xj1 = packed[g + j + 1]
    if packed[H_KIND] == KIND_LINEAR:
        slopes = d + int(packed[H_C]) * n
        for k in range(k0, k1):
            yj = packed[d + k * n + j]
            yj1 = packed[d + k * n + j + 1]
            # numpy's arr_interp: exact node values (x == t[j], or x == t_last), else the slope
            # form with the slope precomputed as numpy computes it.
            if x == xj:
                y = yj
            elif x == xj1:
                y = yj1
            else:
                slope = packed[slopes + k * (n - 1) + j]
                y = slope * (x - xj) + yj
                if y != y:  # inf slope times tiny step: numpy retries from the right end
                    y = slope * (x - xj1) + yj1
                    if y != y and yj == yj1:
                        y = yj
            if out is not None:
                out[at + k - k0] = y
        return y
    # Same summation order as scipy's PPoly (evaluate_poly1 sums c[3] + c[2]*s + c[1]*s**2 +
    # c[0]*s**3 with running powers of s; it is not Horner), so results match it to rounding.
    s = x - xj
    s2 = s * s
    s3 = s2 * s
    for k in range(k0, k1):
        base = d + (k * (n - 1) + j) * 4
        y = packed[base + 3] + packed[base + 2] * s + packed[base + 1] * s2 + packed[base] * s3
        if out is not None:
            out[at + k - k0] = y
    return y


@numba.njit(cache=True, _nrt=False, error_model="numpy")
def table_eval(packed, t, out):
    """Write the C channel values at time ``t`` into ``out[:C]``; compiled, for njit code.

    Parameters
    ----------
    packed : ndarray of float64, shape (L,)
        A table built by :func:`pack_table` (not checked here: check it once with
        :func:`table_channels` or :func:`table_range` outside the compiled code).
    t : float
        Time. Outside the grid the end values are held; a NaN time gives NaN values (as
        ``np.interp`` does).
    out : ndarray of float64, shape (>= C,)
        Receives the values in ``out[:C]``.

    Returns
    -------
    None
        The values are written into ``out``.

    Notes
    -----
    No allocation, exceptions or numpy calls: usable from ``@njit`` code and CUDA device
    code. A uniform grid finds the piece in O(1), any other by bisection; linear tables give
    ``np.interp``'s results exactly, cubic ones ``CubicSpline``'s to rounding.
    """
    _eval_channels(packed, t, 0, int(packed[H_C]), out, 0)


@numba.njit(cache=True, _nrt=False, error_model="numpy")
def table_eval_into(packed, t, out, at):
    """Like :func:`table_eval`, writing into ``out[at:at + C]`` (no slice view needed).

    Parameters
    ----------
    packed : ndarray of float64, shape (L,)
        A table built by :func:`pack_table` (not checked).
    t : float
        Time; end values are held outside the grid, NaN gives NaN.
    out : ndarray of float64, shape (>= at + C,)
        Receives the values in ``out[at:at + C]``.
    at : int
        Offset of the first channel in ``out``.

    Returns
    -------
    None
        The values are written into ``out``.
    """
    _eval_channels(packed, t, 0, int(packed[H_C]), out, at)


@numba.njit(cache=True, _nrt=False, error_model="numpy")
def table_eval_scalar(packed, t, channel):
    """Value of one channel at time ``t``; compiled, no allocation.

    Parameters
    ----------
    packed : ndarray of float64, shape (L,)
        A table built by :func:`pack_table` (not checked).
    t : float
        Time; end values are held outside the grid, NaN gives NaN.
    channel : int
        Channel index, ``0 <= channel < C`` (not checked).

    Returns
    -------
    float
        The channel's value at ``t``.
    """
    return _eval_channels(packed, t, channel, channel + 1, None, 0)


@numba.njit(cache=True)
def _evaluate(packed, times, out):
    buf = np.empty(out.shape[0])
    for i in range(times.shape[0]):
        table_eval(packed, times[i], buf)
        for k in range(buf.shape[0]):  # a loop, not out[:, i] = buf: that costs 2 s to compile
            out[k, i] = buf[k]


def evaluate(packed: np.ndarray, times) -> np.ndarray:
    """Evaluate a packed table at many times, from Python (for references and plots).

    Parameters
    ----------
    packed : ndarray of float64, shape (L,)
        A table built by :func:`pack_table`.
    times : array_like, shape (M,)
        Times (any shape is flattened); end values are held outside the grid, NaN gives NaN.

    Returns
    -------
    ndarray of float64, shape (C, M)
        Channel k at ``times[i]`` in ``[k, i]``.

    Raises
    ------
    TableError
        If ``packed`` is not a packed table.
    """
    packed = _check_packed(packed)
    times = np.ascontiguousarray(times, dtype=np.float64).reshape(-1)
    out = np.empty((int(packed[H_C]), times.shape[0]))
    _evaluate(packed, times, out)
    return out
