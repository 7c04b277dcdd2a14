"""Benchmark the numba.cuda kernels and GPU training against cuSPARSE (CuPy) and PyTorch CUDA.

Needs an NVIDIA GPU and the ``cuda`` extra (``pip install -e ".[cuda]"``); CuPy and PyTorch
are optional baselines (``pip install cupy-cuda12x torch``), compared when installed. Prints
medians over ``--repeats`` timed blocks (the GPU is synchronised around each block) and ratios
``baseline time / our time`` (> 1: sparana_lite is faster):

1. one ``--size`` x ``--size`` layer at 90, 95 and 99% sparsity against a dense operand with
   ``--batch`` columns: ``spmm``, ``spmm_t`` (plan built once) and ``sddmm`` against CuPy's
   cuSPARSE (``A @ B``, ``A.T @ B``) and PyTorch's sparse CSR product; and the dense ``matmul``
   against ``torch.matmul``;
2. ms per training step of the blog's LQ model (784-1000-800-400-10, batch 250, Adam) against
   the same step in PyTorch CUDA;
3. with ``--full``: the blog's 20,000-step LQ run on the GPU (wall time, test accuracy),
   against the CPU model of the zoo when that one is cached.

Usage::

    python benchmarks/gpu.py [--repeats 20] [--size 1000] [--batch 250] [--full]
"""
import argparse
import sys
import time

import numpy as np
import scipy.sparse as sp

import sparana_lite as sl
from sparana_lite.device import DeviceUnavailableError
from sparana_lite.train import make_step
from train import BATCH, EPS, LR, WIDTHS, torch_trainer  # benchmarks/train.py: the CPU benchmark

SPARSITIES = (0.9, 0.95, 0.99)


def require_gpu():
    """The CUDA kernel set, or exit with one message saying what is missing."""
    try:
        dev = sl.device.get("cuda")
    except DeviceUnavailableError as e:
        sys.exit(f"benchmarks/gpu.py needs an NVIDIA GPU: {e}")
    if dev.G.SIMULATOR:
        sys.exit("benchmarks/gpu.py needs an NVIDIA GPU: NUMBA_ENABLE_CUDASIM is set, and the "
                 "CUDA simulator (for tests) says nothing about speed; unset it")
    return dev


def optional(module):
    try:
        return __import__(module)
    except ImportError:
        return None


def timed(fn, sync, calls, repeats):
    """Median seconds per call of ``fn`` over ``repeats`` blocks of ``calls`` calls."""
    fn()
    sync()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        sync()
        times.append((time.perf_counter() - start) / calls)
    return float(np.median(times))


def report(title, ours, baselines):
    print(f"  {title:28s} {ours * 1e6:10.1f} us" + "".join(
        f"   {name} {t * 1e6:9.1f} us (x{t / ours:5.2f})" for name, t in baselines.items()))


def kernels(dev, args, cupy, torch):
    G, cuda = dev.G, dev.G.cuda
    rng = np.random.default_rng(0)
    n, b = args.size, args.batch
    sync = cuda.synchronize
    print(f"Kernels: {n} x {n} layer, dense operand with {b} columns, float32 "
          "(x ratio = baseline time / ours; > 1: ours faster)")
    verdicts = []
    for s in SPARSITIES:
        A = sp.random(n, n, density=1 - s, format="csr", dtype=np.float32, random_state=1)
        B = rng.standard_normal((n, b)).astype(np.float32)
        X, Y = rng.standard_normal((n, b)).astype(np.float32), rng.standard_normal((b, n)).astype(np.float32)
        dA, plan = G.DeviceCSR.from_scipy(A), G.DevicePlan.of(A)
        dB, dX, dY = G.to_device(B), G.to_device(X), G.to_device(Y)
        out_n, out_nnz = cuda.device_array((n, b), np.float32), cuda.device_array(A.nnz, np.float32)
        ours = {"spmm": timed(lambda: G.spmm(dA, dB, out=out_n), sync, 20, args.repeats),
                "spmm_t": timed(lambda: G.spmm_t(dA, dB, plan=plan, out=out_n), sync, 20, args.repeats),
                "sddmm": timed(lambda: G.sddmm(dA, dX, dY, out=out_nnz), sync, 20, args.repeats)}
        base = {k: {} for k in ours}
        if cupy is not None:
            import cupyx.scipy.sparse as csp
            cA, cB = csp.csr_matrix(A), cupy.asarray(B)
            cAT = cA.T.tocsr()
            csync = cupy.cuda.Device().synchronize
            base["spmm"]["cuSPARSE"] = timed(lambda: cA @ cB, csync, 20, args.repeats)
            base["spmm_t"]["cuSPARSE"] = timed(lambda: cAT @ cB, csync, 20, args.repeats)
        if torch is not None:
            tA = torch.sparse_csr_tensor(torch.from_numpy(A.indptr.astype(np.int64)),
                                         torch.from_numpy(A.indices.astype(np.int64)),
                                         torch.from_numpy(A.data), size=A.shape).cuda()
            tB = torch.from_numpy(B).cuda()
            tsync = torch.cuda.synchronize
            base["spmm"]["torch CSR"] = timed(lambda: tA @ tB, tsync, 20, args.repeats)
            tX, tY = torch.from_numpy(X).cuda(), torch.from_numpy(Y).cuda()
            rows = torch.from_numpy(np.repeat(np.arange(n), np.diff(A.indptr))).cuda()
            cols = torch.from_numpy(A.indices.astype(np.int64)).cuda()
            base["sddmm"]["torch dense+gather"] = timed(lambda: (tX @ tY)[rows, cols], tsync, 20,
                                                        args.repeats)
        print(f" sparsity {s:.0%} (nnz {A.nnz}):")
        for name, t in ours.items():
            report(name, t, base[name])
        if "cuSPARSE" in base["spmm"]:
            verdicts.append(base["spmm"]["cuSPARSE"] / ours["spmm"] >= 0.5)
    a = rng.standard_normal((b, n)).astype(np.float32)
    W = rng.standard_normal((n, n)).astype(np.float32)
    da, dW = G.to_device(a), G.to_device(W)
    out = cuda.device_array((b, n), np.float32)
    base = {}
    if torch is not None:
        ta, tW = torch.from_numpy(a).cuda(), torch.from_numpy(W).cuda()
        torch.backends.cuda.matmul.allow_tf32 = False
        base["torch.matmul"] = timed(lambda: ta @ tW, torch.cuda.synchronize, 20, args.repeats)
    print(" dense:")
    report(f"matmul ({b}x{n} @ {n}x{n})", timed(lambda: G.matmul(da, dW, out=out),
                                                 cuda.synchronize, 20, args.repeats), base)
    if verdicts:
        print(f"spmm at least half as fast as cuSPARSE at 90-99% sparsity: "
              f"{'yes' if all(verdicts) else 'no'}")


def training_step(dev, args, torch):
    ds = sl.load_mnist()
    model = sl.MLP(WIDTHS, head="lq", seed=0)
    gpu = model.to_device("cuda")
    step = make_step(gpu, sl.Adam(lr=LR, eps=EPS), BATCH)
    x, y = dev.asarray(ds.x_train), dev.asarray(ds.y_train, dtype=np.int64)
    order = dev.asarray(np.random.default_rng(0).permutation(len(ds.x_train)), dtype=np.int64)
    ours = timed(lambda: step(dev.take_rows(x, order, 0, BATCH), dev.take_rows(y, order, 0, BATCH)),
                 dev.G.cuda.synchronize, 50, args.repeats)
    base = {}
    if torch is not None:
        torch_step = torch_trainer(model, ds.x_train, ds.y_train, fused=True, device="cuda")
        idx = np.random.default_rng(0).permutation(len(ds.x_train))[:BATCH]
        base["torch CUDA"] = timed(lambda: torch_step(idx), torch.cuda.synchronize, 50,
                                   args.repeats)
    print(f"Training step, LQ {'-'.join(map(str, WIDTHS))}, batch {BATCH}, Adam "
          "(x ratio = baseline time / ours):")
    report("sparana_lite on the GPU", ours, base)


def full_run(dev):
    ds = sl.load_mnist()
    config = sl.zoo.CONFIGS["lq-mnist"]
    model = sl.MLP(list(config.widths), head=config.head, seed=0).to_device("cuda")
    start = time.perf_counter()
    sl.train(model, ds.x_train, ds.y_train, optimizer=config.make_optimizer(),
             steps=config.full_steps, batch_size=config.batch_size, seed=0)
    dev.G.cuda.synchronize()
    seconds = time.perf_counter() - start
    accuracy = model.accuracy(ds.x_test, ds.y_test)
    print(f"The blog's LQ run on the GPU ({config.full_steps} steps): {seconds:.1f} s, "
          f"test accuracy {accuracy:.2%}")
    cached = sl.zoo.path("lq-mnist", seed=0, steps=config.full_steps)
    if cached.exists():
        cpu = sl.MLP.load(cached)
        gap = 100 * (accuracy - cpu.accuracy(ds.x_test, ds.y_test))
        print(f"  the CPU model (zoo cache): {cpu.accuracy(ds.x_test, ds.y_test):.2%}, "
              f"{cpu.metadata.get('train_seconds', float('nan')):.0f} s to train; GPU - CPU = "
              f"{gap:+.2f} points; within 0.2 points: {'yes' if abs(gap) <= 0.2 else 'no'}")
    else:
        print("  (no CPU model of 20,000 steps in the zoo cache to compare with: "
              "sl.zoo.trained('lq-mnist', steps=20_000) trains one)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="timed blocks per variant")
    parser.add_argument("--size", type=int, default=1000, help="rows and columns of the layer")
    parser.add_argument("--batch", type=int, default=BATCH, help="columns of the dense operand")
    parser.add_argument("--full", action="store_true", help="also time the 20,000-step LQ run")
    args = parser.parse_args()
    dev = require_gpu()
    cupy, torch = optional("cupy"), optional("torch")
    if torch is not None and not torch.cuda.is_available():
        torch = None
    name = dev.G.cuda.get_current_device().name
    print(f"GPU: {name.decode() if isinstance(name, bytes) else name}; baselines: "
          f"cupy {'yes' if cupy else 'not installed'}, torch CUDA {'yes' if torch else 'no'}")
    kernels(dev, args, cupy, torch)
    training_step(dev, args, torch)
    if args.full:
        full_run(dev)


if __name__ == "__main__":
    main()
