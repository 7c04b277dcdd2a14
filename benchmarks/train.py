"""Milliseconds per training step of the blog's LQ model (784-1000-800-400-10, batch 250, Adam
lr 1e-4, eps 1e-3, gradients clipped to [-1, 1]): sparana_lite against the same step written in
plain NumPy and in PyTorch CPU (when installed). Prints medians and ratios; run it as

    .venv/bin/python benchmarks/train.py [--steps 60] [--repeats 7]

Every variant trains on the same MNIST batches; the rounds interleave the variants so that a
noisy neighbour slows all of them alike. Ratios below 1 mean sparana_lite is faster.
"""
import argparse
import os
import platform
import time

import numpy as np

import sparana_lite as sl
from sparana_lite.train import make_step

WIDTHS = [784, 1000, 800, 400, 10]
LR, BETA1, BETA2, EPS, BATCH = 1e-4, 0.9, 0.999, 1e-3, 250


def numpy_trainer(model, x, y):
    """The step in plain NumPy: the textbook forward, backward and Adam update, float32."""
    Ws = [W.copy() for W in model.weights]
    bs = [b.copy() for b in model.biases]
    params = Ws + bs
    ms = [np.zeros_like(p) for p in params]
    vs = [np.zeros_like(p) for p in params]
    t = [0]

    def step(idx):
        xb, yb = x[idx], y[idx]
        acts = [xb]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = acts[-1] @ W + b
            acts.append(np.maximum(z, 0) if i < len(Ws) - 1 else z)
        d = acts[-1].copy()
        d[np.arange(len(yb)), yb] -= 1
        gWs, gbs = [None] * len(Ws), [None] * len(Ws)
        for i in range(len(Ws) - 1, -1, -1):
            gWs[i], gbs[i] = acts[i].T @ d, d.sum(0)
            if i > 0:
                d = (d @ Ws[i].T) * (acts[i] > 0)
        t[0] += 1
        lr_t = LR * np.sqrt(1 - BETA2 ** t[0]) / (1 - BETA1 ** t[0])
        for p, g, m, v in zip(params, gWs + gbs, ms, vs):
            g = np.clip(g, -1, 1)
            m *= BETA1
            m += (1 - BETA1) * g
            v *= BETA2
            v += (1 - BETA2) * g * g
            p -= lr_t * m / (np.sqrt(v) + EPS)
    return step


def torch_trainer(model, x, y, fused, device="cpu"):
    """The step in PyTorch on ``device`` ("cpu" or "cuda"): ``step(idx)`` for a NumPy index array."""
    import torch
    layers = []
    for W, b in zip(model.weights, model.biases):
        lin = torch.nn.Linear(W.shape[0], W.shape[1])
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T.copy()))
            lin.bias.copy_(torch.from_numpy(b))
        layers += [lin, torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers[:-1]).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=LR, betas=(BETA1, BETA2), eps=EPS,
                           **({"fused": True} if fused else {"foreach": True}))
    xt, yt = torch.tensor(x, device=device), torch.tensor(y, device=device)
    eye = torch.eye(10, device=device)

    def step(idx):
        idx = torch.from_numpy(idx).to(device)
        xb, tb = xt[idx], eye[yt[idx]]
        opt.zero_grad(set_to_none=False)
        loss = 0.5 * ((net(xb) - tb) ** 2).sum()
        loss.backward()
        for p in net.parameters():
            p.grad.clamp_(-1, 1)
        opt.step()
    return step


def sparana_trainer(model, x, y):
    """The loop body of sl.train (sl.train itself adds validation and a progress bar)."""
    step = make_step(model.copy(), sl.Adam(lr=LR, eps=EPS), BATCH)
    return lambda idx: step(x[idx], y[idx])


def time_steps(step, batches):
    start = time.perf_counter()
    for idx in batches:
        step(idx)
    return (time.perf_counter() - start) / len(batches) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40, help="steps per timed round")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds per variant")
    args = parser.parse_args()

    ds = sl.load_mnist()
    x, y = ds.x_train, ds.y_train
    model = sl.MLP(WIDTHS, head="lq", seed=0)
    rng = np.random.default_rng(0)
    batches = [rng.choice(len(x), BATCH, replace=False) for _ in range(args.steps)]

    variants = {"sparana_lite": sparana_trainer(model, x, y), "numpy": numpy_trainer(model, x, y)}
    try:
        import torch
        variants["torch (foreach Adam)"] = torch_trainer(model, x, y, fused=False)
        variants["torch (fused Adam)"] = torch_trainer(model, x, y, fused=True)
        torch_note = f"torch {torch.__version__}, {torch.get_num_threads()} threads"
    except ImportError:
        torch_note = "torch not installed (pip install torch==2.13.0 for the comparison)"

    for step in variants.values():  # warm-up: JIT compilation, allocator, BLAS threads
        time_steps(step, batches[:5])
    times = {name: [] for name in variants}
    for _ in range(args.repeats):
        for name, step in variants.items():
            times[name].append(time_steps(step, batches))

    import numba
    print(f"LQ {'-'.join(map(str, WIDTHS))}, batch {BATCH}, Adam; {args.repeats} rounds of "
          f"{args.steps} steps; {os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
          f"numba {numba.get_num_threads()} threads; {torch_note}")
    ours = float(np.median(times["sparana_lite"]))
    print(f"{'variant':24s} {'ms/step (median)':>17s} {'sparana_lite / variant':>23s}")
    for name, ts in times.items():
        med = float(np.median(ts))
        print(f"{name:24s} {med:17.2f} {ours / med:23.3f}")


if __name__ == "__main__":
    main()
