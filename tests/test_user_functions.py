"""A scipy user's own code, run unchanged: functions Numba cannot compile (plain Python through
the same kernels), bound methods, ``fmin_bfgs``, ``odeint``, callbacks, and the shape checks
of the compiled models. Every number is checked against scipy given the same functions."""

from __future__ import annotations

import functools
import logging
import warnings

import numpy as np
import pytest
import scipy.integrate as si
import scipy.optimize as so
import scipy.special as sp
from numba import njit

from workbench.integrate import ODEintWarning, PythonFallbackWarning, odeint, solve_ivp
from workbench.optimize import fmin_bfgs, minimize

X0 = np.array([-1.2, 1.0, 0.5, 2.0])


def _fallbacks(record) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, PythonFallbackWarning)]


# --- solve_ivp with functions Numba cannot compile ----------------------------------------------


def special_rhs(t, y, k):
    """Calls scipy.special: Numba cannot compile it."""
    return np.array([-sp.expit(y[0]) * y[1] * k, y[0] - 0.1 * sp.erf(y[1])])


class Oscillator:
    def __init__(self, k):
        self.k = k

    def rhs(self, t, y):
        return np.array([y[1], -self.k * y[0]])

    def crossing(self, t, y):
        return y[0] - 0.5


@pytest.mark.parametrize("method", ["RK45", "DOP853"])
def test_plain_python_rhs_gives_scipys_steps_with_one_warning(method):
    ref = si.solve_ivp(special_rhs, (0, 10), [1.0, 0.5], method=method, args=(1.5,))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        res = solve_ivp(special_rhs, (0, 10), [1.0, 0.5], method=method, args=(1.5,))
        again = solve_ivp(special_rhs, (0, 10), [1.0, 0.5], method=method, args=(1.5,))
    assert (res.nfev, res.status) == (ref.nfev, ref.status) == (again.nfev, 0)
    np.testing.assert_array_equal(res.t, ref.t)
    np.testing.assert_allclose(res.y, ref.y, rtol=1e-13, atol=1e-15)
    messages = _fallbacks(record)
    assert len(messages) <= 1  # once per function (none if an earlier test warned already)
    for text in messages:
        assert "special_rhs" in text and "expit" in text and "@njit" in text


def test_warning_names_the_function_and_numbas_reason_in_one_line():
    def uses_helper(t, y):
        return -np.array([sp.expit(v) for v in y])

    with pytest.warns(PythonFallbackWarning) as record:
        solve_ivp(uses_helper, (0, 1), [1.0])
    (text,) = _fallbacks(record)
    assert "uses_helper" in text and "\n" not in text and "Traceback" not in text


def test_bound_method_with_events_matches_scipy():
    osc = Oscillator(3.0)
    osc_ref = Oscillator(3.0)
    ref = si.solve_ivp(osc_ref.rhs, (0, 10), [1.0, 0.5], events=[osc_ref.crossing])
    with pytest.warns(PythonFallbackWarning, match="Oscillator.rhs"):
        res = solve_ivp(osc.rhs, (0, 10), [1.0, 0.5], events=[osc.crossing])
    assert res.nfev == ref.nfev
    np.testing.assert_allclose(res.t_events[0], ref.t_events[0], rtol=1e-12)
    np.testing.assert_allclose(res.y_events[0], ref.y_events[0], rtol=1e-12, atol=1e-14)


def test_a_compiled_rhs_with_a_python_event_runs_both_as_python():
    @njit
    def rhs(t, y):
        return -y

    def event(t, y):
        return float(sp.expit(y[0])) - 0.6

    ref = si.solve_ivp(rhs.py_func, (0, 5), [1.0], events=event)
    with pytest.warns(PythonFallbackWarning, match="events"):
        res = solve_ivp(rhs, (0, 5), [1.0], events=event)
    assert res.nfev == ref.nfev
    np.testing.assert_allclose(res.t_events[0], ref.t_events[0], rtol=1e-12)


def test_exceptions_in_python_functions_reach_the_caller_unchanged():
    def fails(t, y):
        if t > 0.5:
            raise RuntimeError("boom at t > 0.5")
        return -sp.expit(y)

    def interrupted(t, y):
        if t > 0.5:
            raise KeyboardInterrupt
        return -sp.expit(y)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PythonFallbackWarning)
        with pytest.raises(RuntimeError, match="boom"):
            solve_ivp(fails, (0, 2), [1.0])
        with pytest.raises(KeyboardInterrupt):
            solve_ivp(interrupted, (0, 2), [1.0])
        # a solve after an interrupted one starts clean
        res = solve_ivp(interrupted, (0, 0.4), [1.0])
    assert res.status == 0


# --- minimize and fmin_bfgs ------------------------------------------------------------------


@pytest.mark.parametrize("jac", [None, "2-point", "3-point", so.rosen_der])
def test_scipys_rosen_runs_as_python_with_scipys_counts(jac):
    ref = so.minimize(so.rosen, X0, jac=jac, method="BFGS")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PythonFallbackWarning)
        res = minimize(so.rosen, X0, jac=jac)
    assert (res.nit, res.nfev, res.njev, res.status) == (ref.nit, ref.nfev, ref.njev, ref.status)
    np.testing.assert_allclose(res.x, ref.x, rtol=1e-6)


@njit
def rosen_nb(x):
    return np.sum(100.0 * (x[1:] - x[:-1] ** 2.0) ** 2.0 + (1 - x[:-1]) ** 2.0)


@pytest.mark.parametrize("jac", [None, "2-point", "3-point"])
@pytest.mark.parametrize("x0", [[-1.2, 1.0, -1.2, 1.0], [0.0, 0.0, 0.0, 0.0], [2.0, 2.0, 2.0, 2.0]])
def test_finite_differences_take_scipys_steps(jac, x0):
    """scipy's approx_derivative: absolute steps for jac=None, relative for the named ones."""
    ref = so.minimize(rosen_nb.py_func, np.array(x0), jac=jac, method="BFGS")
    res = minimize(rosen_nb, np.array(x0), jac=jac)
    assert (res.nit, res.nfev, res.njev) == (ref.nit, ref.nfev, ref.njev)


class Practitioner:
    """The shape of the question in shared/context: ``fmin_bfgs(self.cost_arr, ...,
    fprime=self.gradient_descent_arr, args=..., callback=self.callback_fmin_bfgs,
    retall=True)``."""

    def __init__(self, X, y):
        self.X, self.y, self.seen = X, y, []

    def cost_arr(self, theta, lam):
        z = self.X @ theta
        return np.sum(np.logaddexp(0, z) - self.y * z) + lam * theta @ theta

    def gradient_descent_arr(self, theta, lam):
        h = 1 / (1 + np.exp(-(self.X @ theta)))
        return self.X.T @ (h - self.y) + 2 * lam * theta

    def callback_fmin_bfgs(self, xk):
        self.seen.append(xk.copy())


def _data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 3))
    y = (X @ [1.0, -2.0, 0.5] + rng.normal(size=100) > 0).astype(float)
    return X, y


def test_fmin_bfgs_with_bound_methods_callback_and_retall_matches_scipy():
    X, y = _data()
    mine, theirs = Practitioner(X, y), Practitioner(X, y)
    kw = dict(args=(0.1,), maxiter=50, retall=True, full_output=True, disp=False)
    ref = so.fmin_bfgs(
        theirs.cost_arr, np.zeros(3), fprime=theirs.gradient_descent_arr,
        callback=theirs.callback_fmin_bfgs, **kw,
    )  # fmt: skip
    with pytest.warns(PythonFallbackWarning):
        out = fmin_bfgs(
            mine.cost_arr, np.zeros(3), fprime=mine.gradient_descent_arr,
            callback=mine.callback_fmin_bfgs, **kw,
        )  # fmt: skip
    assert len(out) == len(ref) == 8
    xopt, fopt, gopt, Bopt, func_calls, grad_calls, warnflag, allvecs = out
    assert (func_calls, grad_calls, warnflag) == ref[4:7]
    np.testing.assert_allclose(xopt, ref[0], rtol=1e-10)
    assert fopt == pytest.approx(ref[1], rel=1e-13)
    np.testing.assert_allclose(gopt, ref[2], atol=1e-9)
    np.testing.assert_allclose(Bopt, ref[3], rtol=1e-8)
    assert len(allvecs) == len(ref[7]) and len(mine.seen) == len(theirs.seen)
    np.testing.assert_allclose(np.array(mine.seen), np.array(theirs.seen), rtol=1e-10)
    np.testing.assert_allclose(np.array(allvecs), np.array(ref[7]), rtol=1e-10)


def test_fmin_bfgs_return_shapes_follow_scipy():
    f, g = so.rosen, so.rosen_der
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PythonFallbackWarning)
        x = fmin_bfgs(f, X0, g, disp=False)
        x2, allvecs = fmin_bfgs(f, X0, g, disp=False, retall=True)
        full = fmin_bfgs(f, X0, g, disp=False, full_output=True)
    ref = so.fmin_bfgs(f, X0, g, disp=False, full_output=True)
    ref_x, ref_allvecs = so.fmin_bfgs(f, X0, g, disp=False, retall=True)
    assert x.shape == (4,) and len(full) == 7 and full[4:] == ref[4:]
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_allclose(x, ref_x, rtol=1e-8)
    assert len(allvecs) == len(ref_allvecs)


def test_fmin_bfgs_prints_scipys_summary(capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PythonFallbackWarning)
        fmin_bfgs(so.rosen, X0, so.rosen_der)
    mine = capsys.readouterr().out
    so.fmin_bfgs(so.rosen, X0, so.rosen_der)
    assert mine == capsys.readouterr().out


@pytest.mark.parametrize("form", ["xk", "intermediate_result"])
def test_minimize_callback_forms_and_stop_iteration_as_scipy(form):
    def make(log):
        if form == "xk":

            def callback(xk):
                log.append(xk.copy())
                if sp.expit(-so.rosen(xk)) > 0.01:  # rosen(xk) < about 4.6
                    raise StopIteration

        else:

            def callback(intermediate_result):
                log.append(intermediate_result.x.copy())
                if intermediate_result.fun < 4.6:
                    raise StopIteration

        return callback

    mine, theirs = [], []
    ref = so.minimize(so.rosen, X0, jac=so.rosen_der, method="BFGS", callback=make(theirs))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PythonFallbackWarning)
        res = minimize(so.rosen, X0, jac=so.rosen_der, callback=make(mine))
    assert (res.status, res.success, res.message) == (99, False, ref.message)
    assert (res.nit, res.nfev, res.njev) == (ref.nit, ref.nfev, ref.njev)
    np.testing.assert_allclose(np.array(mine), np.array(theirs), rtol=1e-12)


def test_a_callback_on_a_compiled_objective_sees_every_iterate():
    seen = []
    res = minimize(rosen_nb, X0, callback=seen.append, options={"return_all": True})
    ref = so.minimize(rosen_nb.py_func, X0, method="BFGS")
    assert res.nit == ref.nit == len(seen)
    np.testing.assert_array_equal(np.array(res.allvecs[1:]), np.array(seen))


def test_errors_in_objectives_propagate():
    def fails(x):
        if x[0] > 0:
            raise KeyError("oops")
        return so.rosen(x)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PythonFallbackWarning)
        with pytest.raises(KeyError, match="oops"):
            minimize(fails, X0)


# --- odeint ----------------------------------------------------------------------------------

T_GRID = np.linspace(0.0, 1.0, 1001)
TORQUE = np.vstack([0.4 * np.sin(6 * T_GRID), 0.2 * np.cos(4 * T_GRID)])
A1, A2, A3 = 0.025 + 0.045 + 1.0 * 0.3**2, 1.0 * 0.3 * 0.16, 0.045
B_DAMP = np.array([[0.05, 0.025], [0.025, 0.05]])


def joint_angles(y, t, torque_array, B):
    """The practitioner's right-hand side, odeint's order: np.interp and a matrix inverse."""
    tau = np.array([np.interp(t, T_GRID, torque_array[0]), np.interp(t, T_GRID, torque_array[1])])
    c, s = np.cos(y[1]), np.sin(y[1])
    M = np.array([[A1 + 2 * A2 * c, A3 + A2 * c], [A3 + A2 * c, A3]])
    C = A2 * s * np.array([-y[3] * (2 * y[2] + y[3]), y[2] ** 2])
    qdd = np.linalg.inv(M) @ (tau - C - B @ y[2:4])
    return np.array([y[2], y[3], qdd[0], qdd[1]])


INITIAL = np.array([10 * np.pi / 180, 143.54 * np.pi / 180, 0.0, 0.0])


def test_odeint_on_the_practitioners_arm_matches_scipy():
    ref = si.odeint(joint_angles, INITIAL, T_GRID, args=(TORQUE, B_DAMP))
    y, info = odeint(joint_angles, INITIAL, T_GRID, args=(TORQUE, B_DAMP), full_output=True)
    assert y.shape == ref.shape == (1001, 4)
    # both within 2e-6 of the truth (a tight solve): LSODA 5e-7 from it, RK45 1e-6
    truth = si.solve_ivp(
        lambda t, y: joint_angles(y, t, TORQUE, B_DAMP), (0, 1), INITIAL, method="DOP853",
        t_eval=T_GRID, rtol=1e-13, atol=1e-14,
    ).y.T  # fmt: skip
    assert np.abs(ref - truth).max() < 2e-6 and np.abs(y - truth).max() < 2e-6
    # the same function as plain Python (a functools.partial, which Numba does not take) gives
    # scipy's own RK45 steps: its values and evaluation count
    plain = functools.partial(joint_angles, torque_array=TORQUE, B=B_DAMP)
    with pytest.warns(PythonFallbackWarning):
        y, info = odeint(plain, INITIAL, T_GRID, full_output=True)
    ivp = si.solve_ivp(
        lambda t, y: plain(y, t), (0, 1), INITIAL, method="RK45", t_eval=T_GRID[1:],
        rtol=1.49012e-8, atol=1.49012e-8,
    )  # fmt: skip
    np.testing.assert_allclose(y[1:].T, ivp.y, rtol=1e-12, atol=1e-14)
    assert info["nfe"][-1] == ivp.nfev and info["message"] == "Integration successful."
    for key in ("nst", "nfe", "hu", "tcur"):
        assert info[key].shape == (1000,)
    assert np.all(np.diff(info["nst"]) >= 0) and np.all(info["tcur"] >= T_GRID[1:])
    assert np.all(info["tcur"] - info["hu"] < T_GRID[1:])  # the step that reached each time


def test_odeint_plain_python_tfirst_and_backward():
    def decay(y, t):
        return -sp.expit(y) * y

    t = np.linspace(0, 4, 9)
    with pytest.warns(PythonFallbackWarning, match="decay"):
        y = odeint(decay, [1.0, 2.0], t)
    np.testing.assert_allclose(y, si.odeint(decay, [1.0, 2.0], t), rtol=1e-6)
    back = odeint(lambda t, y: -y, [1.0], t[::-1], tfirst=True)
    np.testing.assert_allclose(back[:, 0], np.exp(4.0 - t[::-1]), rtol=1e-6)
    assert odeint(lambda y, t: -y, [3.0], [0.0]).tolist() == [[3.0]]


def test_odeint_failure_warns_and_leaves_nan():
    def blows_up(y, t):
        return y**2

    with pytest.warns(ODEintWarning):
        y = odeint(blows_up, [1.0], [0.0, 0.5, 2.0])
    assert y[1, 0] == pytest.approx(2.0, rel=1e-6) and np.isnan(y[2, 0])


# --- compiled models declare what they read ---------------------------------------------------


def test_arm_rhs_refuses_wrong_state_params_and_raw_table():
    from workbench.integrate import solve_ivp_batch
    from workbench.interpolate import pack_table
    from workbench.models.arm import ARM_RHS, param_vector

    p = param_vector(0.025, 0.045, 1.0, 0.3, 0.16, B_DAMP)
    packed = pack_table(T_GRID, TORQUE)
    y5 = np.append(INITIAL, 0.0)
    with pytest.raises(ValueError, match=r"5 values .*`y0` has 4"):
        solve_ivp(ARM_RHS, (0, 1), INITIAL, args=(p, packed))
    with pytest.raises(ValueError, match=r"shape \(2, 1001\).*pack_table"):
        solve_ivp(ARM_RHS, (0, 1), y5, args=(p, TORQUE))
    with pytest.raises(ValueError, match=r"p of length 7.*shape \(6,\)"):
        solve_ivp(ARM_RHS, (0, 1), y5, args=(p[:6], packed))
    with pytest.raises(ValueError, match=r"5 values .*has 4"):
        solve_ivp_batch(
            ARM_RHS, (0, 1), np.tile(INITIAL, (3, 1)), t_eval=[0.5], params=np.tile(p, (3, 1)),
            args=(packed,), target="cpu",
        )  # fmt: skip
    # given what it declares, it runs: scipy with the numpy form of the same arm agrees
    from workbench.models.reference import arm_rhs_interp

    res = solve_ivp(ARM_RHS, (0, 1), y5, args=(p, packed), rtol=1e-8, atol=1e-10)
    ref = si.solve_ivp(arm_rhs_interp, (0, 1), y5, args=(T_GRID, TORQUE, p), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res.y[:, -1], ref.y[:, -1], rtol=1e-6, atol=1e-8)


def test_logistic_objective_refuses_data_it_cannot_read():
    from workbench.models.logistic import LOGISTIC, pack_data

    X, y = _data()
    data = pack_data(X, y, 0.0, 0)
    with pytest.raises(ValueError, match="pack_data"):
        minimize(LOGISTIC, np.zeros(3), args=(np.empty(0), X.ravel()))
    with pytest.raises(ValueError, match="3 weights; got 4"):
        minimize(LOGISTIC, np.zeros(4), args=(np.empty(0), data))


# --- compile feedback -------------------------------------------------------------------------


def test_compiling_is_logged_at_info_and_never_printed(caplog, capsys):
    @njit
    def fresh(t, y):
        return -2.0 * y

    with caplog.at_level(logging.INFO, logger="workbench"):
        res = solve_ivp(fresh, (0, 1), [1.0])
    ref = si.solve_ivp(fresh.py_func, (0, 1), [1.0])
    assert res.nfev == ref.nfev and res.y[0, -1] == pytest.approx(ref.y[0, -1], rel=1e-12)
    assert any("compiling" in r.getMessage() for r in caplog.records)
    assert capsys.readouterr().out == ""


def test_batch_apis_say_why_a_function_cannot_run_compiled():
    from workbench.integrate import solve_ivp_batch
    from workbench.optimize import minimize_bfgs_batch

    def rhs(t, y, dydt, p):
        dydt[:] = -sp.expit(y)

    class Model:
        def f(self, x, g):
            g[:] = 2 * x
            return x @ x

    with pytest.raises(ValueError, match=r"solve_ivp_batch .*expit.*solve_ivp per member"):
        solve_ivp_batch(rhs, (0, 1), np.ones((3, 2)), t_eval=[1.0], target="cpu")
    with pytest.raises(ValueError, match=r"minimize_bfgs_batch .*Model\.f.*minimize"):
        minimize_bfgs_batch(Model().f, np.ones((3, 2)), target="cpu")


def test_cli_says_compiling_while_numba_compiles(monkeypatch):
    """In the progress bar's description when there is one, else as a status line; restored
    when the compilation ends. A cache load says nothing (only compilations send the event)."""
    import io

    from rich.console import Console
    from rich.progress import Progress

    from workbench import cli
    from workbench._numba import COMPILE_WATCH

    bar = Progress(console=Console(file=io.StringIO(), force_terminal=True))
    bar.add_task("running", total=None)
    seen = []

    def record(name):
        seen.append((name, bar.tasks[0].description))

    with bar, cli._compile_status(bar, True), COMPILE_WATCH.hook(record, lambda: None):

        @njit
        def fresh_for_the_bar(x):
            return x + 1.0

        assert fresh_for_the_bar(1.0) == 2.0
    assert [(name.rsplit(".", 1)[-1], text) for name, text in seen] == [
        ("fresh_for_the_bar", cli.COMPILING)
    ]
    assert bar.tasks[0].description == "running"

    screen = io.StringIO()
    monkeypatch.setattr(cli, "out", Console(file=screen, force_terminal=True))
    with cli._compile_status(None, True):

        @njit
        def fresh_for_the_status(x):
            return x - 1.0

        assert fresh_for_the_status(1.0) == 0.0
    assert cli.COMPILING in screen.getvalue()
