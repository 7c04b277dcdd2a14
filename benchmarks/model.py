"""The blog's model with CSR hidden layers against its dense twin: forward pass and training step.

The LQ model 784-1000-800-400-10 (seed 0) is pruned with ``sl.prune.magnitude`` to 90%, 95% and
99% sparsity in its three hidden layers (the output layer stays dense, as ``sl.prune.prune``
leaves it). The *dense twin* is that pruned model as it is (dense layers with masks); the *CSR
model* is ``pruned.to_sparse(layers=[0, 1, 2])`` (CSR hidden layers, dense output layer). Both
compute the same function. Times, in milliseconds per call:

- the forward pass ``model.logits(x)`` on MNIST batches of 256 and 1000 images,
- the training step (forward, loss, backward, Adam update) on batches of 250, the body of
  ``sl.train``,

for the dense twin, the CSR model, and the CSR model with the thread scheme of
``sparana_lite.kernels.threads`` switched off (``ENABLED = False``: BLAS's and numba's thread
pools then fight). Each variant runs in blocks of calls after a short pause (see
:func:`per_call`); the variants take turns over ``--rounds`` rounds (medians), so that drift
on a shared machine hits them alike. Ratios are dense time / CSR time (> 1: CSR is faster).
Targets (issue 7): forward at 95% at least 3x faster than dense, training step at least 2x.

Usage::

    python benchmarks/model.py [--rounds 7] [--calls 10] [--sparsities 0.9 0.95 0.99]
"""
import argparse
import os
import time

import numpy as np

import sparana_lite as sl
from sparana_lite.kernels import threads
from sparana_lite.train import make_step
from kernels import OtherLoad, cpu_name

WIDTHS = [784, 1000, 800, 400, 10]
TRAIN_BATCH = 250


def per_call(f, calls, settle=0.2):
    """Seconds per call of ``f(i)`` over ``calls`` calls, after a pause of ``settle`` seconds
    and one untimed call: the previous variant's BLAS threads keep spinning for ~0.1 s after
    its last product, and would otherwise slow the first calls of the next variant."""
    time.sleep(settle)
    f(0)
    start = time.perf_counter()
    for i in range(calls):
        f(i)
    return (time.perf_counter() - start) / calls


def variants(model, scheme):
    """(name, model, thread scheme on?) for the dense twin and the CSR model."""
    csr = model.to_sparse(layers=list(range(len(model.layers) - 1)))
    out = [("dense", model, True), ("csr", csr, True)]
    if scheme:
        out.append(("csr, no scheme", csr, False))
    return out


def measure(x, y, model, args):
    """Median ms per call of each variant's forward passes and training steps."""
    rng = np.random.default_rng(0)
    fwd = {b: [x[rng.choice(len(x), b, replace=False)] for _ in range(args.calls)]
           for b in args.batches}
    train_idx = [rng.choice(len(x), TRAIN_BATCH, replace=False) for _ in range(args.calls)]
    jobs = {}
    for name, m, on in variants(model, not args.no_off):
        for b, xs in fwd.items():
            jobs[(name, f"forward {b}")] = (on, lambda i, m=m, xs=xs: m.logits(xs[i]))
        step = make_step(m.copy(), sl.Adam(lr=1e-4, eps=1e-3), TRAIN_BATCH)
        jobs[(name, "train step")] = (
            on, lambda i, step=step: step(x[train_idx[i]], y[train_idx[i]]))
    times = {key: [] for key in jobs}
    for r in range(args.rounds + 1):  # round 0 warms up (JIT, allocator, thread pools)
        for key, (on, f) in jobs.items():
            threads.ENABLED = on
            try:
                t = per_call(f, args.calls)
            finally:
                threads.ENABLED = True
            if r:
                times[key].append(t)
    return {key: float(np.median(ts)) * 1e3 for key, ts in times.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rounds", type=int, default=7, help="timed rounds per variant (>= 1)")
    p.add_argument("--calls", type=int, default=10, help="calls per round")
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.95, 0.99])
    p.add_argument("--batches", type=int, nargs="+", default=[256, 1000],
                   help="forward-pass batch sizes")
    p.add_argument("--no-off", action="store_true",
                   help="skip the CSR model with the thread scheme switched off")
    args = p.parse_args()
    if args.rounds < 1 or args.calls < 1:
        p.error("--rounds and --calls must be >= 1")

    import numba
    ds = sl.load_mnist()
    x, y = ds.x_train, ds.y_train
    model = sl.MLP(WIDTHS, head="lq", seed=0)
    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores); numba {numba.__version__} "
          f"{numba.get_num_threads()} threads; BLAS threads {threads.blas_threads()}")
    print(f"LQ {'-'.join(map(str, WIDTHS))}, hidden layers pruned by magnitude; median ms per "
          f"call over {args.rounds} rounds of {args.calls} calls; ratio = dense / CSR\n")
    results = {}
    with OtherLoad() as load:
        for s in args.sparsities:
            pruned = sl.prune.prune(model, sl.prune.magnitude(model), ratio=s)
            results[s] = measure(x, y, pruned, args)
    tasks = [f"forward {b}" for b in args.batches] + ["train step"]
    head = f"{'sparsity':>8} {'task':>14} | {'dense ms':>9} {'CSR ms':>8} {'ratio':>6}"
    if not args.no_off:
        head += f" | {'CSR, no scheme ms':>17} {'ratio':>6}"
    print(head)
    print("-" * len(head))
    for s, t in results.items():
        for task in tasks:
            d, c = t[("dense", task)], t[("csr", task)]
            line = f"{s:8.0%} {task:>14} | {d:9.2f} {c:8.2f} {d / c:6.2f}"
            if not args.no_off:
                o = t[("csr, no scheme", task)]
                line += f" | {o:17.2f} {d / o:6.2f}"
            print(line)
    if 0.95 in results:
        t = results[0.95]
        fwd = min(t[("dense", f"forward {b}")] / t[("csr", f"forward {b}")] for b in args.batches)
        step = t[("dense", "train step")] / t[("csr", "train step")]
        print(f"\ntargets at 95%: forward >= 3x faster than dense: {'yes' if fwd >= 3 else 'NO'} "
              f"(lowest ratio {fwd:.2f}); training step >= 2x: {'yes' if step >= 2 else 'NO'} "
              f"(ratio {step:.2f})")
    if load.share is not None:
        print(f"\nother processes used {load.share:.0%} of the CPU during the run"
              + ("  (WARNING: the machine was busy; parallel timings are unreliable)"
                 if load.share > 0.05 else ""))


if __name__ == "__main__":
    main()
