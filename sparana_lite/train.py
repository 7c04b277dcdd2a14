"""Optimizers and the training loop, with the original Sparana's semantics.

Gradients are sums over the batch (not means), so the learning rate is tied to the batch size
as in the blog. Adam clips every gradient element to [-1, 1] and adds epsilon to sqrt(v)
(TensorFlow style); L2 decay is ``lr * l2 / batch_size * W`` on weights only, with the base
learning rate. Weights that a layer's mask excludes, and the zeros of CSR layers, never train.
"""
import contextlib
from dataclasses import dataclass, field
import time

import numpy as np
from . import _validate as V
from .kernels.threads import blas_on_calling_thread
from .progress import bar as progress_bar


# The version of the training semantics. Bump it whenever a change makes training produce other
# weights from the same configuration and seed: this module (optimizers, batches, loss scaling),
# the update kernels in kernels/dense.py, the model's initialisation, forward, loss or backward.
# The model zoo puts it in its cache key, so models trained by older code are retrained instead
# of served.
TRAINING_VERSION = 1


class TrainingDivergedError(FloatingPointError):
    """The training loss became NaN or infinite."""


class SGD:
    """Stochastic gradient descent: ``v <- momentum v - lr g``, ``W <- W + v - lr l2 / B W``.

    Parameters
    ----------
    lr : float > 0
    momentum : float in [0, 1)
    l2 : float >= 0
        L2 penalty on weights, divided by the batch size B as in the original.
    """

    def __init__(self, lr=1e-4, momentum=0.0, l2=0.0):
        self.lr = V.finite_float(lr, "lr", low=0, low_open=True)
        self.momentum = V.finite_float(momentum, "momentum", low=0, high=1, high_open=True)
        self.l2 = V.finite_float(l2, "l2", low=0)
        self._state = None

    def config(self):
        return {"name": "sgd", "lr": self.lr, "momentum": self.momentum, "l2": self.l2}

    def _new_state(self, p, dev):
        return (dev.zeros_like(p),)

    def _update(self, dev, p, g, mask, state, batch_size, decay_on, guard=None):
        decay = self.lr * self.l2 / batch_size if decay_on else 0.0
        dev.sgd_update_(p, g, state[0], mask, self.lr, self.momentum, decay, guard)

    def _begin_step(self):
        pass


class Adam:
    """Adam as in Sparana: clip g to [-clip, clip], ``m, v`` moments, bias-corrected step size
    ``lr_t = lr sqrt(1 - beta2^t) / (1 - beta1^t)``, ``W <- W - lr_t m / (sqrt(v) + eps)``.

    Parameters
    ----------
    lr : float > 0
    beta1, beta2 : float in [0, 1)
    eps : float > 0
        Added to sqrt(v). The blog's runs used 1e-3; the original default was 1e-7.
    l2 : float >= 0
        L2 penalty on weights, ``lr * l2 / B * W`` with the base ``lr``.
    clip : float >= 0
        Element-wise gradient clipping bound; 0 turns clipping off.
    """

    def __init__(self, lr=1e-4, beta1=0.9, beta2=0.999, eps=1e-7, l2=0.0, clip=1.0):
        self.lr = V.finite_float(lr, "lr", low=0, low_open=True)
        self.beta1 = V.finite_float(beta1, "beta1", low=0, high=1, high_open=True)
        self.beta2 = V.finite_float(beta2, "beta2", low=0, high=1, high_open=True)
        self.eps = V.finite_float(eps, "eps", low=0, low_open=True)
        self.l2 = V.finite_float(l2, "l2", low=0)
        self.clip = V.finite_float(clip, "clip", low=0)
        self._state = None
        self.t = 0

    def config(self):
        return {"name": "adam", "lr": self.lr, "beta1": self.beta1, "beta2": self.beta2,
                "eps": self.eps, "l2": self.l2, "clip": self.clip}

    def _new_state(self, p, dev):
        return (dev.zeros_like(p), dev.zeros_like(p))

    def _begin_step(self):
        self.t += 1
        self._lr_t = self.lr * np.sqrt(1.0 - self.beta2 ** self.t) / (1.0 - self.beta1 ** self.t)

    def _update(self, dev, p, g, mask, state, batch_size, decay_on, guard=None):
        decay = self.lr * self.l2 / batch_size if decay_on else 0.0
        dev.adam_update_(p, g, state[0], state[1], mask, self._lr_t, self.beta1, self.beta2,
                         self.eps, decay, self.clip, guard)


@dataclass
class History:
    """What :func:`train` recorded. ``loss`` is the mean summed batch loss since the previous
    record; ``accuracy`` the accuracy on ``eval_data`` (NaN when none was given)."""

    steps: list = field(default_factory=list)
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    def __repr__(self):
        last = f", last accuracy={self.accuracy[-1]:.4f}" if self.accuracy else ""
        return f"History({len(self.steps)} records, steps={self.steps[-1] if self.steps else 0}{last})"


def batch_indices(n, batch_size, steps, seed):
    """Yield ``steps`` index arrays of ``batch_size`` samples: walk a seeded permutation and
    draw a fresh one when the next batch would not fit (the remainder is dropped)."""
    for order, pos in batch_positions(n, batch_size, steps, seed):
        yield order[pos:pos + batch_size]


def batch_positions(n, batch_size, steps, seed):
    """The batches of :func:`batch_indices` as ``(order, start)`` pairs: batch = order[start:
    start + batch_size]. ``order`` is the same array object until a fresh permutation is drawn,
    so a device copies each permutation once."""
    rng = np.random.default_rng(seed)
    order, pos = rng.permutation(n), 0
    for _ in range(steps):
        if pos + batch_size > n:
            order, pos = rng.permutation(n), 0
        yield order, pos
        pos += batch_size


def _bind_state(optimizer, model):
    """Optimizer state per layer (weights and biases), kept while the model's layout is the same."""
    layout = [(layer.sparse, layer.params()[0].shape, layer.b.shape) for layer in model.layers]
    st = optimizer._state
    if st is None or st["model"] is not model or st["layout"] != layout:
        dev = model.layers[0].device
        state = [(optimizer._new_state(layer.params()[0], dev), optimizer._new_state(layer.b, dev))
                 for layer in model.layers]
        optimizer._state = {"model": model, "layout": layout, "state": state}
        if hasattr(optimizer, "t"):
            optimizer.t = 0
    return optimizer._state["state"]


def _check_optimizer(optimizer):
    if not isinstance(optimizer, (SGD, Adam)):
        raise TypeError(f"optimizer must be sl.SGD or sl.Adam; got {type(optimizer).__name__}")
    return optimizer


def make_step(model, optimizer, batch_size):
    """The body of the training loop: ``step(xb, yb) -> loss`` on one batch.

    Forward, loss and error at the head, backward into reused gradient buffers, then the
    optimizer's fused update of every layer's weights (respecting masks) and biases. Every
    array op goes to the model's device (:mod:`sparana_lite.device`); on the GPU the batch, the
    returned loss (a device scalar) and all work stay there.

    Parameters
    ----------
    model : MLP
        Trained in place by each step.
    optimizer : SGD or Adam
    batch_size : int
        Samples per batch; the L2 decay is scaled by it, so every batch must have this many.

    The step checks its batch: ``xb`` (batch_size, n_features) finite numbers, ``yb`` int
    labels (batch_size,) in [0, n_classes).
    """
    V.mlp(model)
    _check_optimizer(optimizer)
    batch_size = V.positive_int(batch_size, "batch_size")
    dev = model.layers[0].device
    state = _bind_state(optimizer, model)
    params = [layer.params() for layer in model.layers]  # (flat weight values, flat mask)
    no_mask = dev.asarray(np.zeros(0, dtype=bool), dtype=bool)
    grad_bufs = [(dev.empty(layer.W.nnz if layer.sparse else layer.shape, np.float32), None)
                 for layer in model.layers]
    guard = dev.new_guard()  # GPU: set by a non-finite loss, it turns the updates into no-ops
    # CSR layers on the CPU: batches padded to aligned rows (see kernels.csr.padded_batch), or
    # in the tiled layout where the model allows it (CSR layers but the last)
    pad = dev.name == "cpu" and any(model.is_sparse)
    tiles = pad and model._tiles(batch_size)

    def step(xb, yb):
        if dev.name == "cpu":  # on the GPU, sl.train passes batches of its checked data
            # a first CSR layer's input is checked for NaN and infinity as it is copied
            xb = model._check_x(xb, "xb", finite=not (pad and model._input_checked_in_layout()))
            if xb.shape[0] != batch_size:
                raise ValueError(f"xb has {xb.shape[0]} samples; this step was made for "
                                 f"batch_size={batch_size}")
            yb = V.as_labels(yb, "yb", model.n_classes, n_samples=batch_size)
        # with CSR layers (on the CPU) BLAS stays on this thread for the whole step: the
        # updates may then use numba's threads, and BLAS's pool is not resized between phases
        with blas_on_calling_thread() if pad else contextlib.nullcontext():
            return forward_backward_update(xb, yb)

    def forward_backward_update(xb, yb):
        if tiles:
            acts = model._tiled_forward(xb, "xb")
        elif pad:
            acts = model.forward(model._padded_input(xb, "xb"))
        else:
            acts = model.forward(xb)
        loss, d = dev.loss_and_error(model, acts[-1][:batch_size] if pad else acts[-1], yb, guard)
        if not dev.may_update(loss):
            return loss  # the caller reports divergence; the weights are left untouched
        if pad:  # zero errors: the padding rows add nothing to a gradient
            d = np.concatenate([d, np.zeros((acts[-1].shape[0] - batch_size, d.shape[1]), d.dtype)])
        backward = model._tiled_backward if tiles else model.backward
        grads = backward(acts, d, grads_out=grad_bufs)
        optimizer._begin_step()
        for layer, (w, mask), (gW, gb), (sw, sb) in zip(model.layers, params, grads, state):
            optimizer._update(dev, w, gW.reshape(-1), no_mask if mask is None else mask, sw,
                              batch_size, True, guard)
            optimizer._update(dev, layer.b, gb, no_mask, sb, batch_size, False, guard)
        return loss
    return step


def train(model, x, y, optimizer=None, steps=None, epochs=None, batch_size=250, seed=0,
          eval_every=None, eval_data=None, progress=True):
    """Train ``model`` in place on (x, y) with minibatches; return a :class:`History`.

    Parameters
    ----------
    model : MLP
    x : array (n, n_features), float32 in any range; y : int labels (n,)
    optimizer : SGD or Adam, default ``Adam(lr=1e-4, eps=1e-3)`` (the blog's)
        Its state (moments, step count) carries over between calls on the same model.
    steps, epochs : int
        Give exactly one: the number of minibatches, or of passes over the data
        (``epochs * (n // batch_size)`` steps).
    batch_size : int
    seed : int
        Seeds the order of the batches.
    eval_every : int, optional
        Record the loss (and the accuracy on ``eval_data`` = (x, y)) every this many steps
        and at the end. By default only the end is recorded.
    progress : bool
        Show a tqdm progress bar (redrawn at most every
        :data:`sparana_lite.progress.NON_INTERACTIVE_INTERVAL` seconds unless stderr is a
        terminal, so that a notebook kernel is not flooded with updates).
    """
    V.mlp(model)
    x = model._check_x(x)
    y = V.as_labels(y, "y", model.n_classes, n_samples=x.shape[0])
    batch_size = V.positive_int(batch_size, "batch_size")
    if batch_size > x.shape[0]:
        raise ValueError(f"batch_size ({batch_size}) must not exceed the number of samples ({x.shape[0]})")
    if (steps is None) == (epochs is None):
        raise ValueError("give exactly one of steps and epochs")
    if steps is None:
        steps = V.positive_int(epochs, "epochs") * (x.shape[0] // batch_size)
    steps = V.positive_int(steps, "steps")
    seed = V.seed_int(seed)
    eval_every = V.positive_int(eval_every, "eval_every", allow_none=True)
    if eval_data is not None:
        if not isinstance(eval_data, (tuple, list)) or len(eval_data) != 2:
            raise ValueError("eval_data must be a pair (x, y)")
        ex = model._check_x(eval_data[0], "eval_data[0]")
        ey = V.as_labels(eval_data[1], "eval_data[1]", model.n_classes, n_samples=ex.shape[0])
    optimizer = Adam(lr=1e-4, eps=1e-3) if optimizer is None else _check_optimizer(optimizer)

    dev = model.layers[0].device
    step_fn = make_step(model, optimizer, batch_size)
    history = History()
    start, loss_sum, loss_count = time.perf_counter(), 0.0, 0
    x_dev, y_dev = dev.asarray(x), dev.asarray(y, dtype=np.int64)  # on the GPU once per run
    pending, order, order_dev = [], None, None  # losses not yet read back (GPU: device scalars)

    def record(step):
        history.steps.append(step)
        history.loss.append(loss_sum / max(loss_count, 1))
        history.accuracy.append(model.accuracy(ex, ey) if eval_data is not None else float("nan"))
        history.seconds.append(time.perf_counter() - start)

    bar = progress_bar(total=steps, disable=not progress, desc="training", unit="step", leave=False)
    try:
        batches = batch_positions(x.shape[0], batch_size, steps, seed)
        for step, (new_order, pos) in enumerate(batches, start=1):
            if new_order is not order:
                order, order_dev = new_order, dev.asarray(new_order, dtype=np.int64)
            pending.append(step_fn(dev.take_rows(x_dev, order_dev, pos, batch_size),
                                   dev.take_rows(y_dev, order_dev, pos, batch_size)))
            recording = eval_every and step % eval_every == 0 and step != steps
            if not (recording or step % dev.loss_flush_every == 0 or step == steps):
                continue
            for first, loss in enumerate(dev.losses_to_host(pending), start=step - len(pending) + 1):
                if not np.isfinite(loss):
                    raise TrainingDivergedError(
                        f"the training loss became {loss} at step {first}; lower the learning "
                        f"rate (lr={optimizer.lr}) or check the inputs")
                loss_sum, loss_count = loss_sum + loss, loss_count + 1
            pending = []
            if recording:
                record(step)
                loss_sum, loss_count = 0.0, 0
            if step % 50 == 0 or step == steps:
                bar.set_postfix(loss=f"{loss:.4g}", refresh=False)
                bar.update(step - bar.n)
    finally:
        bar.close()
    record(steps)
    return history
