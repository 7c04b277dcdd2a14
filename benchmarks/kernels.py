"""Benchmark the CSR kernels against SciPy and dense NumPy (BLAS) on one sparse layer.

For a ``size x size`` layer W at several sparsities and a dense operand with ``batch`` columns,
times (median over ``--repeats`` runs after a warm-up; each candidate in blocks of calls, the
candidates taking turns over three rounds so that drift on a shared machine hits them alike;
see :func:`medians` for why the blocks start after a short pause):

- ``spmm(A, B)``           vs scipy ``A @ B``   and numpy ``W @ B``
- ``spmm_t(A, B, plan)``   vs scipy ``A.T @ B`` and numpy ``W.T @ B``    (plan built once)
- ``sddmm(A, X, Y)``       vs numpy ``(X @ Y)[rows, cols]`` and scipy ``A.multiply(X @ Y)``

and prints the ratios ``baseline time / our time`` (> 1: the kernel is faster), and whether
the project's targets hold: spmm at least 2x faster than scipy at every sparsity, and faster
than dense numpy from 90% sparsity up. It also reports how much of the CPU other processes
used meanwhile: on a busy 2-core machine a parallel region waits for a descheduled thread, so
such runs say little.

Then the interleaved case (:func:`interleaved`): spmm and scipy timed in single calls, each
right after a dense BLAS product (a model's dense output layer), without and with the thread
scheme of ``sparana_lite.kernels.threads``, against dense NumPy timed the same way; the same
targets are checked there.

``--threshold`` instead times the serial and the parallel drivers on growing problems, to
choose ``PARALLEL_MIN_WORK`` in ``sparana_lite/kernels/csr.py``.

Usage::

    python benchmarks/kernels.py [--repeats 30] [--threads N] [--size 1000] [--batch 256]
    python benchmarks/kernels.py --threshold
"""
import argparse
import os
import platform
import time

import numpy as np
import scipy
import scipy.sparse as sp


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _busy_seconds():
    """CPU seconds used by the whole machine so far (Linux), or None."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """Measures the share of the machine that other processes used while the block ran."""

    def __enter__(self):
        self.t, self.busy, self.own = time.perf_counter(), _busy_seconds(), time.process_time()
        return self

    def __exit__(self, *exc):
        busy = _busy_seconds()
        if busy is None or self.busy is None:
            self.share = None
            return
        wall = time.perf_counter() - self.t
        other = (busy - self.busy) - (time.process_time() - self.own)
        self.share = max(0.0, other / (wall * os.cpu_count()))


def medians(funcs, repeats, interleave=False, rounds=3, warmup=3, settle=0.2, before=None):
    """Median seconds per call of each callable.

    By default each candidate runs in blocks: a pause of ``settle`` seconds, ``warmup``
    untimed calls, then timed calls; the candidates take turns over ``rounds`` rounds so that
    drift on a shared machine hits them alike. This measures each library in its steady state.
    The pause matters: after a call, OpenBLAS's worker threads keep spinning for up to ~0.1 s
    (its THREAD_TIMEOUT) and, on 2 cores, slow a numba parallel region started meanwhile about
    2x; the numba kernels do not slow BLAS in the same way. ``interleave=True`` alternates
    single calls instead, to show that interference; there ``before`` (a callable), if given,
    runs untimed before every timed call.
    """
    for f in funcs.values():
        f()
    times = {name: [] for name in funcs}
    if interleave:
        for _ in range(repeats):
            for name, f in funcs.items():
                if before is not None:
                    before()
                t = time.perf_counter()
                f()
                times[name].append(time.perf_counter() - t)
    else:
        from sparana_lite.cost import median_seconds
        return median_seconds(funcs, repeats, rounds, warmup, settle)
    return {name: float(np.median(ts)) for name, ts in times.items()}


def layer(size, sparsity, rng):
    W = rng.standard_normal((size, size)).astype(np.float32)
    W[rng.random(W.shape) < sparsity] = 0.0
    return W


def products(args, kernels):
    rng = np.random.default_rng(0)
    n, b = args.size, args.batch
    B = rng.standard_normal((n, b)).astype(np.float32)
    X = rng.standard_normal((n, b)).astype(np.float32)
    Y = rng.standard_normal((b, n)).astype(np.float32)
    Y_f = np.asfortranarray(Y)  # Y as the transpose of a C-contiguous array: sddmm copies nothing
    rows = []
    for s in args.sparsities:
        W = layer(n, s, rng)
        A = kernels.csr_matrix_f32(W)
        plan = kernels.TransposePlan(A)
        r, c = A.nonzero()  # A has sorted indices, so this is A.data order
        pattern = A.copy()
        pattern.data[:] = 1.0
        out = np.empty((n, b), np.float32)
        out_v = np.empty(A.nnz, np.float32)

        np.testing.assert_allclose(kernels.spmm(A, B), W @ B, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(kernels.spmm_t(A, B, plan), W.T @ B, rtol=1e-4, atol=1e-3)
        np.testing.assert_allclose(kernels.sddmm(A, X, Y), (X @ Y)[r, c], rtol=1e-4, atol=1e-3)

        t = medians({
            "spmm": lambda: kernels.spmm(A, B, out=out),
            "scipy": lambda: A @ B,
            "numpy": lambda: W @ B,
        }, args.repeats, args.interleave)
        tt = medians({
            "spmm_t": lambda: kernels.spmm_t(A, B, plan, out=out),
            "scipy": lambda: A.T @ B,
            "numpy": lambda: W.T @ B,
        }, args.repeats, args.interleave)
        ts = medians({
            "sddmm": lambda: kernels.sddmm(A, X, Y, out=out_v),
            "sddmm_f": lambda: kernels.sddmm(A, X, Y_f, out=out_v),
            "numpy": lambda: (X @ Y)[r, c],
            "scipy": lambda: pattern.multiply(X @ Y),
        }, args.repeats, args.interleave)
        t_plan = medians({"plan": lambda: kernels.TransposePlan(A)}, 3, rounds=1,
                         settle=0)["plan"]
        rows.append((s, A.nnz, t, tt, ts, t_plan))

    mode = ("single calls interleaved" if args.interleave
            else "blocks of calls after a 0.2 s pause, 3 rounds")
    print(f"\nlayer {n}x{n}, dense operand {n}x{b} float32; median of {args.repeats} runs "
          f"({mode}); ratio = baseline time / our time (> 1: ours is faster)\n")
    head = (f"{'sparsity':>8} {'nnz':>7} | {'spmm ms':>8} {'scipy/':>7} {'numpy/':>7} | "
            f"{'spmm_t ms':>9} {'scipy/':>7} {'numpy/':>7} | {'sddmm ms':>8} {'numpy/':>7} "
            f"{'scipy/':>7}")
    print(head)
    print("-" * len(head))
    for s, nnz, t, tt, ts, _ in rows:
        print(f"{s:8.0%} {nnz:7d} | {t['spmm'] * 1e3:8.3f} {t['scipy'] / t['spmm']:7.2f} "
              f"{t['numpy'] / t['spmm']:7.2f} | {tt['spmm_t'] * 1e3:9.3f} "
              f"{tt['scipy'] / tt['spmm_t']:7.2f} {tt['numpy'] / tt['spmm_t']:7.2f} | "
              f"{ts['sddmm'] * 1e3:8.3f} {ts['numpy'] / ts['sddmm']:7.2f} "
              f"{ts['scipy'] / ts['sddmm']:7.2f}")
    print("\nbaselines and extras (ms):")
    for s, _, t, tt, ts, t_plan in rows:
        print(f"  {s:4.0%}: scipy A@B {t['scipy'] * 1e3:.3f}, numpy W@B {t['numpy'] * 1e3:.3f}, "
              f"scipy A.T@B {tt['scipy'] * 1e3:.3f}, numpy W.T@B {tt['numpy'] * 1e3:.3f}, "
              f"numpy (X@Y)[r,c] {ts['numpy'] * 1e3:.3f}, scipy multiply {ts['scipy'] * 1e3:.3f}"
              f"; sddmm with an F-ordered Y (no copy of Y.T) {ts['sddmm_f'] * 1e3:.3f}"
              f"; building the TransposePlan (once per pattern) {t_plan * 1e3:.3f}")
    vs_scipy = min(t["scipy"] / t["spmm"] for _, _, t, *_ in rows)
    dense = [t["numpy"] / t["spmm"] for s, _, t, *_ in rows if s >= 0.9 - 1e-9]
    print(f"\ntargets: spmm >= 2x scipy at every sparsity: {'yes' if vs_scipy >= 2 else 'NO'} "
          f"(lowest ratio {vs_scipy:.2f}); spmm faster than numpy from 90% sparsity: "
          + (f"{'yes' if min(dense) > 1 else 'NO'} (lowest ratio {min(dense):.2f})" if dense
             else "not measured"))


def interleaved(args, kernels):
    """spmm next to BLAS: every timed call follows a dense output-layer product, as in a model.

    The product is the blog model's output layer, ``(batch x 400) @ (400 x 10)``, which OpenBLAS
    runs on all its threads. ``spmm`` and scipy take turns (single calls, each after that
    product), first as they are ("before"), then inside
    ``sparana_lite.kernels.threads.blas_on_calling_thread()`` ("after": what a model with CSR
    layers does). The dense NumPy baseline ``W @ B`` is timed after the same product with
    BLAS's default threads, as a dense model runs it.
    """
    from sparana_lite.kernels.threads import blas_on_calling_thread

    rng = np.random.default_rng(1)
    n, b = args.size, args.batch
    B = rng.standard_normal((n, b)).astype(np.float32)
    X_out = rng.standard_normal((b, 400)).astype(np.float32)
    W_out = rng.standard_normal((400, 10)).astype(np.float32)
    out = np.empty((n, b), np.float32)

    def dense_layer():
        return X_out @ W_out

    rows = []
    for s in args.sparsities:
        W = layer(n, s, rng)
        A = kernels.csr_matrix_f32(W)
        pair = {"spmm": lambda: kernels.spmm(A, B, out=out), "scipy": lambda: A @ B}
        before = medians(pair, args.repeats, interleave=True, before=dense_layer)
        with blas_on_calling_thread():
            after = medians(pair, args.repeats, interleave=True, before=dense_layer)
        numpy = medians({"numpy": lambda: W @ B}, args.repeats, interleave=True,
                        before=dense_layer)["numpy"]
        rows.append((s, before, after, numpy))

    print(f"\ninterleaved with BLAS: each call follows the product ({b}x400) @ (400x10); median "
          f"of {args.repeats} single calls; ratio = baseline time / spmm time")
    print("before: as they are; after: inside blas_on_calling_thread() (BLAS on the calling "
          "thread)\n")
    head = (f"{'sparsity':>8} | {'before: spmm ms':>15} {'scipy/':>7} {'numpy/':>7} | "
            f"{'after: spmm ms':>14} {'scipy/':>7} {'numpy/':>7} | {'scipy ms':>8} {'numpy ms':>8}")
    print(head)
    print("-" * len(head))
    for s, bf, af, numpy in rows:
        print(f"{s:8.0%} | {bf['spmm'] * 1e3:15.3f} {bf['scipy'] / bf['spmm']:7.2f} "
              f"{numpy / bf['spmm']:7.2f} | {af['spmm'] * 1e3:14.3f} {af['scipy'] / af['spmm']:7.2f} "
              f"{numpy / af['spmm']:7.2f} | {af['scipy'] * 1e3:8.3f} {numpy * 1e3:8.3f}")
    vs_scipy = min(af["scipy"] / af["spmm"] for _, _, af, _ in rows)
    dense = [numpy / af["spmm"] for s, _, af, numpy in rows if s >= 0.9 - 1e-9]
    print(f"\ntargets (after): spmm >= 2x scipy at every sparsity: "
          f"{'yes' if vs_scipy >= 2 else 'NO'} (lowest ratio {vs_scipy:.2f}); spmm faster than "
          f"numpy from 90% sparsity: "
          + (f"{'yes' if min(dense) > 1 else 'NO'} (lowest ratio {min(dense):.2f})" if dense
             else "not measured"))


def threshold(args, csr):
    """Serial vs parallel driver time over a range of work sizes (nnz * n)."""
    rng = np.random.default_rng(0)
    print(f"\nserial / parallel time (> 1: parallel is faster); median of {args.repeats} runs\n")
    print(f"{'m':>6} {'k':>6} {'n':>5} {'nnz':>7} {'work':>10} | {'spmm ser us':>11} "
          f"{'par us':>8} {'ratio':>6} | {'sddmm ser us':>12} {'par us':>8} {'ratio':>6}")
    chunks = csr._CHUNKS_PER_THREAD * csr.get_num_threads()
    for m, k, n, density in [(16, 16, 16, 0.5), (64, 64, 16, 0.5), (64, 64, 32, 0.5),
                             (128, 128, 32, 0.5), (128, 128, 64, 0.5), (256, 256, 64, 0.25),
                             (256, 256, 64, 0.5), (256, 256, 128, 0.5), (512, 512, 128, 0.5),
                             (1000, 1000, 256, 0.01), (1000, 1000, 256, 0.1),
                             (300, 1000, 250, 0.2)]:
        A = sp.random(m, k, density=density, format="csr", dtype=np.float32, random_state=rng)
        A = csr.csr_matrix_f32(A)
        B = rng.standard_normal((k, n)).astype(np.float32)
        X = rng.standard_normal((m, n)).astype(np.float32)
        Yt = rng.standard_normal((k, n)).astype(np.float32)
        out = np.empty((m, n), np.float32)
        out_v = np.empty(A.nnz, np.float32)
        ip, ix, d = A.indptr, A.indices, A.data
        no_bias = (csr._NO_BIAS, csr.LINEAR)
        t = medians({
            "ser": lambda: csr._spmm_serial(ip, ix, d, B, out, *no_bias, csr.COLUMN_TILE),
            "par": lambda: csr._spmm_parallel(ip, ix, d, B, out, *no_bias, chunks,
                                              csr.COLUMN_TILE),
            "sser": lambda: csr._sddmm_serial(ip, ix, X, Yt, out_v),
            "spar": lambda: csr._sddmm_parallel(ip, ix, X, Yt, out_v, chunks),
        }, args.repeats, args.interleave)
        print(f"{m:6d} {k:6d} {n:5d} {A.nnz:7d} {A.nnz * n:10d} | {t['ser'] * 1e6:11.1f} "
              f"{t['par'] * 1e6:8.1f} {t['ser'] / t['par']:6.2f} | {t['sser'] * 1e6:12.1f} "
              f"{t['spar'] * 1e6:8.1f} {t['sser'] / t['spar']:6.2f}")
    print(f"\ncurrent PARALLEL_MIN_WORK = {csr.PARALLEL_MIN_WORK}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--repeats", type=int, default=30, help="timed runs per candidate (>= 1)")
    p.add_argument("--threads", type=int, default=None, help="numba threads (default: all)")
    p.add_argument("--size", type=int, default=1000, help="layer size (size x size)")
    p.add_argument("--batch", type=int, default=256, help="columns of the dense operand")
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.5, 0.8, 0.9, 0.95, 0.99])
    p.add_argument("--interleave", action="store_true",
                   help="alternate single calls of the candidates (shows the interference "
                        "of the BLAS and numba thread pools) instead of blocks of calls")
    p.add_argument("--threshold", action="store_true",
                   help="time the serial vs parallel drivers instead")
    args = p.parse_args()
    if args.repeats < 1:
        p.error("--repeats must be >= 1")

    import numba

    if args.threads is not None:
        numba.set_num_threads(args.threads)
    from sparana_lite import kernels
    from sparana_lite.kernels import csr

    _warm(csr)
    import llvmlite.binding as llvm

    print(f"CPU: {cpu_name()} ({os.cpu_count()} logical cores; LLVM target "
          f"{llvm.get_host_cpu_name()})")
    print(f"numba {numba.__version__}: {numba.get_num_threads()} threads "
          f"(threading layer '{numba.threading_layer()}'); numpy {np.__version__}, "
          f"scipy {scipy.__version__}")
    with OtherLoad() as load:
        if args.threshold:
            threshold(args, csr)
        else:
            products(args, kernels)
            if not args.interleave:
                interleaved(args, kernels)
    if load.share is not None:
        print(f"\nother processes used {load.share:.0%} of the CPU during the run"
              + ("  (WARNING: the machine was busy; parallel timings are unreliable)"
                 if load.share > 0.05 else ""))


def _warm(csr):
    """Run a parallel kernel once, so that numba has chosen its threading layer."""
    A = csr.csr_matrix_f32(np.eye(300, dtype=np.float32))
    csr.spmm(A, np.ones((300, 300), np.float32))


if __name__ == "__main__":
    main()
