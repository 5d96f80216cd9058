"""Language-model benchmark: training tokens per second of the compiled GRU against numpy.

One process, after JIT warm-up; medians over rounds of ``WINDOWS`` consecutive windows:

- the GRU language model of :mod:`workbench.models.gru` (one layer, H = 128) trained on the
  shipped text (``alice.txt``, characters, the first 90 % as the training split) in windows of
  ``batch_size`` 32 x ``num_steps`` 35 from :func:`workbench.data.sequences.ptb_producer`,
  carrying the state from window to window. One training step is ``loss_and_grad`` then
  ``chain([clip_norm(5.0, per_block=False)], RMSprop(params, lr=2e-3)).step(grads)``;
- against the same step written in plain numpy:
  :func:`workbench.models.reference.gru_loss_and_grad` (the model one time step at a time), a
  numpy global-norm clip (torch's formula) and :class:`workbench.optim.reference.NumpyRMSprop`.
  Both start from the same parameters and see the same windows; the losses of the first
  windows are compared as a check.

Target: at least 5x the numpy implementation's tokens per second at float64. It also prints
the unigram perplexity of the validation split (the exponential of the cross-entropy of the
training split's character frequencies on the validation characters), the baseline that a
character model has to beat.

Run: ``python benchmarks/bench_lm.py [--quick]``.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _timing import median_time  # noqa: E402

from workbench.data.sequences import corpus_path, ptb_producer, read_text, split_ids  # noqa: E402
from workbench.models import gru  # noqa: E402
from workbench.models.reference import gru_loss_and_grad  # noqa: E402
from workbench.optim import RMSprop, chain, clip_norm  # noqa: E402
from workbench.optim.reference import NumpyRMSprop  # noqa: E402

QUICK = "--quick" in sys.argv
HIDDEN, BATCH, STEPS = 128, 32, 35
LR, MAX_NORM = 2e-3, 5.0
WINDOWS = 4 if QUICK else 12  # windows per timed round
VALID_FRACTION = 0.1


def numpy_clip(grads: dict, max_norm: float) -> dict:
    """Global-norm clipping as ``torch.nn.utils.clip_grad_norm_``."""
    norm = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
    if norm > max_norm:
        f = max_norm / (norm + 1e-6)
        return {k: g * g.dtype.type(f) for k, g in grads.items()}
    return grads


class Trainer:
    """Steps through the producer's windows, carrying the state; wraps round at the end."""

    def __init__(self, producer, params, numpy: bool):
        self.producer = producer
        self.params = params
        self.numpy = numpy
        self.state = gru.zero_state(params, producer.batch_size)
        self.i = 0
        self.losses: list[float] = []
        if numpy:
            self.opt = NumpyRMSprop(params, lr=LR)
        else:
            self.opt = chain([clip_norm(MAX_NORM, per_block=False)], RMSprop(params, lr=LR))
            self.grads = {k: np.empty_like(p) for k, p in params.items()}

    def step(self) -> None:
        x, y = self.producer[self.i]
        self.i = (self.i + 1) % len(self.producer)
        if self.i == 0:
            self.state = gru.zero_state(self.params, self.producer.batch_size)
        if self.numpy:
            loss, grads, self.state = gru_loss_and_grad(self.params, x, y, self.state)
            self.opt.step(numpy_clip(grads, MAX_NORM))
        else:
            loss, grads, self.state = gru.loss_and_grad(
                self.params, x, y, self.state, out=self.grads
            )
            self.opt.step(grads)
        self.losses.append(loss)

    def run(self, windows: int) -> None:
        for _ in range(windows):
            self.step()


def unigram_perplexity(train: np.ndarray, valid: np.ndarray, size: int) -> tuple[float, int]:
    """exp of the cross-entropy of the training frequencies on the validation tokens, and the
    number of validation tokens never seen in training (infinite perplexity if any)."""
    counts = np.bincount(train, minlength=size).astype(np.float64)
    p = counts / counts.sum()
    unseen = int(np.sum(p[valid] == 0))
    if unseen:
        return math.inf, unseen
    return float(np.exp(-np.mean(np.log(p[valid])))), 0


def training_speed(dtype) -> None:
    ids, vocab = read_text(corpus_path("alice"), level="char")
    train, _ = split_ids(ids, VALID_FRACTION)
    producer = ptb_producer(train, BATCH, STEPS)
    V = len(vocab)
    start = gru.init_params(V, HIDDEN, seed=0, dtype=dtype)
    ours = Trainer(producer, {k: p.copy() for k, p in start.items()}, numpy=False)
    ref = Trainer(producer, {k: p.copy() for k, p in start.items()}, numpy=True)

    check = 3  # the first windows from the same start: the losses agree
    ours.run(check)
    ref.run(check)
    a, b = np.array(ours.losses), np.array(ref.losses)
    rel = float(np.max(np.abs(a - b) / np.abs(b)))

    repeats = 3 if QUICK else 7
    t_ours = median_time(lambda: ours.run(WINDOWS), repeats=repeats)
    t_ref = median_time(lambda: ref.run(max(1, WINDOWS // 3)), repeats=repeats)
    t_ref *= WINDOWS / max(1, WINDOWS // 3)
    tokens = WINDOWS * BATCH * STEPS
    name = np.dtype(dtype).name
    print(
        f"GRU LM training step, {name}, V={V}, H={HIDDEN}, batch {BATCH} x {STEPS} steps "
        f"({producer.epoch_size} windows per epoch); loss rel diff of first {check} windows "
        f"{rel:.1e}"
    )
    print(
        f"    ours {tokens / t_ours:10.0f} tokens/s ({t_ours / WINDOWS * 1e3:7.2f} ms/window)   "
        f"numpy {tokens / t_ref:10.0f} tokens/s ({t_ref / WINDOWS * 1e3:7.2f} ms/window)   "
        f"ratio {t_ref / t_ours:5.1f}x"
    )
    if np.dtype(dtype) == np.float64:
        speedup = t_ref / t_ours
        print(f"    target >= 5x numpy: {speedup:.1f}x ({'met' if speedup >= 5 else 'NOT met'})")
        ours_macs, ref_macs = matrix_product_work(V, HIDDEN, BATCH, STEPS)
        print(
            f"    matrix products per token: ours {ours_macs / 1e3:.0f}k multiply-adds, numpy "
            f"{ref_macs / 1e3:.0f}k ({ref_macs / ours_macs:.2f}x as many)"
        )


def matrix_product_work(V: int, H: int, B: int, T: int) -> tuple[float, float]:
    """Multiply-adds per token in the BLAS products of one training step (one layer)."""
    N = B * T
    recurrent = (T + T - 1) * B * 3 * H * H  # forward, and backward but for the first step
    weights = N * 3 * H * H  # dW
    output = 3 * N * V * H  # logits, dV, gradient into the states
    embedding = 3 * 3 * H * H * V if V < N else 3 * N * 3 * H * H  # U E, dU, dE (folded)
    ours = (recurrent + weights + output + embedding) / N
    ref = 18 * H * H + 3 * V * H  # per step: 6 products forward, 12 backward, 3 output
    return ours, ref


def corpus_figures() -> None:
    ids, vocab = read_text(corpus_path("alice"), level="char")
    train, valid = split_ids(ids, VALID_FRACTION)
    ppl, unseen = unigram_perplexity(train, valid, len(vocab))
    extra = f" ({unseen} validation characters unseen in training)" if unseen else ""
    print(
        f"corpus alice.txt: {len(ids)} characters, vocabulary {len(vocab)}; split "
        f"{len(train)} train / {len(valid)} validation; unigram perplexity of the validation "
        f"split {ppl:.2f}{extra}"
    )


def main() -> None:
    t = time.perf_counter()
    print(f"threads: {numba.get_num_threads()} (numba {numba.__version__}, numpy {np.__version__})")
    corpus_figures()
    training_speed(np.float64)
    training_speed(np.float32)
    print(f"(benchmark took {time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
