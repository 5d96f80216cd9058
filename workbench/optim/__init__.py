"""Fused optimizer updates with persistent state, on CPU cores or an NVIDIA GPU.

```python
from workbench.optim import RMSprop, chain, scale

params = {"W": W, "U": U, "b": b}              # float32 or float64 numpy arrays, updated in place
opt = RMSprop(params, lr=1e-3, rho=0.9)        # Theano's form: p -= lr*g/sqrt(acc + eps)
for batch in batches:
    opt.step(grads_of(params, batch))          # a mapping name -> gradient array
snapshot = opt.state_dict()                    # resume later with load_state_dict(snapshot)
```

* :class:`RMSprop` (Theano's and PyTorch's forms, centered, momentum, weight decay),
  :class:`SGD` (momentum, dampening, Nesterov, weight decay), :class:`Adam` (weight decay,
  AMSGrad) and :class:`Adagrad` (learning-rate decay, weight decay), with torch.optim's
  formulas, each made from its update rule in :mod:`workbench.optim.registry`
  (:func:`optimizer_class` finds one by kind);
* gradient transforms per block, :func:`scale`, :func:`clip_value`, :func:`clip_norm`, put in
  front of an optimizer with :func:`chain`;
* :mod:`workbench.optim.reference`: the same updates in plain numpy.

Targets: ``auto`` (cpu or parallel by block size), ``cpu``, ``parallel``, ``cuda`` (only when
asked; parameters and state stay on the GPU between steps).
"""

from .optimizers import PARALLEL_MIN_SIZE, SGD, Adagrad, Adam, Optimizer, RMSprop, optimizer_class
from .registry import RULES, UnknownOptimizer, UpdateRule
from .transforms import (
    Chain,
    ClipNorm,
    ClipValue,
    Scale,
    Transform,
    chain,
    clip_norm,
    clip_value,
    scale,
)

__all__ = [
    "PARALLEL_MIN_SIZE",
    "RULES",
    "SGD",
    "Adagrad",
    "Adam",
    "Chain",
    "ClipNorm",
    "ClipValue",
    "Optimizer",
    "RMSprop",
    "Scale",
    "Transform",
    "UnknownOptimizer",
    "UpdateRule",
    "chain",
    "clip_norm",
    "clip_value",
    "optimizer_class",
    "scale",
]
