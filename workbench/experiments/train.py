"""Training with the fused optimizers of :mod:`workbench.optim`.

Two families of problems share one config kind (``experiment: train``):

* models fitted to data by minibatches: softmax regression and a multilayer perceptron
  (``model.kind: softmax | mlp``) on the 8x8 digits, seeded synthetic sets or the user's
  CSV/``.npz``, with a held-out split, loss and accuracy per epoch;
* test functions for optimizer studies (``model.kind: rosenbrock | saddle``), stepped with
  exact gradients; the saddle is solved by descent in ``x`` and ascent in ``y`` through a
  ``scale`` transform of -1 on ``y``.

``optimizers:`` (a list) trains the same problem from the same start with several optimizers
(RMSprop vs SGD vs Adam vs Adagrad: one config section per update rule of
:mod:`workbench.optim.registry`, made from its options). The reference for ``compare`` is the
same model and update written out in plain numpy
(:func:`workbench.models.reference.net_loss_and_grad`, the rule's class of
:mod:`workbench.optim.reference`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Literal, Union

import numpy as np
from pydantic import Field, create_model, model_validator

from ..optim.reference import NumpyChain
from ..optim.registry import REQUIRED, RULES, rule
from ..runs import OPTIMIZER_FILE
from .base import (
    MAX_SAMPLES,
    MAX_STEPS,
    MAX_WIDTH,
    Comparison,
    ComparisonRow,
    Experiment,
    ExperimentConfig,
    Outcome,
    ProblemError,
    Section,
    check_memory,
)

# ---------------------------------------------------------------------------------- schema


class _Data(Section):
    holdout: float = Field(0.2, ge=0, lt=1, description="fraction held out for evaluation")
    standardize: bool = Field(True, description="scale features by training-set statistics")


class DigitsData(_Data):
    """The 8x8 handwritten digits (1797 images, 10 classes; UCI, CC BY 4.0)."""

    kind: Literal["digits"]


class BlobsData(_Data):
    """The ``data:`` section with ``kind: blobs``: seeded Gaussian clusters, one per class
    (:func:`workbench.data.datasets.blobs`).

    Attributes
    ----------
    kind : {"blobs"}
        Selects this form.
    samples : int
        Number of samples, split as evenly as possible between the classes.
    classes : int
        Number of clusters.
    features : int
        Dimensions of each sample.
    spread : float
        Standard deviation of each cluster.
    holdout : float
        Fraction of the samples held out for evaluation, drawn at random (seeded by ``seed``).
    standardize : bool
        Scale the features by the training part's mean and standard deviation.
    """

    kind: Literal["blobs"]
    samples: int = Field(600, ge=4, le=MAX_SAMPLES)
    classes: int = Field(3, ge=2, le=MAX_WIDTH)
    features: int = Field(2, ge=1, le=MAX_WIDTH)
    spread: float = Field(1.0, gt=0)


class MoonsData(_Data):
    """The ``data:`` section with ``kind: moons``: two interleaved half circles in the plane
    (:func:`workbench.data.datasets.moons`).

    Attributes
    ----------
    kind : {"moons"}
        Selects this form.
    samples : int
        Number of samples.
    noise : float
        Standard deviation of the Gaussian noise added to both coordinates.
    holdout : float
        Fraction of the samples held out for evaluation, drawn at random (seeded by ``seed``).
    standardize : bool
        Scale the features by the training part's mean and standard deviation.
    """

    kind: Literal["moons"]
    samples: int = Field(600, ge=4, le=MAX_SAMPLES)
    noise: float = Field(0.1, ge=0)


class SpiralsData(_Data):
    """The ``data:`` section with ``kind: spirals``: interleaved spiral arms in the plane, one per
    class (:func:`workbench.data.datasets.spirals`).

    Attributes
    ----------
    kind : {"spirals"}
        Selects this form.
    samples : int
        Number of samples, split as evenly as possible between the classes.
    classes : int
        Number of arms.
    noise : float
        Standard deviation of the noise on each point's angle, in radians.
    holdout : float
        Fraction of the samples held out for evaluation, drawn at random (seeded by ``seed``).
    standardize : bool
        Scale the features by the training part's mean and standard deviation.
    """

    kind: Literal["spirals"]
    samples: int = Field(600, ge=4, le=MAX_SAMPLES)
    classes: int = Field(3, ge=2, le=MAX_WIDTH)
    noise: float = Field(0.2, ge=0)


class FileData(_Data):
    """The ``data:`` section with ``kind: csv`` or ``npz``: the user's labelled data
    (:func:`workbench.data.datasets.from_file`).

    Attributes
    ----------
    kind : {"csv", "npz"}
        The file's format.
    path : str
        The file; a relative path that does not exist as given is looked up in the config
        file's folder.
    label : str
        The CSV's label column (non-negative integers); the other columns are the features.
    holdout : float
        Fraction of the samples held out for evaluation, drawn at random (seeded by ``seed``).
    standardize : bool
        Scale the features by the training part's mean and standard deviation.
    """

    kind: Literal["csv", "npz"]
    path: str
    label: str = Field("label", description="label column (csv)")


Data = Annotated[
    DigitsData | BlobsData | MoonsData | SpiralsData | FileData, Field(discriminator="kind")
]


class MLPModel(Section):
    """The ``model:`` section with ``kind: mlp``: a multilayer perceptron with a softmax output
    (:mod:`workbench.models.nets`).

    Attributes
    ----------
    kind : {"mlp"}
        Selects this form.
    hidden : list of int
        The width of each hidden layer, input side first.
    activation : {"relu", "tanh"}
        The hidden layers' activation.
    dropout_input, dropout_hidden : float
        Probability that an input, or a hidden unit's output, is dropped in training
        (inverted dropout; 0: none).
    grl_lambda : float or None
        A gradient-reversal layer after hidden layer ``grl_layer``: the identity forward, the
        gradient multiplied by ``-grl_lambda`` backward (None: none).
    grl_layer : int
        The hidden layer (from 0) the gradient-reversal layer follows.
    l2 : float
        The penalty ``l2/2`` times the squared weights (not the biases).
    """

    kind: Literal["mlp"]
    hidden: list[Annotated[int, Field(ge=1, le=MAX_WIDTH)]] = Field(default_factory=lambda: [64])
    activation: Literal["relu", "tanh"] = "relu"
    dropout_input: float = Field(0.0, ge=0, lt=1)
    dropout_hidden: float = Field(0.0, ge=0, lt=1)
    grl_lambda: float | None = Field(
        None, description="gradient-reversal layer after hidden layer `grl_layer` (None: off)"
    )
    grl_layer: int = Field(0, ge=0)
    l2: float = Field(0.0, ge=0)

    @model_validator(mode="after")
    def _grl_inside(self):
        if self.grl_lambda is not None and self.grl_layer >= len(self.hidden):
            raise ValueError(
                f"grl_layer must index a hidden layer (0..{len(self.hidden) - 1}), "
                f"got {self.grl_layer}"
            )
        return self


class SoftmaxModel(Section):
    """The ``model:`` section with ``kind: softmax``: multinomial logistic regression.

    Attributes
    ----------
    kind : {"softmax"}
        Selects this form.
    l2 : float
        The penalty ``l2/2`` times the squared weights (not the biases).
    """

    kind: Literal["softmax"]
    l2: float = Field(0.0, ge=0)


class RosenbrockModel(Section):
    """The ``model:`` section with ``kind: rosenbrock``: Rosenbrock's function in n >= 2
    dimensions, minimum 0 at all ones (no data).

    Attributes
    ----------
    kind : {"rosenbrock"}
        Selects this form.
    start : list of float
        The starting point (n values; default ``[-1.2, 1.0]``).
    """

    kind: Literal["rosenbrock"]
    start: list[float] = Field(default_factory=lambda: [-1.2, 1.0], min_length=2)


class SaddleModel(Section):
    """``f(x, y) = x^T A x / 2 + x^T C y - y^T D y / 2`` (A, D positive definite, seeded)."""

    kind: Literal["saddle"]
    nx: int = Field(2, ge=1, le=MAX_WIDTH)
    ny: int = Field(2, ge=1, le=MAX_WIDTH)


Model = Annotated[
    MLPModel | SoftmaxModel | RosenbrockModel | SaddleModel, Field(discriminator="kind")
]
DATA_MODELS = ("mlp", "softmax")


def _optimizer_section(rule) -> type[Section]:
    """The config section of an update rule of :mod:`workbench.optim.registry`: ``kind`` and
    its options (those ``in_config``), with their config defaults and bounds."""
    fields: dict = {"kind": (Literal[rule.kind], ...)}
    for o in rule.options:
        if not o.in_config:
            continue
        default = o.default if o.config_default is REQUIRED else o.config_default
        if o.type == "pair":
            number = Annotated[float, Field(**o.config)]
            fields[o.name] = (tuple[number, number], default)
        elif o.type is bool:
            fields[o.name] = (bool, Field(default, description=o.description))
        else:
            fields[o.name] = (float, Field(default, description=o.description, **o.config))
    name = f"{rule.title}Optimizer"
    return create_model(name, __base__=Section, __module__=__name__, **fields)


#: The config section of each registered optimizer, by kind (``optimizer: {kind: ...}``).
OPTIMIZER_SECTIONS: dict[str, type[Section]] = {
    kind: _optimizer_section(rule) for kind, rule in RULES.items()
}
RMSpropOptimizer = OPTIMIZER_SECTIONS["rmsprop"]
SGDOptimizer = OPTIMIZER_SECTIONS["sgd"]
AdamOptimizer = OPTIMIZER_SECTIONS["adam"]
AdagradOptimizer = OPTIMIZER_SECTIONS["adagrad"]

Optimizer = Annotated[Union[tuple(OPTIMIZER_SECTIONS.values())], Field(discriminator="kind")]  # noqa: UP007


class ScaleTransform(Section):
    """A ``transforms:`` entry with ``kind: scale``: gradients multiplied by a factor
    (:func:`workbench.optim.scale`).

    Attributes
    ----------
    kind : {"scale"}
        Selects this form.
    factor : float
        The multiplier; -1 turns descent into ascent for those blocks (the saddle's ``y``).
    params : list of str or None
        The parameter blocks it applies to (None: all).
    """

    kind: Literal["scale"]
    factor: float = Field(allow_inf_nan=False)
    params: list[str] | None = Field(None, description="parameter blocks (None: all)")


class ClipValueTransform(Section):
    """A ``transforms:`` entry with ``kind: clip_value``: each gradient element clipped to
    ``[-limit, limit]`` (:func:`workbench.optim.clip_value`).

    Attributes
    ----------
    kind : {"clip_value"}
        Selects this form.
    limit : float
        The bound (> 0).
    params : list of str or None
        The parameter blocks it applies to (None: all).
    """

    kind: Literal["clip_value"]
    limit: float = Field(gt=0)
    params: list[str] | None = None


class ClipNormTransform(Section):
    """A ``transforms:`` entry with ``kind: clip_norm``: gradients rescaled so that their L2 norm
    is at most ``max_norm`` (:func:`workbench.optim.clip_norm`).

    Attributes
    ----------
    kind : {"clip_norm"}
        Selects this form.
    max_norm : float
        The largest norm kept (> 0).
    per_block : bool
        True: each block's own norm; false: one norm over all the selected blocks.
    params : list of str or None
        The parameter blocks it applies to (None: all).
    """

    kind: Literal["clip_norm"]
    max_norm: float = Field(gt=0)
    per_block: bool = True
    params: list[str] | None = None


Transform = Annotated[
    ScaleTransform | ClipValueTransform | ClipNormTransform, Field(discriminator="kind")
]


class Training(Section):
    """The ``training:`` section of a train experiment.

    Attributes
    ----------
    epochs : int
        Passes over the training set (data models).
    batch_size : int
        Samples per minibatch (data models).
    steps : int
        Optimizer steps (test-function models).
    dtype : {"float64", "float32"}
        The floating-point type of the parameters, gradients and data.
    """

    epochs: int = Field(
        20, ge=1, le=MAX_STEPS, description="passes over the training set (data models)"
    )
    batch_size: int = Field(64, ge=1, le=MAX_SAMPLES)
    steps: int = Field(
        2000, ge=1, le=MAX_STEPS, description="optimizer steps (test-function models)"
    )
    dtype: Literal["float64", "float32"] = "float64"


class TrainConfig(ExperimentConfig):
    """A whole train experiment file (``experiment: train``).

    Attributes
    ----------
    experiment : {"train"}
        The kind.
    data : DigitsData, BlobsData, MoonsData, SpiralsData or FileData
        The ``data:`` section, its form chosen by ``kind`` (default: the digits); read by the
        data models only.
    model : MLPModel, SoftmaxModel, RosenbrockModel or SaddleModel
        The ``model:`` section, its form chosen by ``kind`` (default: an MLP).
    optimizer : optimizer section
        The ``optimizer:`` section: ``kind`` (an update rule of
        :data:`workbench.optim.registry.RULES`) and its options (default: RMSprop).
    optimizers : list of optimizer sections, optional
        Train once per entry, each from the same start, instead of with ``optimizer``.
    transforms : list of transform sections
        Gradient transforms applied in order before each step (``scale``, ``clip_value``,
        ``clip_norm``).
    training : Training
        The ``training:`` section: epochs, batches, steps, dtype.
    name, target, seed, output
        The keys every experiment has (:class:`~workbench.experiments.base.ExperimentConfig`);
        ``seed`` seeds the generated data, the split, the starting point (weights, or the
        saddle and its start), the batches and dropout.
    """

    experiment: Literal["train"] = "train"
    data: Data = Field(default_factory=lambda: DigitsData(kind="digits"))
    model: Model = Field(default_factory=lambda: MLPModel(kind="mlp"))
    optimizer: Optimizer = Field(default_factory=lambda: RMSpropOptimizer(kind="rmsprop"))
    optimizers: Annotated[list[Optimizer], Field(min_length=1, max_length=16)] | None = Field(
        None, description="train once per optimizer (same start) instead of `optimizer`"
    )
    transforms: list[Transform] = Field(default_factory=list)
    training: Training = Field(default_factory=Training)

    def optimizer_list(self) -> list:
        """The optimizer sections to train with, in order.

        Returns
        -------
        list
            ``optimizers`` when it is given (it is never empty), else ``[optimizer]``.
        """
        return list(self.optimizers) if self.optimizers is not None else [self.optimizer]


# -------------------------------------------------------------------------------- problems


def load_data(cfg: TrainConfig, base_dir: Path | None = None):
    """(X_train, y_train, X_test, y_test, class names)."""
    from ..data import datasets
    from ..data.labeled import DataError

    d = cfg.data
    try:
        if isinstance(d, DigitsData):
            X, y, names = datasets.digits()
        elif isinstance(d, BlobsData):
            X, y, names = datasets.blobs(d.samples, d.classes, d.features, d.spread, cfg.seed)
        elif isinstance(d, MoonsData):
            X, y, names = datasets.moons(d.samples, d.noise, cfg.seed)
        elif isinstance(d, SpiralsData):
            X, y, names = datasets.spirals(d.samples, d.classes, d.noise, cfg.seed)
        else:
            path = Path(d.path)
            if not path.is_absolute() and base_dir is not None and not path.exists():
                path = base_dir / path
            X, y, names = datasets.from_file(path, label=d.label)
    except DataError as exc:
        raise ProblemError("data.path" if isinstance(d, FileData) else "data", str(exc)) from None
    Xtr, ytr, Xte, yte = datasets.split(X, y, d.holdout, cfg.seed)
    if len(ytr) == 0:
        raise ProblemError("data.holdout", "leaves no training samples")
    if d.standardize:
        Xtr, Xte = datasets.standardize(Xtr, Xte)
    return Xtr, ytr, Xte, yte, names


def build_optimizer(spec, params: dict, target: str, transforms=(), *, numpy: bool = False):
    """The optimizer of a config section over ``params``, chained with the transforms.

    ``numpy=True`` gives the plain-numpy reference (same formulas, with temporaries). The
    kind is looked up in :data:`workbench.optim.registry.RULES`: one that is not registered
    is an error (:class:`~workbench.optim.registry.UnknownOptimizer`), never a stand-in."""
    from .. import optim

    update_rule = rule(spec.kind)
    kw = spec.model_dump(exclude={"kind"})
    if numpy:
        opt = update_rule.reference(params, **kw)
        return NumpyChain(list(transforms), opt) if transforms else opt
    opt = optim.optimizer_class(update_rule.kind)(params, target=target, **kw)
    if not transforms:
        return opt
    made = []
    for t in transforms:
        if t.kind == "scale":
            made.append(optim.scale(t.factor, params=t.params))
        elif t.kind == "clip_value":
            made.append(optim.clip_value(t.limit, params=t.params))
        else:
            made.append(optim.clip_norm(t.max_norm, params=t.params, per_block=t.per_block))
    return optim.chain(made, opt)


def check(cfg: TrainConfig, base_dir: Path | None = None) -> None:
    """Refuse a run before it starts: arrays that would not fit in memory, transforms naming
    parameter blocks the model does not have, and (data models) data that cannot be loaded.

    Parameters
    ----------
    cfg : TrainConfig
        The experiment.
    base_dir : Path, optional
        The config file's folder, for a relative ``data.path``.

    Returns
    -------
    None

    Raises
    ------
    ProblemError
        On the key at fault.
    """
    _check_memory(cfg)
    names = _param_names(cfg)
    for i, t in enumerate(cfg.transforms):
        unknown = sorted(set(t.params or ()) - set(names))
        if unknown:
            raise ProblemError(
                f"transforms.{i}.params",
                f"unknown parameter block(s) {unknown}; this model has {names}",
            )
    if cfg.model.kind in DATA_MODELS:
        load_data(cfg, base_dir)


def _check_memory(cfg: TrainConfig) -> None:
    """The parameters with their gradients and optimizer state (five copies), and for the
    generated data sets the samples, estimated before anything is made (the digits and data
    files are bounded by their size)."""
    m = cfg.model
    if m.kind == "saddle":
        params = m.nx * m.nx + m.nx * m.ny + m.ny * m.ny + m.nx + m.ny
        check_memory("model", 8.0 * 5 * params, f"a saddle of {m.nx:,} x {m.ny:,}")
        return
    if m.kind not in DATA_MODELS:
        return
    d = cfg.data
    samples = getattr(d, "samples", 0)
    features = getattr(d, "features", 2 if d.kind in ("moons", "spirals") else 64)
    classes = getattr(d, "classes", 10 if d.kind in ("digits", "csv", "npz") else 2)
    widths = [features, *(m.hidden if m.kind == "mlp" else []), classes]
    params = sum((a + 1) * b for a, b in zip(widths, widths[1:], strict=False))
    activations = min(samples or 2048, cfg.training.batch_size) * sum(widths) * 4
    data = samples * (features + 1) * 3
    what = f"{params:,} parameters"
    if samples:
        what += f", {samples:,} samples of {features} features"
    key = "model" if params * 5 > data else "data.samples"
    check_memory(key, 8.0 * (5 * params + activations + data), what)


def _param_names(cfg: TrainConfig) -> list[str]:
    m = cfg.model
    if m.kind == "rosenbrock":
        return ["x"]
    if m.kind == "saddle":
        return ["x", "y"]
    layers = len(m.hidden) + 1 if m.kind == "mlp" else 1
    return [f"{w}{i}" for i in range(layers) for w in ("W", "b")]


def is_batched(cfg: TrainConfig) -> bool:
    """Whether a run is batched: never for training.

    Parameters
    ----------
    cfg : TrainConfig
        The experiment.

    Returns
    -------
    bool
        False.
    """
    return False


def long_running(cfg: TrainConfig) -> bool:
    """Whether a run reports progress: always for training (a bar over the steps).

    Parameters
    ----------
    cfg : TrainConfig
        The experiment.

    Returns
    -------
    bool
        True.
    """
    return True


# ----------------------------------------------------------------------------------- running


class DataProblem:
    """A softmax regression or MLP on a data set: one training run per call of :meth:`train`."""

    def __init__(self, cfg: TrainConfig, base_dir: Path | None = None):
        from ..data.datasets import Minibatches
        from ..models import nets

        self.cfg, self.nets = cfg, nets
        dtype = np.dtype(cfg.training.dtype)
        Xtr, ytr, Xte, yte, self.class_names = load_data(cfg, base_dir)
        self.Xtr, self.Xte = Xtr.astype(dtype), Xte.astype(dtype)
        self.ytr, self.yte = ytr, yte
        k = int(max(ytr.max(), yte.max() if len(yte) else 0)) + 1
        m = cfg.model
        hidden = list(m.hidden) if m.kind == "mlp" else []
        self.sizes = [Xtr.shape[1], *hidden, k]
        self.model_kw = dict(
            activation=m.activation if m.kind == "mlp" else "relu",
            dropout_input=m.dropout_input if m.kind == "mlp" else 0.0,
            dropout_hidden=m.dropout_hidden if m.kind == "mlp" else 0.0,
            grl_lambda=m.grl_lambda if m.kind == "mlp" else None,
            grl_layer=m.grl_layer if m.kind == "mlp" else 0,
            l2=m.l2,
        )
        self.uses_dropout = (
            self.model_kw["dropout_input"] > 0 or self.model_kw["dropout_hidden"] > 0
        )
        self.batches = Minibatches(len(ytr), cfg.training.batch_size, cfg.seed)
        self.steps_per_epoch = self.batches.batches_per_epoch
        self.total_steps = self.steps_per_epoch * cfg.training.epochs

    def initial_params(self) -> dict:
        """The model's seeded starting parameters, in ``training.dtype``.

        Returns
        -------
        dict of str to ndarray
            Glorot-uniform weights ``W<l>`` (in, out) and zero biases ``b<l>`` (out,), layer by
            layer (:func:`workbench.models.nets.init_params`).
        """
        return self.nets.init_params(self.sizes, seed=self.cfg.seed, dtype=self.cfg.training.dtype)

    def evaluate(self, params, X, y) -> tuple[float, float]:
        """The loss and accuracy of ``params`` on a data set, without dropout.

        Parameters
        ----------
        params : dict of str to ndarray
            The model's parameters.
        X : ndarray, shape (m, d)
            Features.
        y : ndarray of int, shape (m,)
            Class indices.

        Returns
        -------
        loss : float
            Mean softmax cross-entropy plus the ``l2`` penalty (NaN when ``y`` is empty).
        accuracy : float
            Fraction of samples classified correctly (NaN when ``y`` is empty).
        """
        if len(y) == 0:
            return float("nan"), float("nan")
        activation = self.model_kw["activation"]
        loss = self.nets.loss(params, X, y, activation=activation, l2=self.model_kw["l2"])
        acc = float(np.mean(self.nets.predict(params, X, activation) == y))
        return float(loss), acc

    def train(
        self, spec, target: str, progress=None, numpy: bool = False, label: str = "",
        resume=None, save=None,
    ):  # fmt: skip
        """Train from the seeded start, or from ``resume`` (a checkpoint's ``(arrays, meta)``);
        ``save(arrays, meta)`` is called after every epoch. Returns (params, optimizer,
        history dict of per-epoch arrays)."""
        cfg = self.cfg
        params = self.initial_params()
        opt = build_optimizer(spec, params, target, cfg.transforms, numpy=numpy)
        if numpy:
            from ..models.reference import net_loss_and_grad as loss_and_grad
        else:
            loss_and_grad = self.nets.loss_and_grad
        grads = None if numpy else {k: np.empty_like(v) for k, v in params.items()}
        history = {k: [] for k in ("train_loss", "test_loss", "test_accuracy", "train_accuracy")}
        batch_losses = np.empty(self.total_steps)
        step, first_epoch, bound = 0, 0, None
        if resume is not None:
            arrays, meta = resume
            _restore(params, opt, arrays, meta)
            first_epoch, step, bound = meta["epoch"], meta["step"], meta["bound"]
            history = {k: list(v) for k, v in meta["history"].items()}
            batch_losses[:step] = arrays["batch_loss"]
        last_good = {k: np.array(v) for k, v in params.items()}
        for epoch in range(first_epoch, cfg.training.epochs):
            running = 0.0
            for b, idx in enumerate(self.batches.epoch(epoch)):
                kw = dict(self.model_kw)
                if self.uses_dropout:
                    kw["rng_seed"] = _mix(cfg.seed, step)
                if numpy:
                    loss, g = loss_and_grad(params, self.Xtr[idx], self.ytr[idx], **kw)
                else:
                    loss, g = loss_and_grad(params, self.Xtr[idx], self.ytr[idx], out=grads, **kw)
                bound = divergence_bound(float(loss)) if bound is None else bound
                if not abs(float(loss)) <= bound:  # the state the loss was taken at: bad
                    for k in params:
                        params[k][...] = last_good[k]
                    out = {k: np.array(v) for k, v in history.items()}
                    out["batch_loss"] = np.append(batch_losses[:step], loss)
                    out["diverged"] = np.array([step, float(loss), bound])
                    return params, opt, out
                for k in params:  # the last state whose loss was within bounds
                    np.copyto(last_good[k], params[k])
                opt.step(g)
                if hasattr(opt, "params_to_host") and target == "cuda":
                    opt.params_to_host()
                batch_losses[step] = loss
                running += (float(loss) - running) / (b + 1)
                step += 1
                if progress is not None and (step % 10 == 0 or step == self.total_steps):
                    progress(step, self.total_steps, f"{label}epoch {epoch + 1} loss {running:.4g}")
            history["train_loss"].append(running)
            test_loss, test_acc = self.evaluate(params, self.Xte, self.yte)
            history["test_loss"].append(test_loss)
            history["test_accuracy"].append(test_acc)
            history["train_accuracy"].append(self.evaluate(params, self.Xtr, self.ytr)[1])
            if save is not None and epoch + 1 < cfg.training.epochs:
                arrays, meta = _snapshot(params, opt)
                arrays["batch_loss"] = batch_losses[:step]
                meta.update(epoch=epoch + 1, step=step, bound=bound, history=history)
                save(arrays, meta)
        out = {k: np.array(v) for k, v in history.items()}
        out["batch_loss"] = batch_losses
        return params, opt, out


def _mix(seed: int, step: int) -> int:
    """A per-step dropout seed: distinct per step, reproducible from the run's seed."""
    return int(np.random.SeedSequence([seed, step]).generate_state(1)[0])


class FunctionProblem:
    """Rosenbrock or the saddle, stepped with exact gradients."""

    def __init__(self, cfg: TrainConfig):
        from ..models import testfuncs

        self.cfg, self.tf = cfg, testfuncs
        m = cfg.model
        self.dtype = np.dtype(cfg.training.dtype)
        if m.kind == "saddle":
            self.A, self.C, self.D = testfuncs.make_saddle(m.nx, m.ny, cfg.seed)
            rng = np.random.default_rng(cfg.seed)
            self.start = {"x": rng.standard_normal(m.nx), "y": rng.standard_normal(m.ny)}
        else:
            self.start = {"x": np.array(m.start, dtype=float)}
        self.total_steps = cfg.training.steps

    def value_grad(self, params) -> tuple[float, dict]:
        """The test function's value and exact gradient at ``params``.

        Parameters
        ----------
        params : dict of str to ndarray
            ``x`` (n,), and for the saddle ``y`` (ny,).

        Returns
        -------
        value : float
            The function's value, computed in float64.
        grads : dict of str to ndarray
            The gradient per block, in ``training.dtype`` (shaped like ``params``).
        """
        if self.cfg.model.kind == "saddle":
            x = params["x"].astype(float)
            y = params["y"].astype(float)
            f, gx, gy = self.tf.saddle_value_grad(x, y, self.A, self.C, self.D)
            return float(f), {"x": gx.astype(self.dtype), "y": gy.astype(self.dtype)}
        f, g = self.tf.rosenbrock(params["x"].astype(float))
        return float(f), {"x": g.astype(self.dtype)}

    def solution(self) -> dict:
        """Where the run should end: Rosenbrock's minimum or the saddle point.

        Returns
        -------
        dict of str to ndarray
            ``x`` all ones (Rosenbrock), or ``x`` and ``y`` all zeros (the saddle).
        """
        m = self.cfg.model
        if m.kind == "saddle":
            return {"x": np.zeros(m.nx), "y": np.zeros(m.ny)}
        return {"x": np.ones(len(m.start))}

    def train(
        self, spec, target: str, progress=None, numpy: bool = False, label: str = "",
        resume=None, save=None,
    ):  # fmt: skip
        """Step from the start, or from ``resume`` (a checkpoint's ``(arrays, meta)``);
        ``save(arrays, meta)`` is called every twentieth of the run. Returns (params,
        optimizer, history)."""
        params = {k: v.astype(self.dtype) for k, v in self.start.items()}
        opt = build_optimizer(spec, params, target, self.cfg.transforms, numpy=numpy)
        sol = self.solution()
        n = self.total_steps
        values, distance = np.empty(n + 1), np.empty(n + 1)
        path = np.empty((n + 1, sum(v.size for v in params.values())))
        every = max(1, n // 20)

        def record(i):
            values[i] = self.value_grad(params)[0]
            flat = np.concatenate([params[k].ravel() for k in params]).astype(float)
            path[i] = flat
            distance[i] = np.linalg.norm(flat - np.concatenate([sol[k] for k in params]))

        record(0)
        bound = divergence_bound(values[0])
        first = 0
        if resume is not None:
            arrays, meta = resume
            _restore(params, opt, arrays, meta)
            first = meta["step"]
            for name, a in (("value", values), ("distance", distance), ("path", path)):
                a[: first + 1] = arrays[name]
        for i in range(first, n):
            _, g = self.value_grad(params)
            opt.step(g)
            if target == "cuda" and hasattr(opt, "params_to_host"):
                opt.params_to_host()
            record(i + 1)
            if not abs(values[i + 1]) <= bound:  # NaN fails too
                # keep the last state within bounds (step i), and the history to the blow-up
                at = 0
                for k in params:
                    size = params[k].size
                    params[k][...] = path[i, at : at + size].reshape(params[k].shape)
                    at += size
                history = {"value": values[: i + 2], "distance": distance[: i + 2]}
                history["path"] = path[: i + 2]
                history["diverged"] = np.array([i + 1, values[i + 1], bound])
                return params, opt, history
            if progress is not None and ((i + 1) % 100 == 0 or i + 1 == n):
                progress(i + 1, n, f"{label}f {values[i + 1]:.4g}")
            if save is not None and (i + 1) % every == 0 and i + 1 < n:
                arrays, meta = _snapshot(params, opt)
                arrays.update(value=values[: i + 2], distance=distance[: i + 2], path=path[: i + 2])
                meta["step"] = i + 1
                save(arrays, meta)
        return params, opt, {"value": values, "distance": distance, "path": path}


def _snapshot(params: dict, opt) -> tuple[dict, dict]:
    """The parameters and the optimizer state as checkpoint arrays and metadata."""
    from ..runs import state_to_arrays

    arrays, meta = state_to_arrays(opt.state_dict())
    arrays.update({f"param/{k}": np.array(v) for k, v in params.items()})
    return arrays, {"optimizer": meta}


def _restore(params: dict, opt, arrays: dict, meta: dict) -> None:
    from ..runs import state_from_arrays

    for k in params:
        params[k][...] = arrays[f"param/{k}"]
    opt.load_state_dict(state_from_arrays(arrays, meta["optimizer"]))


def make_problem(cfg: TrainConfig, base_dir: Path | None = None):
    """The problem a config trains on.

    Parameters
    ----------
    cfg : TrainConfig
        The experiment.
    base_dir : Path, optional
        The config file's folder, for a relative ``data.path``.

    Returns
    -------
    DataProblem or FunctionProblem
        A :class:`DataProblem` for ``mlp`` and ``softmax``, else a :class:`FunctionProblem`.
    """
    if cfg.model.kind in DATA_MODELS:
        return DataProblem(cfg, base_dir)
    return FunctionProblem(cfg)


def run(
    cfg: TrainConfig, target: str, progress=None, base_dir: Path | None = None, checkpoint=None
) -> Outcome:
    """Train with each configured optimizer in turn. With ``checkpoint`` (a run folder), the
    run keeps a checkpoint after every epoch (every twentieth of the steps for the test
    functions) and goes on from the last one it finds: the numbers are those of a run that
    was never stopped."""
    from ..runs import state_to_arrays

    problem = make_problem(cfg, base_dir)
    specs = cfg.optimizer_list()
    figures: dict = {}
    arrays: dict = {}
    timings: dict = {}
    optimizers: dict = {}  # the final state's scalars, per label (optimizer.json)
    status, messages, warnings = 0, [], []
    several = len(specs) > 1
    saved = checkpoint.load_checkpoint() if checkpoint is not None else None
    current, finished, done_meta = 0, {}, {}
    if saved is not None:
        current = saved[1]["spec"]
        finished = {k[5:]: v for k, v in saved[0].items() if k.startswith("done/")}
        done_meta = saved[1]["done"]
    finished_meta = dict(done_meta)
    for i, spec in enumerate(specs):
        label = f"{spec.kind}" if not several else f"{i}_{spec.kind}"
        prefix = f"{label}." if several else ""
        if i < current:  # finished before the interruption: its outputs are in the checkpoint
            history = {k[len(prefix) :]: v for k, v in finished.items() if _own(k, prefix)}
            params = {k[6:]: history.pop(k) for k in list(history) if k.startswith("param_")}
            for k in [k for k in history if k.startswith("opt/")]:
                arrays[f"{prefix}{k}"] = history.pop(k)
            optimizers[label] = finished_meta[label]["optimizer"]
            timings[f"{prefix}train_s"] = finished_meta[label]["train_s"]
        else:
            resume = None
            if i == current and saved is not None and "state" in saved[1]:
                state = {k: v for k, v in saved[0].items() if not k.startswith("done/")}
                resume = (state, saved[1]["state"])

            def save(state_arrays, state_meta, i=i, done_meta=done_meta):
                keep = {f"done/{k}": v for k, v in arrays.items()}
                keep.update(state_arrays)
                meta = {"spec": i, "state": state_meta, "done": done_meta}
                checkpoint.save_checkpoint(keep, meta)

            t0 = time.perf_counter()
            params, opt, history = problem.train(
                spec, target, progress, label=f"{label}: " if several else "", resume=resume,
                save=save if checkpoint is not None else None,
            )  # fmt: skip
            timings[f"{prefix}train_s"] = time.perf_counter() - t0
            opt_arrays, optimizers[label] = state_to_arrays(opt.state_dict())
            arrays.update({f"{prefix}{k}": v for k, v in opt_arrays.items()})
        for k, v in history.items():
            arrays[f"{prefix}{k}"] = v
        for k, v in params.items():
            arrays[f"{prefix}param_{k}"] = np.asarray(v)
        done_meta = {
            lab: {"optimizer": optimizers[lab], "train_s": timings[f"{p}train_s"]}
            for lab, p in ((lab, f"{lab}." if several else "") for lab in optimizers)
        }
        if checkpoint is not None and i + 1 < len(specs) and i >= current:
            checkpoint.save_checkpoint(
                {f"done/{k}": v for k, v in arrays.items()}, {"spec": i + 1, "done": done_meta}
            )
        figs, ok, msg = _figures(problem, history)
        for k, v in figs.items():
            figures[f"{prefix}{k}"] = v
        if not ok:
            status = 1
            messages.append(f"{label}: {msg}")
    figures["optimizers"] = [s.kind for s in specs]
    if isinstance(problem, DataProblem):
        figures["train_samples"] = len(problem.ytr)
        figures["test_samples"] = len(problem.yte)
        figures["layer_sizes"] = problem.sizes
    message = "; ".join(messages) if messages else "training finished"
    return Outcome(
        status=status,
        message=message,
        figures=figures,
        arrays=arrays,
        target=target,
        timings=timings,
        warnings=warnings,
        files={OPTIMIZER_FILE: json.dumps(optimizers, indent=2, allow_nan=False) + "\n"},
    )


def _own(key: str, prefix: str) -> bool:
    return key.startswith(prefix) if prefix else True


#: A loss (or function value) larger in magnitude than this many times its first value (or
#: 1) ends the run as diverged: it has left every scale the problem had.
DIVERGENCE_FACTOR = 1e8


def divergence_bound(first: float) -> float:
    """The magnitude past which a run with first loss ``first`` is diverged."""
    scale = abs(first) if np.isfinite(first) else 1.0
    return DIVERGENCE_FACTOR * max(1.0, scale)


def _figures(problem, history) -> tuple[dict, bool, str]:
    """Key numbers of one training run, and whether it ended with finite numbers."""
    if "diverged" in history:
        step, value, bound = history["diverged"].tolist()
        what = "loss" if isinstance(problem, DataProblem) else "value"
        figs = {"diverged_at_step": int(step), "outcome": "diverged"}
        message = (
            f"diverged at step {int(step)}: the {what} reached {value:.3g} "
            f"(bound {bound:.3g}); the parameters are the last state within bounds. Lower "
            "the learning rate or add a transform such as clip_norm"
        )
        return figs, False, message
    if isinstance(problem, DataProblem):
        figs = {
            "final_train_loss": float(history["train_loss"][-1]),
            "final_test_loss": float(history["test_loss"][-1]),
            "final_test_accuracy": float(history["test_accuracy"][-1]),
            "final_train_accuracy": float(history["train_accuracy"][-1]),
            "epochs": int(len(history["train_loss"])),
        }
        last = history["batch_loss"][-1]
    else:
        figs = {
            "final_value": float(history["value"][-1]),
            "distance_to_solution": float(history["distance"][-1]),
            "steps": int(len(history["value"]) - 1),
        }
        last = history["value"][-1]
    if not np.isfinite(last):
        return figs, False, "the loss became NaN or infinite (lower the learning rate)"
    return figs, True, ""


# ---------------------------------------------------------------------------------- compare


def compare(cfg: TrainConfig, base_dir: Path | None = None, repeats: int = 3) -> Comparison:
    """The same training with the numpy model and numpy optimizer: loss curves and speed."""
    problem = make_problem(cfg, base_dir)
    spec = cfg.optimizer_list()[0]
    target = "cpu"
    key = "batch_loss" if isinstance(problem, DataProblem) else "value"
    problem.train(spec, target)  # warm-up: compile
    times_ours, times_ref = [], []
    for _ in range(repeats):
        t = time.perf_counter()
        p_ours, _, h_ours = problem.train(spec, target)
        times_ours.append(time.perf_counter() - t)
    for _ in range(max(1, repeats // 2)):
        t = time.perf_counter()
        p_ref, _, h_ref = problem.train(spec, target, numpy=True)
        times_ref.append(time.perf_counter() - t)
    a, b = h_ours[key], h_ref[key]
    diff = np.abs(a - b)
    rel = diff / np.maximum(np.abs(b), np.finfo(float).tiny)
    rows = [
        ComparisonRow("optimizer", spec.kind, spec.kind),
        ComparisonRow("steps", len(a), len(b)),
        ComparisonRow(f"first {key}", float(a[0]), float(b[0])),
        ComparisonRow(f"final {key}", float(a[-1]), float(b[-1])),
        ComparisonRow(f"max rel diff of {key} curve", float(rel.max()), 0.0),
    ]
    if isinstance(problem, DataProblem):
        rows.append(
            ComparisonRow(
                "final test accuracy",
                float(h_ours["test_accuracy"][-1]),
                float(h_ref["test_accuracy"][-1]),
            )
        )
    pdiff = max(float(np.max(np.abs(p_ours[k] - p_ref[k]))) for k in p_ours)
    rows.append(ComparisonRow("max abs diff of final params", pdiff, 0.0))
    return Comparison(
        rows=rows,
        max_abs_diff=float(diff.max()),
        max_rel_diff=float(rel.max()),
        ours_seconds=float(np.median(times_ours)),
        reference_seconds=float(np.median(times_ref)),
    )


# ------------------------------------------------------------------------------------- plot


def plot(run, path: Path) -> None:
    """Loss and accuracy per epoch (data models) or value and distance per step (functions),
    one line per optimizer."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = run.arrays
    kinds = run.result.get("figures", {}).get("optimizers", [])
    prefixes = [f"{i}_{k}." for i, k in enumerate(kinds)] if len(kinds) > 1 else [""]
    labels = [f"{i}: {k}" for i, k in enumerate(kinds)] if len(kinds) > 1 else kinds or [""]
    data_model = f"{prefixes[0]}train_loss" in a
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for i, (prefix, label) in enumerate(zip(prefixes, labels, strict=True)):
        c = f"C{i}"  # one colour per optimizer; dashed: held out, dotted: training accuracy
        if data_model:
            epochs = np.arange(1, len(a[f"{prefix}train_loss"]) + 1)
            axes[0].plot(epochs, a[f"{prefix}train_loss"], c, label=f"{label} train")
            axes[0].plot(epochs, a[f"{prefix}test_loss"], c, ls="--", label=f"{label} held out")
            axes[1].plot(epochs, a[f"{prefix}test_accuracy"], c, label=f"{label} held out")
            axes[1].plot(epochs, a[f"{prefix}train_accuracy"], c, ls=":", label=f"{label} train")
        else:
            steps = np.arange(len(a[f"{prefix}value"]))
            axes[0].plot(steps, a[f"{prefix}value"], c, label=label)
            axes[1].semilogy(steps, a[f"{prefix}distance"] + 1e-300, c, label=label)
    if data_model:
        axes[0].set(xlabel="epoch", ylabel="cross-entropy", title="loss")
        axes[1].set(xlabel="epoch", ylabel="accuracy", title="accuracy")
    else:
        axes[0].set(xlabel="step", ylabel="f", title="objective")
        axes[1].set(xlabel="step", ylabel="distance", title="distance to the solution")
    for ax in axes:
        ax.legend(fontsize=8)
    fig.suptitle(run.config.get("name", "train"))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def shrink(c: dict) -> None:
    """A warm-up run: one epoch, or two steps."""
    c["training"]["steps"] = 2
    c["training"]["epochs"] = 1


EXPERIMENT = Experiment(
    kind="train",
    summary="training with RMSprop/SGD/Adam: MLP or softmax on data, or test functions",
    config_model=TrainConfig,
    run=run,
    compare=compare,
    plot=plot,
    is_batched=is_batched,
    check=check,
    long_running=long_running,
    checkpoints=True,
    shrink=shrink,
)
