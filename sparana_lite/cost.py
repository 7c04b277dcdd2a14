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
import os
import time

import numpy as np

from . import _validate as V
from .model import MLP

__all__ = ["flops_per_sample", "call_seconds", "median_seconds", "forward_times", "ForwardTimes",
           "cpu_call_seconds", "other_cpu_share", "MachineLoad"]


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


def cpu_call_seconds(models, x, batch_sizes=(1, 1000), repeats=7, min_seconds=0.005, warmup=2,
                     seed=0):
    """CPU seconds per ``model.logits`` call of every model, on one thread (BLAS and numba).

    The clock is the process's CPU time, so the time a call spends waiting for a core on a busy
    machine is left out, and a single thread does not wait for a second one to be scheduled
    (on a loaded machine a two-thread call's wall time snaps to the scheduler's tick). In every
    repeat the models take turns in a fresh random order, so drift hits them alike. Calls
    shorter than ``min_seconds`` are looped and the loop's time divided by its length.

    Parameters
    ----------
    models : dict of name -> MLP
    x : array (n, n_features), n at least the largest batch size
    batch_sizes : tuple of int
    repeats : int
        Timed samples per model and batch size.
    min_seconds : float
        Shortest sample: a call is repeated ``ceil(min_seconds / its warm-up time)`` times.
    warmup : int
        Untimed calls per model and batch size before the first repeat.
    seed : int
        Seeds the order of the turns.

    Returns
    -------
    dict batch_size -> {name: list of float}
        Seconds per call, ``repeats`` samples each.
    """
    import numba
    from threadpoolctl import threadpool_limits

    if not isinstance(models, dict) or not models:
        raise ValueError("models must be a non-empty dict of name -> sparana_lite.MLP")
    for name, m in models.items():
        if not isinstance(m, MLP):
            raise TypeError(f"models[{name!r}] must be a sparana_lite.MLP; got {type(m).__name__}")
    x = V.as_float32_matrix(x, "x", n_features=next(iter(models.values())).widths[0])
    batch_sizes = [V.positive_int(b, "batch_sizes[%d]" % i) for i, b in enumerate(batch_sizes)]
    if not batch_sizes or max(batch_sizes) > x.shape[0]:
        raise ValueError(f"batch_sizes must be non-empty and at most x's {x.shape[0]} rows; "
                         f"got {batch_sizes}")
    repeats = V.positive_int(repeats, "repeats")
    warmup = V.positive_int(warmup, "warmup", minimum=0)
    min_seconds = V.finite_float(min_seconds, "min_seconds", low=0)
    rng = np.random.default_rng(seed)
    names = list(models)
    out = {}
    threads = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        with threadpool_limits(limits=1):
            for b in batch_sizes:
                xb = x[:b]
                loops = {}
                for name in names:
                    for _ in range(warmup):
                        models[name].logits(xb)
                    start = time.process_time()
                    models[name].logits(xb)
                    once = max(time.process_time() - start, 1e-7)
                    loops[name] = max(1, int(np.ceil(min_seconds / once)))
                times = {name: [] for name in names}
                for _ in range(repeats):
                    for i in rng.permutation(len(names)):
                        name, m = names[i], models[names[i]]
                        start = time.process_time()
                        for _ in range(loops[name]):
                            m.logits(xb)
                        times[name].append((time.process_time() - start) / loops[name])
                out[b] = times
    finally:
        numba.set_num_threads(threads)
    return out


# --------------------------------------------------------------------------- a busy machine

def _cpu_busy_seconds(stat_text, ticks_per_second):
    """Seconds all cores spent busy since boot, from the text of ``/proc/stat``: the first
    ("cpu") line's user, nice, system, irq, softirq and steal fields (idle and iowait left out)."""
    for line in stat_text.splitlines():
        if line.startswith("cpu "):
            f = [int(v) for v in line.split()[1:]]
            f += [0] * (8 - len(f))
            return (f[0] + f[1] + f[2] + f[5] + f[6] + f[7]) / ticks_per_second
    raise ValueError("stat_text has no aggregate 'cpu ' line")


def other_cpu_share(busy_seconds, own_cpu_seconds, wall_seconds, n_cores):
    """Fraction of the machine's CPU capacity that other processes used during a measurement.

    Parameters
    ----------
    busy_seconds : float
        Seconds all cores were busy during the measurement (every process).
    own_cpu_seconds : float
        CPU seconds of the measuring process during it (all its threads).
    wall_seconds : float
        Length of the measurement, > 0.
    n_cores : int

    Returns
    -------
    float in [0, 1]
        ``(busy - own) / (wall * n_cores)``, clipped: 0 on an idle machine, 0.5 when other
        processes kept one of two cores busy.
    """
    wall_seconds = V.finite_float(wall_seconds, "wall_seconds", low=0, low_open=True)
    n_cores = V.positive_int(n_cores, "n_cores")
    return float(min(1.0, max(0.0, (busy_seconds - own_cpu_seconds) / (wall_seconds * n_cores))))


class MachineLoad:
    """Context manager recording how busy the machine was while its block ran (Linux).

    After the block: ``load_average`` (the 1-minute load average before and after),
    ``other_cpu_share`` (:func:`other_cpu_share`; None where ``/proc/stat`` is missing),
    ``n_cores`` and ``busy``: True when other processes used more than ``busy_share`` of the
    CPU capacity; only where that share cannot be read, when the load average exceeded the
    number of cores (it counts this process too, so it cannot tell who kept the cores busy).

        with sl.cost.MachineLoad() as load:
            times = forward_times(...)
        load.as_dict()
    """

    def __init__(self, busy_share=0.25):
        self.busy_share = V.finite_float(busy_share, "busy_share", low=0, high=1)
        self.n_cores = os.cpu_count() or 1
        self.load_average, self.other_cpu_share, self.busy = [], None, None

    def _busy(self):
        try:
            with open("/proc/stat") as f:
                return _cpu_busy_seconds(f.read(), os.sysconf("SC_CLK_TCK"))
        except (OSError, ValueError):
            return None

    def __enter__(self):
        self.load_average = [os.getloadavg()[0]]
        self._start = (time.perf_counter(), time.process_time(), self._busy())
        return self

    def __exit__(self, *exc):
        wall, own, busy = (time.perf_counter(), time.process_time(), self._busy())
        self.load_average.append(os.getloadavg()[0])
        if busy is not None and self._start[2] is not None and wall > self._start[0]:
            self.other_cpu_share = other_cpu_share(busy - self._start[2], own - self._start[1],
                                                   wall - self._start[0], self.n_cores)
        # the load average counts this process too (a 2-thread fine-tuning just before the
        # timing lifts it to 2 on 2 cores), so it decides only where /proc/stat is missing
        self.busy = bool(self.other_cpu_share > self.busy_share if self.other_cpu_share is not None
                         else max(self.load_average) > self.n_cores)
        return False

    def as_dict(self):
        """JSON-able record: load_average, other_cpu_share, n_cores, busy_share, busy."""
        return {"load_average_1min": [round(v, 2) for v in self.load_average],
                "other_cpu_share": None if self.other_cpu_share is None
                else round(self.other_cpu_share, 3),
                "n_cores": self.n_cores, "busy_share": self.busy_share, "busy": self.busy}
