"""What a forward pass costs: floating-point operations counted, seconds measured.

    sl.cost.flops_per_sample(model)               # 2 * (multiply-adds of every layer)
    t = sl.cost.forward_times({"dense": model, "shrunk": smaller}, x, batch_sizes=(1, 1000))
    t.ratios(1000)                                 # {name: time of the first / time of name}

A dense layer multiplies every entry of its matrix, zero or not, so its count is
``2 * n_in * n_out`` per sample; a CSR layer multiplies only its stored entries, ``2 * nnz``.
Biases and activations are left out (one addition and one comparison per output, small next to
the products). Times are medians of :func:`median_seconds`, which runs the candidates in turns so
that drift on a shared machine hits them alike.
"""
from dataclasses import dataclass
import time

import numpy as np

from . import _validate as V
from .model import MLP

__all__ = ["flops_per_sample", "call_seconds", "median_seconds", "forward_times", "ForwardTimes"]


def flops_per_sample(model):
    """Floating-point operations of one sample's forward pass through the weight products.

    Parameters
    ----------
    model : MLP
        Dense layers count every entry (zeros cost as much as any other number in a dense
        product); CSR layers count their stored nonzeros.

    Returns
    -------
    int
        ``2 * sum(n_in * n_out)`` over dense layers plus ``2 * nnz`` over CSR layers.
    """
    if not isinstance(model, MLP):
        raise TypeError(f"model must be a sparana_lite.MLP; got {type(model).__name__}")
    return int(sum(2 * (layer.W.nnz if layer.sparse else layer.W.size) for layer in model.layers))


def call_seconds(funcs, repeats=20, rounds=3, warmup=2, settle=0.05):
    """Seconds of every timed call of each callable in ``funcs`` (a dict name -> callable):
    a dict name -> list of floats.

    Each round gives every candidate, in turn, a pause of ``settle`` seconds (BLAS threads stop
    spinning), ``warmup`` untimed calls and ``ceil(repeats / rounds)`` timed ones.
    """
    if not isinstance(funcs, dict) or not funcs or not all(callable(f) for f in funcs.values()):
        raise ValueError("funcs must be a non-empty dict of name -> callable")
    repeats = V.positive_int(repeats, "repeats")
    rounds = V.positive_int(rounds, "rounds")
    warmup = V.positive_int(warmup, "warmup", minimum=0)
    settle = V.finite_float(settle, "settle", low=0)
    per_round = -(-repeats // rounds)
    times = {name: [] for name in funcs}
    for _ in range(rounds):
        for name, f in funcs.items():
            time.sleep(settle)
            for _ in range(warmup):
                f()
            for _ in range(per_round):
                start = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - start)
    return times


def median_seconds(funcs, repeats=20, rounds=3, warmup=2, settle=0.05):
    """Median seconds per call of each callable in ``funcs``; see :func:`call_seconds`."""
    return {name: float(np.median(t))
            for name, t in call_seconds(funcs, repeats, rounds, warmup, settle).items()}


@dataclass
class ForwardTimes:
    """Forward seconds of every timed call, ``samples[batch_size][name]`` (a list), and FLOPs
    per sample, ``flops[name]``. ``seconds`` are the medians, ``fastest`` the minima."""

    samples: dict
    flops: dict

    @property
    def names(self):
        return list(self.flops)

    @property
    def seconds(self):
        return {b: {n: float(np.median(t)) for n, t in s.items()} for b, s in self.samples.items()}

    @property
    def fastest(self):
        return {b: {n: float(np.min(t)) for n, t in s.items()} for b, s in self.samples.items()}

    def ratios(self, batch_size, stat="median"):
        """Speed-up of every model over the first one at ``batch_size``: t(first) / t(name),
        from the median (``stat="median"``) or the fastest call (``stat="min"``)."""
        if stat not in ("median", "min"):
            raise ValueError(f"stat must be 'median' or 'min'; got {stat!r}")
        t = (self.seconds if stat == "median" else self.fastest)[batch_size]
        base = t[self.names[0]]
        return {name: base / t[name] for name in self.names}

    def flop_ratios(self):
        """FLOP reduction of every model against the first one: flops(first) / flops(name)."""
        base = self.flops[self.names[0]]
        return {name: base / f for name, f in self.flops.items()}

    def table(self):
        """Rows (name, flops, flop ratio, then per batch size: ms, speed-up) for printing."""
        fr = self.flop_ratios()
        rows = []
        for name in self.names:
            row = [name, self.flops[name], fr[name]]
            for b in self.seconds:
                row += [self.seconds[b][name] * 1e3, self.ratios(b)[name]]
            rows.append(tuple(row))
        return rows


def forward_times(models, x, batch_sizes=(1, 1000), repeats=20, rounds=3):
    """Time ``model.logits`` on the first rows of ``x`` for every model and batch size.

    Parameters
    ----------
    models : dict of name -> MLP
        The first one is the baseline of :meth:`ForwardTimes.ratios`. All take ``x``'s features.
    x : array (n, n_features)
        n must be at least the largest batch size.
    batch_sizes : tuple of int
    repeats, rounds : int
        See :func:`median_seconds`.

    Returns
    -------
    ForwardTimes
    """
    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict of name -> sparana_lite.MLP")
    for name, m in models.items():
        if not isinstance(m, MLP):
            raise TypeError(f"models[{name!r}] must be a sparana_lite.MLP; got {type(m).__name__}")
    n_features = next(iter(models.values())).widths[0]
    x = V.as_float32_matrix(x, "x", n_features=n_features)
    batch_sizes = [V.positive_int(b, "batch_sizes[%d]" % i) for i, b in enumerate(batch_sizes)]
    if not batch_sizes or max(batch_sizes) > x.shape[0]:
        raise ValueError(f"batch_sizes must be non-empty and at most x's {x.shape[0]} rows; "
                         f"got {batch_sizes}")
    samples = {}
    for b in batch_sizes:
        xb = x[:b]
        samples[b] = call_seconds({name: (lambda m=m: m.logits(xb)) for name, m in models.items()},
                                  repeats=repeats, rounds=rounds)
    return ForwardTimes(samples, {name: flops_per_sample(m) for name, m in models.items()})
