"""Benchmark: is a network shrunk by removing activations as much faster as its FLOPs say?

Loads the zoo's LQ model (784-1000-800-400-10), prunes every layer but the last to the target
sparsity by MAAV (scores on 2,000 training images), and times the forward pass
(``model.logits``) at batch 1 and batch 1,000 of four models:

- ``dense``   the original, unpruned model (its outputs differ: it is not pruned)
- ``masked``  the pruned model, dense matrices full of zeros
- ``csr``     the pruned model in CSR storage (only the nonzeros)
- ``shrunk``  ``sl.remove_activations(pruned)``: smaller dense matrices

The last three compute the same function; :func:`check_outputs` checks that the CSR and shrunk
models give the masked model's outputs before anything is timed. Times are one-thread CPU
time (``sl.cost.cpu_call_seconds``), and the load of the machine during the measurement is
printed: on a busy machine a two-thread wall clock measures the scheduler (calls snap to its
tick), not the model.

It prints median times, speed-ups over ``dense`` and FLOP reductions (dense layers count every
entry, CSR ones their nonzeros; see ``sparana_lite.cost``), and whether the target holds: the
shrunk model's speed-up at batch 1,000 is at least 0.8x its FLOP reduction.

Usage::

    python benchmarks/removal.py [--sparsity 0.9] [--repeats 30] [--steps N]
"""
import argparse

import numpy as np

import sparana_lite as sl


def four_models(model, x_score, sparsity):
    """dense, masked, csr and shrunk versions of ``model`` pruned by MAAV to ``sparsity``."""
    pruned = sl.prune.prune(model, sl.prune.maav(model, x_score), ratio=sparsity)
    return {"dense": model, "masked": pruned, "csr": pruned.to_sparse(),
            "shrunk": sl.remove_activations(pruned).to_dense()}


def check_outputs(models, x, tol=1e-4):
    """Largest |difference| of the ``csr`` and ``shrunk`` models' logits from the ``masked``
    model's on ``x``, relative to max(1, max |masked logits|); AssertionError above ``tol``.
    (``dense``, the unpruned original, computes another function and is not compared.)"""
    ref = models["masked"].logits(x)
    scale = max(1.0, float(np.abs(ref).max()))
    worst = 0.0
    for name in ("csr", "shrunk"):
        diff = float(np.abs(models[name].logits(x) - ref).max()) / scale
        if diff > tol:
            raise AssertionError(f"{name} differs from masked by {diff:.2e} (relative) > {tol}")
        worst = max(worst, diff)
    return worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--steps", type=int, default=None, help="zoo training steps")
    args = parser.parse_args()

    ds = sl.load_mnist()
    model = sl.zoo.trained("lq-mnist", steps=args.steps)
    models = four_models(model, ds.x_train[:2000], args.sparsity)
    x = ds.x_test[:1000]
    worst = check_outputs(models, x)
    with sl.cost.MachineLoad() as load:
        samples = sl.cost.cpu_call_seconds(models, x, batch_sizes=(1, 1000),
                                           repeats=args.repeats)
    t = sl.cost.ForwardTimes(samples, {n: sl.cost.flops_per_sample(m) for n, m in models.items()})
    print(f"csr and shrunk give the masked model's outputs (largest relative difference "
          f"{worst:.1e}); machine load during the timing: {load.as_dict()}"
          + (" -- BUSY: ratios only, and re-measure on a quiet machine" if load.busy else ""))
    print(f"MAAV pruning to {args.sparsity:.0%} (output layer spared); widths "
          f"{models['dense'].widths} -> {models['shrunk'].widths}; median of {args.repeats} "
          f"calls, one thread, CPU time\n")
    print(f"{'model':<8} {'MFLOP':>7} {'FLOP ratio':>10} | {'b=1 us':>8} {'speed-up':>8} | "
          f"{'b=1000 ms':>9} {'speed-up':>8}")
    for name, flops, fr, t1, s1, t1000, s1000 in t.table():
        print(f"{name:<8} {flops / 1e6:7.2f} {fr:10.2f} | {t1 * 1e3:8.1f} {s1:8.2f} | "
              f"{t1000:9.2f} {s1000:8.2f}")
    speedup, flop_ratio = t.ratios(1000)["shrunk"], t.flop_ratios()["shrunk"]
    print(f"\ntarget: shrunk speed-up at batch 1,000 >= 0.8 x its FLOP reduction: "
          f"{'yes' if speedup >= 0.8 * flop_ratio else 'NO'} ({speedup:.2f} vs "
          f"{flop_ratio:.2f}, ratio {speedup / flop_ratio:.2f})")


if __name__ == "__main__":
    main()
