"""The optimizers' update formulas in plain numpy: the reference for tests and ``compare``.

Written the straightforward way, whole arrays at a time with temporaries, independently of the
fused kernels. The constructors take the same arguments as :class:`workbench.optim.RMSprop`,
:class:`~workbench.optim.SGD`, :class:`~workbench.optim.Adam` and
:class:`~workbench.optim.Adagrad` (``target`` is accepted and ignored); ``step(grads)``
updates the parameter arrays in place. Python-float hyperparameters combine with float32
arrays in float32 (numpy's rules), so float32 runs stay float32 as the kernels do
(hyperparameters are stored as Python floats for that reason).

:class:`NumpyChain` puts gradient transforms in front of one of them, as
:func:`workbench.optim.chain` does for the fused optimizers.
"""

from __future__ import annotations

import numpy as np

__all__ = ["NumpyAdagrad", "NumpyAdam", "NumpyChain", "NumpyRMSprop", "NumpySGD"]


class _NumpyOptimizer:
    def __init__(self, params):
        self.params = dict(params)
        self.state = {name: {} for name in self.params}
        self.step_count = 0

    def _grad(self, name, grads):
        return np.asarray(grads[name], dtype=self.params[name].dtype)

    def step(self, grads) -> None:
        self.step_count += 1
        for name, p in self.params.items():
            p[...] = self._updated(name, p, self._grad(name, grads), self.state[name])

    def _updated(self, name, p, g, state):
        raise NotImplementedError


class NumpyRMSprop(_NumpyOptimizer):
    """RMSprop: Theano's ``p - lr*g/sqrt(acc + eps)`` by default, PyTorch's
    ``p - lr*g/(sqrt(acc) + eps)`` with ``eps_in_sqrt=False``; centered, momentum and weight
    decay as ``torch.optim.RMSprop``."""

    def __init__(
        self,
        params,
        lr=1e-3,
        rho=0.9,
        eps=1e-6,
        eps_in_sqrt=True,
        centered=False,
        momentum=0.0,
        weight_decay=0.0,
        target=None,
    ):
        super().__init__(params)
        self.lr, self.rho, self.eps = float(lr), float(rho), float(eps)
        self.eps_in_sqrt, self.centered = bool(eps_in_sqrt), bool(centered)
        self.momentum, self.weight_decay = float(momentum), float(weight_decay)

    def _updated(self, name, p, g, state):
        rho = self.rho
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        acc = state.get("square_avg", np.zeros_like(p))
        acc = rho * acc + (1 - rho) * g**2
        state["square_avg"] = acc
        if self.centered:
            gavg = state.get("grad_avg", np.zeros_like(p))
            gavg = rho * gavg + (1 - rho) * g
            state["grad_avg"] = gavg
            var = acc - gavg**2
        else:
            var = acc
        if self.eps_in_sqrt:
            denom = np.sqrt(var + self.eps)
        else:
            denom = np.sqrt(var) + self.eps
        if self.momentum > 0:
            buf = state.get("momentum_buffer", np.zeros_like(p))
            buf = self.momentum * buf + g / denom
            state["momentum_buffer"] = buf
            return p - self.lr * buf
        return p - self.lr * g / denom


class NumpySGD(_NumpyOptimizer):
    """SGD with momentum, dampening, Nesterov momentum and weight decay, as
    ``torch.optim.SGD``."""

    def __init__(
        self,
        params,
        lr,
        momentum=0.0,
        dampening=0.0,
        nesterov=False,
        weight_decay=0.0,
        target=None,
    ):
        super().__init__(params)
        self.lr, self.momentum, self.dampening = float(lr), float(momentum), float(dampening)
        self.nesterov, self.weight_decay = bool(nesterov), float(weight_decay)

    def _updated(self, name, p, g, state):
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        if self.momentum != 0:
            if "momentum_buffer" not in state:
                buf = g.copy()
            else:
                buf = self.momentum * state["momentum_buffer"] + (1 - self.dampening) * g
            state["momentum_buffer"] = buf
            g = g + self.momentum * buf if self.nesterov else buf
        return p - self.lr * g


class NumpyAdam(_NumpyOptimizer):
    """Adam (with L2 weight decay and optional AMSGrad), textbook form: bias-corrected moments
    ``m_hat = m/(1 - beta1**t)``, ``v_hat = v/(1 - beta2**t)``, ``p - lr*m_hat/(sqrt(v_hat)
    + eps)``."""

    def __init__(
        self,
        params,
        lr=1e-3,
        betas=(0.9, 0.999),
        eps=1e-8,
        weight_decay=0.0,
        amsgrad=False,
        target=None,
    ):
        super().__init__(params)
        self.lr, self.betas, self.eps = float(lr), tuple(float(b) for b in betas), float(eps)
        self.weight_decay, self.amsgrad = float(weight_decay), bool(amsgrad)

    def _updated(self, name, p, g, state):
        beta1, beta2 = self.betas
        t = self.step_count
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        m = beta1 * state.get("exp_avg", np.zeros_like(p)) + (1 - beta1) * g
        v = beta2 * state.get("exp_avg_sq", np.zeros_like(p)) + (1 - beta2) * g**2
        state["exp_avg"], state["exp_avg_sq"] = m, v
        if self.amsgrad:
            v = np.maximum(state.get("max_exp_avg_sq", np.zeros_like(p)), v)
            state["max_exp_avg_sq"] = v
        m_hat = m / (1 - beta1**t)
        v_hat = v / (1 - beta2**t)
        return p - self.lr * m_hat / (np.sqrt(v_hat) + self.eps)


class NumpyAdagrad(_NumpyOptimizer):
    """Adagrad, as ``torch.optim.Adagrad``: at step t, ``clr = lr/(1 + (t - 1)*lr_decay)``,
    ``sum += g**2`` (``sum`` starts at ``initial_accumulator_value``),
    ``p - clr*g/(sqrt(sum) + eps)``, with L2 weight decay."""

    def __init__(
        self,
        params,
        lr=1e-2,
        lr_decay=0.0,
        weight_decay=0.0,
        initial_accumulator_value=0.0,
        eps=1e-10,
        target=None,
    ):
        super().__init__(params)
        self.lr, self.lr_decay, self.weight_decay = float(lr), float(lr_decay), float(weight_decay)
        self.initial_accumulator_value, self.eps = float(initial_accumulator_value), float(eps)

    def _updated(self, name, p, g, state):
        t = self.step_count
        if self.weight_decay != 0:
            g = g + self.weight_decay * p
        clr = self.lr / (1 + (t - 1) * self.lr_decay)
        s = state.get("sum", np.full_like(p, self.initial_accumulator_value))
        s = s + g**2
        state["sum"] = s
        return p - clr * g / (np.sqrt(s) + self.eps)


class NumpyChain:
    """Gradient transforms applied in numpy, in order, before a reference optimizer.

    A transform is anything with the keys of a ``train`` config's ``transforms`` entries as
    attributes: ``kind`` (``scale``, ``clip_value`` or ``clip_norm``), ``params`` (the blocks
    it applies to; None: all) and ``factor``, ``limit`` or ``max_norm`` and ``per_block``."""

    def __init__(self, transforms, optimizer):
        self.transforms, self.optimizer = transforms, optimizer

    def step(self, grads: dict) -> None:
        """Apply the transforms to copies of the gradients, in order, then step the optimizer.

        Parameters
        ----------
        grads : dict of str to ndarray
            The gradient per parameter block, shaped like the parameters (left unchanged).

        Returns
        -------
        None
        """
        grads = {k: np.array(v) for k, v in grads.items()}
        for t in self.transforms:
            names = t.params if t.params is not None else list(grads)
            if t.kind == "scale":
                for k in names:
                    grads[k] = grads[k] * t.factor
            elif t.kind == "clip_value":
                for k in names:
                    grads[k] = np.clip(grads[k], -t.limit, t.limit)
            else:
                groups = [[k] for k in names] if t.per_block else [names]
                for group in groups:
                    norm = np.sqrt(sum(float(np.sum(grads[k] ** 2)) for k in group))
                    if norm > t.max_norm:
                        for k in group:
                            grads[k] = grads[k] * (t.max_norm / (norm + 1e-6))
        self.optimizer.step(grads)
