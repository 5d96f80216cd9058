"""A GRU language model trained with RMSprop, as the recurrent-network tutorials do it.

The corpus becomes token ids (characters or words), cut into ``batch_size`` rows and walked in
``num_steps`` windows (TensorFlow's PTB reader, :func:`workbench.data.ptb_producer`); each
window is one truncated-BPTT gradient and one RMSprop step over every parameter
(``E, U, W, b, V, c``), the gradient clipped by its global norm first. The hidden state is
carried across the windows of an epoch. Each epoch ends with a checkpoint in the run's
incomplete folder (parameters, optimizer state, the epoch reached, the sampling generator's
state), so ``workbench run CONFIG --resume PARTIAL_DIR`` continues an interrupted run with the
numbers an uninterrupted one gives.

The reference for ``compare`` is the same model and step written in plain numpy.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

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


class Data(Section):
    """The ``data:`` section of a language-model experiment: the text and its tokens.

    Attributes
    ----------
    corpus : str or None
        A text shipped with the package (:func:`workbench.data.sequences.corpora`; default
        ``"alice"``); null when ``path`` is given.
    path : str or None
        A UTF-8 text file instead (give exactly one of ``corpus`` and ``path``); a relative path
        that does not exist as given is looked up in the config file's folder.
    level : {"char", "word"}
        Tokens are characters, or whitespace-separated words with each newline an ``<eos>``.
    min_count : int
        Symbols seen fewer times become the unknown symbol (1 keeps every symbol).
    valid_fraction : float
        The fraction of the tokens, at the text's end, held out for validation.
    """

    corpus: str | None = Field("alice", description="a bundled corpus (or null with `path`)")
    path: str | None = Field(None, description="a UTF-8 text file instead of a bundled corpus")
    level: Literal["char", "word"] = "char"
    min_count: int = Field(
        1,
        ge=1,
        description="rarer symbols become unknown (<unk> for words, U+FFFD for characters)",
    )
    valid_fraction: float = Field(0.1, gt=0, lt=1, description="the text's last part")

    @model_validator(mode="after")
    def _one_source(self):
        if (self.corpus is None) == (self.path is None):
            raise ValueError("give exactly one of `corpus` (a bundled text) and `path`")
        return self


class Model(Section):
    """The ``model:`` section of a language-model experiment: the GRU's size.

    Attributes
    ----------
    hidden : int
        Units in each GRU layer.
    layers : int
        Stacked GRU layers.
    """

    hidden: int = Field(128, ge=1, le=MAX_WIDTH)
    layers: int = Field(1, ge=1, le=1000)


class Optimizer(Section):
    """RMSprop, by default in the tutorial's form (``rho`` is its ``decay``, ``eps`` inside the
    square root); the other options are :class:`workbench.optim.RMSprop`'s, as in
    ``torch.optim.RMSprop``."""

    lr: float = Field(2e-3, gt=0)
    rho: float = Field(0.9, ge=0, lt=1)
    eps: float = Field(1e-6, gt=0)
    eps_in_sqrt: bool = Field(True, description="Theano's sqrt(acc + eps); false: sqrt(acc) + eps")
    centered: bool = Field(False, description="divide by the variance estimate (Graves)")
    momentum: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)


class Training(Section):
    """The ``training:`` section of a language-model experiment.

    Attributes
    ----------
    epochs : int
        Passes over the training text.
    batch_size : int
        Rows the training tokens are cut into and trained side by side (the validation text
        uses at most 8).
    num_steps : int
        Tokens per window: the length of truncated back-propagation through time.
    clip_norm : float or None
        The largest global norm of the gradient over every parameter; null: no clipping.
    """

    epochs: int = Field(6, ge=1, le=MAX_STEPS)
    batch_size: int = Field(32, ge=1, le=MAX_SAMPLES)
    num_steps: int = Field(35, ge=1, le=MAX_SAMPLES)
    clip_norm: float | None = Field(5.0, gt=0, description="global gradient norm (null: off)")


class Sample(Section):
    """The ``sample:`` section of a language-model experiment: the text generated after training.

    Attributes
    ----------
    length : int
        Tokens to generate (0: none).
    temperature : float
        Divides the logits before each draw; 0 takes the most likely token (greedy).
    prime : str
        Text fed through the model first to warm its state up (empty: the training text's
        first token).
    """

    length: int = Field(200, ge=0, le=MAX_SAMPLES)
    temperature: float = Field(0.8, ge=0, description="0: greedy (argmax)")
    prime: str = Field("", description="text that warms up the state first")


class LMConfig(ExperimentConfig):
    """A whole language-model experiment file (``experiment: lm``).

    Attributes
    ----------
    experiment : {"lm"}
        The kind.
    data : Data
        The ``data:`` section: the text and its tokens.
    model : Model
        The ``model:`` section: the GRU's size.
    optimizer : Optimizer
        The ``optimizer:`` section: RMSprop's settings.
    training : Training
        The ``training:`` section: epochs, batches, windows and clipping.
    sample : Sample
        The ``sample:`` section: the text generated at the end.
    name, target, seed, output
        The keys every experiment has (:class:`~workbench.experiments.base.ExperimentConfig`);
        ``seed`` seeds the initial weights and the sampling.
    """

    experiment: Literal["lm"] = "lm"
    data: Data = Field(default_factory=Data)
    model: Model = Field(default_factory=Model)
    optimizer: Optimizer = Field(default_factory=Optimizer)
    training: Training = Field(default_factory=Training)
    sample: Sample = Field(default_factory=Sample)


# ----------------------------------------------------------------------------------- data


def text_path(cfg: LMConfig, base_dir: Path | None = None) -> Path:
    """The text file a config trains on.

    Parameters
    ----------
    cfg : LMConfig
        The experiment.
    base_dir : Path, optional
        The config file's folder: a relative ``data.path`` that does not exist as given is
        looked up there.

    Returns
    -------
    Path
        The bundled corpus's file, or ``data.path`` (whose existence is not checked here).

    Raises
    ------
    ProblemError
        On ``data.corpus`` for a name that is not a bundled text.
    """
    from ..data import sequences

    d = cfg.data
    if d.path is None:
        try:
            return Path(sequences.corpus_path(d.corpus))
        except (KeyError, FileNotFoundError, ValueError) as exc:
            raise ProblemError("data.corpus", str(exc)) from None
    path = Path(d.path)
    if not path.is_absolute() and base_dir is not None and not path.exists():
        path = base_dir / path
    return path


class Corpus:
    """Token ids of the text, the vocabulary and the train/validation producers."""

    def __init__(self, cfg: LMConfig, base_dir: Path | None = None):
        from ..data import ptb_producer, sequences
        from ..data.labeled import DataError

        d, t = cfg.data, cfg.training
        try:
            ids, self.vocab = sequences.read_text(
                text_path(cfg, base_dir), level=d.level, min_count=d.min_count
            )
        except DataError as exc:
            raise ProblemError("data.path" if d.path else "data.corpus", str(exc)) from None
        try:
            self.train_ids, self.valid_ids = sequences.split_ids(ids, d.valid_fraction)
        except ValueError as exc:
            raise ProblemError("data.valid_fraction", str(exc)) from None
        try:
            self.train = ptb_producer(self.train_ids, t.batch_size, t.num_steps)
        except ValueError as exc:
            raise ProblemError("training.batch_size", f"training text: {exc}") from None
        try:
            self.valid = ptb_producer(self.valid_ids, min(t.batch_size, 8), t.num_steps)
        except ValueError as exc:
            raise ProblemError("data.valid_fraction", f"validation text: {exc}") from None

    @property
    def vocab_size(self) -> int:
        """The number of distinct tokens (ids run from 0 to ``vocab_size - 1``)."""
        return len(self.vocab)

    def unigram_perplexity(self) -> float:
        """The perplexity on the validation text of the training text's token frequencies."""
        counts = np.bincount(self.train_ids, minlength=self.vocab_size).astype(float) + 1.0
        logp = np.log(counts / counts.sum())
        return float(np.exp(-np.mean(logp[self.valid_ids])))


def check(cfg: LMConfig, base_dir: Path | None = None) -> None:
    """The memory the model needs, the text, its windows and the sample's prime, before any
    training."""
    corpus = Corpus(cfg, base_dir)
    _check_memory(cfg, corpus.vocab_size)
    prime_ids(cfg, corpus)


def _check_memory(cfg: LMConfig, vocab: int) -> None:
    """The GRU's weights with their gradients and RMSprop state (four copies) and what one
    truncated back-propagation keeps (each step's gates and states, per layer), estimated
    before anything is made."""
    h, layers, t = cfg.model.hidden, cfg.model.layers, cfg.training
    inputs = [vocab] + [h] * (layers - 1)  # one-hot inputs at the first layer
    weights = sum(3 * h * (i + h + 2) for i in inputs) + (h + 1) * vocab
    per_step = t.batch_size * (layers * 8 * h + 2 * vocab)
    check_memory(
        "model.hidden",
        8.0 * (4 * weights + t.num_steps * per_step),
        f"{layers} layer(s) of {h:,} units over {vocab:,} tokens, batches of "
        f"{t.batch_size} x {t.num_steps}",
    )


def prime_ids(cfg: LMConfig, corpus: Corpus) -> np.ndarray:
    """The ids that start the sample: ``sample.prime``, or the text's first token."""
    try:
        return corpus.vocab.encode(cfg.sample.prime) if cfg.sample.prime else corpus.train_ids[:1]
    except ValueError as exc:
        raise ProblemError("sample.prime", str(exc)) from None


def is_batched(cfg: LMConfig) -> bool:
    """Whether a run is batched: never for a language model (``long_running`` gives it its bar).

    Parameters
    ----------
    cfg : LMConfig
        The experiment.

    Returns
    -------
    bool
        False.
    """
    return False


# -------------------------------------------------------------------------------- training


class Trainer:
    """One training run: parameters, optimizer, and the loop over epochs and windows."""

    def __init__(self, cfg: LMConfig, corpus: Corpus, *, numpy: bool = False):
        from ..models import gru
        from ..models.reference import gru_loss_and_grad
        from ..optim import chain, clip_norm, optimizer_class
        from ..optim.reference import NumpyChain
        from ..optim.registry import rule

        self.cfg, self.corpus, self.gru, self.numpy = cfg, corpus, gru, numpy
        m, o, t = cfg.model, cfg.optimizer, cfg.training
        self.params = gru.init_params(corpus.vocab_size, m.hidden, layers=m.layers, seed=cfg.seed)
        kw = o.model_dump()
        rmsprop = rule("rmsprop")
        cls = rmsprop.reference if numpy else optimizer_class(rmsprop.kind)
        self.optimizer = cls(self.params, **kw)
        if t.clip_norm is None:
            self.stepper = self.optimizer
        elif numpy:
            clip = ClipSpec(t.clip_norm)
            self.stepper = NumpyChain([clip], self.optimizer)
        else:
            self.stepper = chain([clip_norm(t.clip_norm, per_block=False)], self.optimizer)
        self.loss_and_grad = gru_loss_and_grad if numpy else gru.loss_and_grad
        self.epoch = 0
        self.history: dict[str, list[float]] = {"train_perplexity": [], "valid_perplexity": []}
        self.rng = np.random.default_rng(cfg.seed)  # for sampling text at the end

    def zero_state(self, batch: int) -> np.ndarray:
        """A zero hidden state for ``batch`` rows.

        Parameters
        ----------
        batch : int
            Rows (a producer's batch size).

        Returns
        -------
        ndarray of float64, shape (layers, batch, hidden)
            Zeros.
        """
        return np.zeros((self.cfg.model.layers, batch, self.cfg.model.hidden))

    def run_epoch(self, progress=None, done_before: int = 0, total: int = 0) -> list[float]:
        """Train one epoch: a step per window of the training text, the hidden state carried from
        window to window; then append the epoch's perplexities to ``history``.

        Parameters
        ----------
        progress : callable, optional
            ``progress(done, total, note)``, called every 10 windows and after the last, with the
            running perplexity in ``note``.
        done_before : int, optional
            Windows trained before this epoch (the bar's position).
        total : int, optional
            Windows in the whole run (the bar's length).

        Returns
        -------
        list of float
            Each window's mean cross-entropy per token (nats), in order.
        """
        producer = self.corpus.train
        state = self.zero_state(producer.batch_size)
        grads = None if self.numpy else {k: np.empty_like(v) for k, v in self.params.items()}
        losses = []
        for i in range(len(producer)):
            x, y = producer[i]
            if self.numpy:
                loss, g, state = self.loss_and_grad(self.params, x, y, state)
            else:
                loss, g, state = self.loss_and_grad(self.params, x, y, state, out=grads)
            self.stepper.step(g)
            losses.append(float(loss))
            if progress is not None and (i % 10 == 9 or i == len(producer) - 1):
                ppl = math.exp(np.mean(losses))
                note = f"epoch {self.epoch + 1} perplexity {ppl:.3g}"
                progress(done_before + i + 1, total, note)
        self.epoch += 1
        self.history["train_perplexity"].append(math.exp(np.mean(losses)))
        self.history["valid_perplexity"].append(self.valid_perplexity())
        return losses

    def valid_perplexity(self) -> float:
        """The perplexity of the validation text under the current parameters.

        Returns
        -------
        float
            ``exp`` of the mean per-token cross-entropy over the validation windows, the state
            carried across them.
        """
        producer = self.corpus.valid
        state = self.zero_state(producer.batch_size)
        total = 0.0
        for x, y in producer:
            if self.numpy:  # the reference measures with its own model
                loss, _, state = self.loss_and_grad(self.params, x, y, state)
            else:
                loss, state = self.gru.forward_loss(self.params, x, y, state)
            total += float(loss)
        return math.exp(total / len(producer))

    # checkpoints: everything the next epoch depends on
    def checkpoint(self) -> tuple[dict, dict]:
        """Everything the next epoch depends on, for :meth:`restore`.

        Returns
        -------
        arrays : dict of str to ndarray
            The parameters (``param/<name>``) and the optimizer's state arrays
            (``opt/<block>/<state>``).
        meta : dict
            JSON-able: the epoch reached, the perplexity history, the optimizer's step count and
            hyperparameters, and the sampling generator's state.
        """
        sd = self.optimizer.state_dict()
        arrays = {f"param/{k}": v for k, v in self.params.items()}
        for name, st in sd["state"].items():
            for key, a in st.items():
                arrays[f"opt/{name}/{key}"] = a
        meta = {
            "epoch": self.epoch,
            "history": self.history,
            "optimizer": {k: v for k, v in sd.items() if k != "state"},
            "rng": self.rng.bit_generator.state,
        }
        return arrays, meta

    def restore(self, arrays: dict, meta: dict) -> None:
        """Continue from a :meth:`checkpoint`: parameters (in place), optimizer state, epoch,
        history and the sampling generator.

        Parameters
        ----------
        arrays : dict of str to ndarray
            The checkpoint's arrays.
        meta : dict
            The checkpoint's metadata.

        Returns
        -------
        None
        """
        for k in self.params:
            self.params[k][...] = arrays[f"param/{k}"]
        state: dict[str, dict] = {k: {} for k in self.params}
        for key, a in arrays.items():
            if key.startswith("opt/"):
                _, name, what = key.split("/", 2)
                state[name][what] = a
        self.optimizer.load_state_dict({**meta["optimizer"], "state": state})
        self.epoch = int(meta["epoch"])
        self.history = {k: list(v) for k, v in meta["history"].items()}
        self.rng.bit_generator.state = meta["rng"]


class ClipSpec:
    """A global-norm clip in the form :class:`workbench.optim.reference.NumpyChain` reads."""

    kind = "clip_norm"
    params = None
    per_block = False

    def __init__(self, max_norm: float):
        self.max_norm = max_norm


def run(
    cfg: LMConfig, target: str, progress=None, base_dir: Path | None = None, checkpoint=None
) -> Outcome:
    """Train the language model, checkpointing after every epoch, then sample text from it.

    Parameters
    ----------
    cfg : LMConfig
        The experiment.
    target : str
        Unused: training runs on the CPU (the optimizer's ``auto`` target chooses one core or
        all of them per parameter block).
    progress : callable, optional
        ``progress(done, total, note)``, called as windows are trained (the note shows the
        epoch's running perplexity).
    base_dir : Path, optional
        The config file's folder, for a relative ``data.path``.
    checkpoint : RunDir, optional
        Where to keep checkpoints (``save_checkpoint``/``load_checkpoint``); a checkpoint
        found there is resumed from.

    Returns
    -------
    Outcome
        The final and per-epoch perplexities beside the unigram perplexity, the sampled text,
        the parameters (``param_<name>`` arrays) and ``vocab.json``; status 1 when the
        training perplexity is not finite.
    """
    corpus = Corpus(cfg, base_dir)
    trainer = Trainer(cfg, corpus)
    resumed_from = 0
    if checkpoint is not None:
        saved = checkpoint.load_checkpoint()
        if saved is not None:
            trainer.restore(*saved)
            resumed_from = trainer.epoch
    epochs = cfg.training.epochs
    per_epoch = len(corpus.train)
    t0 = time.perf_counter()
    while trainer.epoch < epochs:
        trainer.run_epoch(progress, trainer.epoch * per_epoch, epochs * per_epoch)
        if checkpoint is not None:
            checkpoint.save_checkpoint(*trainer.checkpoint())
    seconds = time.perf_counter() - t0
    trained_tokens = (epochs - resumed_from) * per_epoch * cfg.training.batch_size
    s = cfg.sample
    prime = prime_ids(cfg, corpus)
    sampled = trainer.gru.sample(
        trainer.params, prime, s.length, temperature=s.temperature, rng=trainer.rng
    )
    text = corpus.vocab.decode(sampled)
    hist = {k: np.array(v) for k, v in trainer.history.items()}
    unigram = corpus.unigram_perplexity()
    final_valid = float(hist["valid_perplexity"][-1])
    figures = {
        "final_train_perplexity": float(hist["train_perplexity"][-1]),
        "final_valid_perplexity": final_valid,
        "unigram_perplexity": unigram,
        "valid_vs_unigram": final_valid / unigram,
        "epochs": epochs,
        "resumed_from_epoch": resumed_from,
        "vocab_size": corpus.vocab_size,
        "train_tokens": int(len(corpus.train_ids)),
        "tokens_per_second": trained_tokens * cfg.training.num_steps / seconds
        if seconds > 0
        else math.nan,
        "sample": text,
    }
    arrays = {**hist, **{f"param_{k}": v for k, v in trainer.params.items()}}
    ok = np.all(np.isfinite(hist["train_perplexity"]))
    return Outcome(
        status=0 if ok else 1,
        message="training finished" if ok else "the loss became NaN or infinite",
        figures=figures,
        arrays=arrays,
        target="cpu",
        timings={"train_s": seconds},
        files={"vocab.json": corpus.vocab.to_json()},
    )


def compare(cfg: LMConfig, base_dir: Path | None = None, repeats: int = 3) -> Comparison:
    """Training with our kernels and with the numpy model and RMSprop, from the same start:
    the per-window losses of ``min(repeats, 3)`` epochs (at least one) and the median epoch
    time of each."""
    corpus = Corpus(cfg, base_dir)
    Trainer(cfg, corpus).run_epoch()  # warm-up: compile or load kernels
    epochs = max(1, min(int(repeats), 3))

    def train(numpy: bool):
        trainer, losses, seconds = Trainer(cfg, corpus, numpy=numpy), [], []
        for _ in range(epochs):
            t = time.perf_counter()
            losses += trainer.run_epoch()
            seconds.append(time.perf_counter() - t)
        return trainer, np.array(losses), float(np.median(seconds))

    ours, a, t_ours = train(False)
    ref, b, t_ref = train(True)
    diff = np.abs(a - b)
    rel = diff / np.abs(b)
    pdiff = max(float(np.max(np.abs(ours.params[k] - ref.params[k]))) for k in ours.params)
    rows = [
        ComparisonRow(
            "epochs x windows", f"{epochs} x {len(a) // epochs}", f"{epochs} x {len(b) // epochs}"
        ),
        ComparisonRow("first window loss", float(a[0]), float(b[0])),
        ComparisonRow("last window loss", float(a[-1]), float(b[-1])),
        ComparisonRow(
            "valid perplexity",
            ours.history["valid_perplexity"][-1],
            ref.history["valid_perplexity"][-1],
        ),
        ComparisonRow("max abs diff of params", pdiff, 0.0),
    ]
    return Comparison(
        rows=rows,
        max_abs_diff=float(diff.max()),
        max_rel_diff=float(rel.max()),
        ours_seconds=t_ours,
        reference_seconds=t_ref,
    )


def sample_text(run, length: int, temperature: float, prime=None, seed=None) -> str:
    """Text sampled from a finished run's parameters (``workbench sample``); ``run`` is a
    loaded run (:func:`workbench.runs.load`), as every command that reads one receives it.
    ``prime`` None takes the run's own ``sample.prime`` (if that is empty: its vocabulary's
    first symbol)."""
    from ..data import sequences
    from ..models import gru

    if run.config.get("experiment") != "lm":
        raise ValueError("not a language-model run (experiment: lm)")
    vocab_path = Path(run.path) / "vocab.json"
    if not vocab_path.exists():
        raise ValueError("no vocab.json: the run was written before vocabularies were saved")
    vocab = sequences.Vocabulary.from_json(vocab_path.read_text("utf-8"))
    params = {k[len("param_") :]: v for k, v in run.arrays.items() if k.startswith("param_")}
    rng = np.random.default_rng(seed)
    if prime is None:
        prime = (run.config.get("sample") or {}).get("prime") or ""
    start = vocab.encode(prime) if prime else np.array([0], dtype=np.int64)
    return vocab.decode(gru.sample(params, start, length, temperature=temperature, rng=rng))


def plot(run, path: Path) -> None:
    """Training and validation perplexity per epoch, against the unigram perplexity."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    a = run.arrays
    epochs = np.arange(1, len(a["train_perplexity"]) + 1)
    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    ax.plot(epochs, a["train_perplexity"], "o-", label="training")
    ax.plot(epochs, a["valid_perplexity"], "s--", label="validation")
    unigram = run.result.get("figures", {}).get("unigram_perplexity")
    if unigram:
        ax.axhline(unigram, color="gray", ls=":", label="unigram")
        ax.axhline(unigram / 2, color="gray", ls="-.", lw=0.8, label="unigram / 2")
    ax.set(xlabel="epoch", ylabel="perplexity", title=run.config.get("name", "lm"))
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


EXPERIMENT = Experiment(
    kind="lm",
    summary="a GRU language model trained with RMSprop (truncated BPTT over PTB-style windows)",
    config_model=LMConfig,
    run=run,
    compare=compare,
    plot=plot,
    is_batched=is_batched,
    check=check,
    checkpoints=True,
    long_running=lambda cfg: True,
)
