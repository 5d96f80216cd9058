"""Ctrl-C and time limits reach compiled work: single solves and fits poll for Python's
signal handlers, batches run with the GIL released and poll a flag (see
``workbench._numba.interrupt``). The signal comes from ``setitimer`` (a timer thread could not
run while a kernel holds the GIL, which is the point)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from numba import njit
from numba.core import event

from workbench._numba.interrupt import TimeLimitReached, time_limit
from workbench.integrate import odeint, solve_ivp, solve_ivp_batch
from workbench.optimize import minimize, minimize_bfgs_batch

ROOT = Path(__file__).resolve().parents[1]


@njit(cache=True)
def decay(t, y):
    return -y


@njit(cache=True)
def slow_decay(t, y):
    s = 0.0
    for i in range(20_000):  # about 10 us an evaluation: a recorded solve stays small
        s += 1e-30 * i
    return -y + s


def slow_decay_yt(y, t):
    """odeint's argument order. One function for the warm-up and the timed call: a signal
    that lands while Numba compiles is lost inside llvmlite's ctypes callbacks, so nothing may
    compile in the timed part."""
    return slow_decay(t, y)


@njit(cache=True)
def decay_inplace(t, y, dydt, p):
    for i in range(y.shape[0]):
        dydt[i] = -p[0] * y[i]


@njit(cache=True)
def slow_rosen(x):
    s = 0.0
    for i in range(1_000_000):  # about a millisecond: an expensive objective
        s += 1e-30 * i
    for i in range(x.shape[0] - 1):
        s += 100.0 * (x[i + 1] - x[i] ** 2) ** 2 + (1.0 - x[i]) ** 2
    return s


@njit(cache=True)
def slow_quartic_inplace(x, g, c):
    s = 0.0
    for i in range(int(c[1])):  # c[1]: how expensive an evaluation is
        s += 1e-30 * i
    g[0] = 2.0 * (x[0] - c[0])
    g[1] = 4.0 * (x[1] - 2.0) ** 3
    return (x[0] - c[0]) ** 2 + (x[1] - 2.0) ** 4 + s


@contextmanager
def signal_after(seconds: float, handler):
    """Run ``handler`` as a SIGALRM handler after ``seconds``."""
    previous = signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def ctrl_c(signum, frame):
    raise KeyboardInterrupt


ENDLESS = {
    # max_step 1e-300: about 1e300 steps, the input that once ignored Ctrl-C for good. The
    # solves that record every step get a slow right-hand side, so that the record stays
    # small (a fast one fills gigabytes in a fraction of a second on a loaded machine)
    "solve_ivp t_eval": lambda: solve_ivp(decay, (0, 1), np.ones(2), t_eval=[1.0], max_step=1e-300),
    "solve_ivp steps": lambda: solve_ivp(slow_decay, (0, 1), np.ones(2), max_step=1e-300),
    "solve_ivp dense": lambda: solve_ivp(
        slow_decay, (0, 1), np.ones(2), dense_output=True, max_step=1e-300
    ),
    "odeint": lambda: odeint(slow_decay_yt, np.ones(2), [0.0, 1.0], hmax=1e-300),
    # 10-d Rosenbrock with finite differences: about a thousand evaluations, seconds
    "minimize": lambda: minimize(slow_rosen, np.zeros(10), options={"gtol": 1e-300}),
}


def _warm(case: str) -> None:
    # compile (or load) outside the timed part
    if case.startswith("solve_ivp"):
        solve_ivp(decay, (0, 1), np.ones(2), t_eval=[1.0])
        solve_ivp(slow_decay, (0, 1), np.ones(2))
        solve_ivp(slow_decay, (0, 1), np.ones(2), dense_output=True)
    elif case == "minimize":
        minimize(slow_rosen, np.zeros(10), options={"maxiter": 0})
    else:
        odeint(slow_decay_yt, np.ones(2), [0.0, 1.0])


@pytest.mark.parametrize("case", list(ENDLESS))
def test_ctrl_c_stops_a_single_solve_or_fit_within_a_second(case):
    _warm(case)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), signal_after(0.3, ctrl_c):
        ENDLESS[case]()
    assert time.perf_counter() - start < 1.3
    # the next call is not stopped by what is left of the last one, and is right
    res = solve_ivp(decay, (0, 1), np.ones(2), t_eval=[1.0], rtol=1e-10, atol=1e-12)
    assert res.status == 0
    np.testing.assert_allclose(res.y[:, -1], math.exp(-1.0), rtol=1e-8)


@njit(cache=True)
def costly_bowl(x, c):
    s = 0.0
    for i in range(int(c[0])):  # c[0] additions: a tenth of a second for 1e8
        s += 1e-30 * i
    return ((x - 1.0) ** 2).sum() + s


def test_ctrl_c_during_a_bfgs_gradient_waits_for_one_evaluation_not_an_iteration():
    """With finite differences in 8-d, BFGS's first gradient alone is 9 evaluations: polling
    between iterations would wait for all of them. Every evaluation polls, so Ctrl-C waits
    for the one in progress."""
    cost = np.array([1e3])
    minimize(costly_bowl, np.zeros(8), args=(cost,), options={"maxiter": 1})  # compile
    start = time.perf_counter()
    costly_bowl(np.zeros(8), np.array([1e8]))
    evaluation = time.perf_counter() - start
    cost[0] = 1e8 * 0.15 / evaluation  # about 0.15 s an evaluation on this machine
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), signal_after(0.3, ctrl_c):
        minimize(costly_bowl, np.zeros(8), args=(cost,))
    assert time.perf_counter() - start < 0.3 + 4 * 0.15  # the gradient alone is 9 x 0.15 s
    # and the next fit is right
    res = minimize(costly_bowl, np.zeros(8), args=(np.array([0.0]),))
    assert res.success
    np.testing.assert_allclose(res.x, 1.0, atol=1e-5)


def test_the_handlers_own_exception_arrives_with_its_traceback():
    _warm("solve_ivp t_eval")

    class Budget(Exception):
        pass

    def handler(signum, frame):
        raise Budget("over budget")

    with pytest.raises(Budget, match="over budget") as info, signal_after(0.2, handler):
        ENDLESS["solve_ivp t_eval"]()
    assert info.traceback[-1].name == "handler"


def test_a_handler_that_returns_lets_the_solve_go_on():
    seen = []
    with signal_after(0.001, lambda signum, frame: seen.append(signum)):
        res = solve_ivp(
            decay, (0, 30), np.ones(2), t_eval=[30.0], rtol=1e-12, atol=1e-14, max_step=1e-3
        )
    assert seen == [signal.SIGALRM] and res.status == 0
    np.testing.assert_allclose(res.y[:, -1], math.exp(-30.0), rtol=1e-7)


def test_time_limit_stops_a_single_solve():
    _warm("solve_ivp t_eval")
    start = time.perf_counter()
    with pytest.raises(TimeLimitReached, match="time limit of 0.25 s"), time_limit(0.25):
        ENDLESS["solve_ivp t_eval"]()
    assert time.perf_counter() - start < 1.25
    with time_limit(30):  # a limit not reached changes nothing
        res = solve_ivp(decay, (0, 1), np.ones(2), t_eval=[1.0])
    assert res.status == 0


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_time_limit_and_ctrl_c_stop_every_member_of_an_ensemble(target):
    m = 64
    y0s, params = np.ones((m, 2)), np.ones((m, 1))
    done = solve_ivp_batch(decay_inplace, (0, 1), y0s, t_eval=[1.0], params=params, target=target)
    np.testing.assert_allclose(done.y[:, :, -1], math.exp(-1.0), rtol=1e-3)
    seen = []

    def run():
        solve_ivp_batch(
            decay_inplace, (0, 1), y0s, t_eval=[1.0], params=params, target=target,
            max_step=1e-300, progress=lambda d, total: seen.append((d, total)),
        )  # fmt: skip

    start = time.perf_counter()
    with pytest.raises(TimeLimitReached), time_limit(0.3):
        run()
    assert time.perf_counter() - start < 1.3
    assert seen and all(total == m and 0 <= d <= m for d, total in seen)
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), signal_after(0.3, ctrl_c):
        run()
    assert time.perf_counter() - start < 1.3


@pytest.mark.parametrize("target", ["cpu", "parallel"])
def test_ctrl_c_stops_a_bfgs_batch(target):
    c = np.column_stack([np.arange(6.0), np.full(6, 10.0)])
    res = minimize_bfgs_batch(slow_quartic_inplace, np.zeros((6, 2)), member_data=c, target=target)
    np.testing.assert_allclose(res.x[:, 0], c[:, 0], atol=1e-4)
    c[:, 1] = 2e7  # a tenth of a second an evaluation: every fit takes seconds
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt), signal_after(0.3, ctrl_c):
        minimize_bfgs_batch(slow_quartic_inplace, np.zeros((6, 2)), member_data=c, target=target)
    assert time.perf_counter() - start < 1.5  # the iteration under way ends first


# --------------------------------------------------------------------------- the command line


def _workbench(*args, tmp_path: Path, sigint_after: float | None = None):
    """Run the CLI in a subprocess with Python's usual SIGINT handler (a background shell
    would give it SIG_IGN); Ctrl-C is SIGINT after ``sigint_after`` s. Returns (rc, stderr,
    seconds from the signal to the exit)."""
    env = dict(os.environ, COLUMNS="200")
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench", "run", *map(str, args), "--out", str(tmp_path)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    sent = time.perf_counter()
    if sigint_after is not None:
        # wait until the run has started (its .partial folder exists), then a little longer
        deadline = time.perf_counter() + 60
        while not any(tmp_path.glob(".*.partial")) and time.perf_counter() < deadline:
            time.sleep(0.05)
        time.sleep(sigint_after)
        sent = time.perf_counter()
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err, time.perf_counter() - sent


def test_ctrl_c_on_a_running_solve_exits_130_within_a_second_and_keeps_nothing(tmp_path):
    rc, err, seconds = _workbench(
        ROOT / "configs/arm.yaml", "solver.max_step=1e-300", tmp_path=tmp_path, sigint_after=1.0
    )
    assert rc == 130, err
    assert seconds < 1.5
    assert "interrupted; the run was not finished, and nothing of it was kept" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_timeout_stops_an_ensemble_with_exit_1_and_says_so(tmp_path):
    rc, err, _ = _workbench(
        ROOT / "configs/arm_ensemble.yaml", "solver.max_step=1e-300", "--timeout", "1",
        tmp_path=tmp_path,
    )  # fmt: skip
    assert rc == 1, err
    assert "stopped: the time limit of 1 s was reached" in err
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_the_worker_thread_uses_the_callers_thread_count():
    # numba.set_num_threads is a per-thread setting: a batch run in a worker thread must keep
    # the caller's (else "parallel on one thread" would quietly use every core)
    import numba

    from workbench._numba.interrupt import new_stop, run_released

    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert run_released(numba.get_num_threads, (), new_stop(False)) == 1
    finally:
        numba.set_num_threads(before)
    assert run_released(numba.get_num_threads, (), new_stop(False)) == before


class _SwallowingCallback(event.Listener):
    """Raises the signal inside compilation and swallows its exception, as an exception
    raised in one of llvmlite's ctypes callbacks is swallowed."""

    def __init__(self, signum):
        self.signum, self.swallowed = signum, []

    def on_start(self, ev):
        try:
            signal.raise_signal(self.signum)
        except BaseException as exc:  # noqa: BLE001 - what a ctypes callback does
            self.swallowed.append(exc)

    def on_end(self, ev):
        pass


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGALRM], ids=["SIGINT", "SIGALRM"])
def test_a_signal_swallowed_while_numba_compiles_is_raised_again_afterwards(signum):
    @njit  # a new function: calling it compiles
    def twice(x):
        return 2.0 * x

    handlers = {signal.SIGINT: ctrl_c, signal.SIGALRM: lambda s, f: (_ for _ in ()).throw(
        TimeLimitReached(0.5))}  # fmt: skip
    previous = signal.signal(signum, handlers[signum])
    swallowing = _SwallowingCallback(signum)
    event.register("numba:compile", swallowing)
    try:
        with pytest.raises((KeyboardInterrupt, TimeLimitReached)) as info:
            twice(1.0)
        assert len(swallowing.swallowed) == 1  # the first was lost inside compilation
        assert type(info.value) is type(swallowing.swallowed[0])
        assert signal.getsignal(signum) is handlers[signum]  # the handler is restored
        assert twice(1.5) == 3.0  # compiled, and nothing is left pending
    finally:
        event.unregister("numba:compile", swallowing)
        signal.signal(signum, previous)
