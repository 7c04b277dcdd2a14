"""Independent float64 NumPy references for the model maths, written from the equations."""
import numpy as np

ACT = {
    "relu": (lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(float)),
    "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
    "linear": (lambda z: z, lambda z: np.ones_like(z)),
}


def loss(Ws, bs, x, y, head, activation):
    """Summed loss of the network (float64)."""
    a = np.asarray(x, float)
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W + b
        a = ACT[activation][0](z) if i < len(Ws) - 1 else z
    t = np.eye(a.shape[1])[y]
    if head == "lq":
        return 0.5 * np.sum((a - t) ** 2)
    z = a - a.max(axis=1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -np.sum(logp[np.arange(len(y)), y])


def gradients(Ws, bs, x, y, head, activation):
    """Backprop in float64 with pre-activations kept: (dWs, dbs)."""
    f, df = ACT[activation]
    a, zs, acts = np.asarray(x, float), [], [np.asarray(x, float)]
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W + b
        zs.append(z)
        a = f(z) if i < len(Ws) - 1 else z
        acts.append(a)
    t = np.eye(a.shape[1])[y]
    if head == "lq":
        d = a - t
    else:
        e = np.exp(a - a.max(axis=1, keepdims=True))
        d = e / e.sum(axis=1, keepdims=True) - t
    dWs, dbs = [None] * len(Ws), [None] * len(Ws)
    for i in range(len(Ws) - 1, -1, -1):
        dWs[i], dbs[i] = acts[i].T @ d, d.sum(axis=0)
        if i > 0:
            d = (d @ Ws[i].T) * df(zs[i - 1])
    return dWs, dbs


def adam_step(w, g, m, v, t, lr, beta1=0.9, beta2=0.999, eps=1e-7, l2=0.0, batch=1, clip=1.0):
    """The original Sparana Adam step on float64 copies; returns new (w, m, v)."""
    g = np.clip(g, -clip, clip) if clip > 0 else g
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    lr_t = lr * np.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
    return w - lr_t * m / (np.sqrt(v) + eps) - lr * l2 / batch * w, m, v


def outputs_with_1_and_2_threads(script):
    """The bytes ``script`` writes to stdout, run in fresh processes with 1 and with 2 numba
    threads (the script reads its thread count from argv[1])."""
    import os
    import subprocess
    import sys
    env = dict(os.environ, NUMBA_NUM_THREADS="2")
    return [subprocess.run([sys.executable, "-c", script, str(t)], env=env,
                           capture_output=True, check=True).stdout for t in (1, 2)]
