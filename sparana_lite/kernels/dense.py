"""Fused element-wise kernels for dense layers and optimizer updates (numba, CPU).

The matrix products of dense layers go to BLAS (``@``); what is left is element-wise work that
NumPy would do in several passes over memory: bias + activation, the activation derivative in
backprop, and the optimizer updates. Each kernel here does it in one pass, in place.

Every kernel has a parallel driver (``prange`` over rows or blocks) and a serial twin for small
inputs; both call the same per-row (or per-block) body, so they give identical results, and the
result of every element never depends on the number of threads.
"""
import math

import numpy as np
from numba import float32, njit, prange

from .threads import blas_limited, serial_here

LINEAR, RELU, TANH, SIGMOID = 0, 1, 2, 3
ACTIVATIONS = {"linear": LINEAR, "relu": RELU, "tanh": TANH, "sigmoid": SIGMOID}

# Below this many elements the serial twin runs. These kernels run between BLAS calls, whose
# threads keep spinning for a while after a product; measured on a 2-core EPYC inside the
# training step of 784-1000-800-400-10 (batch 250), parallel element-wise loops then fought
# those threads: a product followed by a parallel bias+ReLU took 8.0 ms against 1.6 ms with the
# serial loop, and the whole step ran at 68 ms/step against 14 ms/step serial. Only arrays far
# larger than that model's (over 4M elements) go parallel.
# The optimizer updates follow the step's last product. Two threads update the 2.3M parameters
# faster (5.4 ms against 6.9-7.4 ms serial), but numba's OpenMP threads then spin into the next
# step and its forward + backward took 20 ms instead of 11.5 ms; so they share the threshold.
# Every kernel reads this module global when it is called, so setting it (as the tests do to
# force either path) switches all of them.
PARALLEL_MIN_SIZE = 4_194_304
# While BLAS is held to the calling thread (:func:`.threads.blas_on_calling_thread`: the forward
# and backward passes and the updates of a model with CSR layers) no BLAS thread spins, and the
# only other threads are numba's own, which the CSR kernels use anyway: there the threshold is
# this one. Measured on the 2-core Xeon, Adam on 16,000 / 39,200 / 100,000 weights took 23 / 59 /
# 135 us on two threads against 40 / 97 / 251 us serial (4,000: 11 against 10).
PARALLEL_MIN_SIZE_BLAS_HELD = 16_384
# Optimizer updates run over flat parameter vectors in blocks of this many elements. They are
# compiled without fastmath: with it, LLVM contracted the update into FMAs differently in the
# parallel and serial drivers, and the weights differed in the last bit between the two.
BLOCK = 8192


# ---------------------------------------------------------------- bias + activation (forward)

@njit(cache=True, fastmath=True, inline="always")
def _bias_act_row(z, b, kind):
    if kind == RELU:
        for j in range(z.shape[0]):
            v = z[j] + b[j]
            z[j] = v if v > 0 else 0.0
    elif kind == TANH:
        for j in range(z.shape[0]):
            z[j] = np.tanh(z[j] + b[j])
    elif kind == SIGMOID:
        for j in range(z.shape[0]):
            z[j] = 1.0 / (1.0 + np.exp(-(z[j] + b[j])))
    else:
        for j in range(z.shape[0]):
            z[j] = z[j] + b[j]


def _parallel(size):
    """Whether an element-wise kernel on ``size`` elements runs its parallel driver."""
    if serial_here():
        return False
    return size >= (PARALLEL_MIN_SIZE_BLAS_HELD if blas_limited() else PARALLEL_MIN_SIZE)


@njit(cache=True, fastmath=True, inline="always")
def _bias_act_feature_row(z, b, kind):
    """``z <- act(z + b)`` for one row z of the (features, batch) layout and its scalar bias b."""
    if kind == RELU:
        for j in range(z.shape[0]):
            v = z[j] + b
            z[j] = v if v > 0 else 0.0
    elif kind == TANH:
        for j in range(z.shape[0]):
            z[j] = np.tanh(z[j] + b)
    elif kind == SIGMOID:
        for j in range(z.shape[0]):
            z[j] = 1.0 / (1.0 + np.exp(-(z[j] + b)))
    else:
        for j in range(z.shape[0]):
            z[j] = z[j] + b


@njit(cache=True, fastmath=True, parallel=True)
def _bias_act_parallel(z, b, kind):
    for i in prange(z.shape[0]):
        _bias_act_row(z[i], b, kind)


@njit(cache=True, fastmath=True, nogil=True)
def _bias_act_serial(z, b, kind):
    for i in range(z.shape[0]):
        _bias_act_row(z[i], b, kind)


@njit(cache=True, fastmath=True, parallel=True)
def _bias_act_t_parallel(zt, b, kind):
    for i in prange(zt.shape[0]):
        _bias_act_feature_row(zt[i], b[i], kind)


@njit(cache=True, fastmath=True, nogil=True)
def _bias_act_t_serial(zt, b, kind):
    for i in range(zt.shape[0]):
        _bias_act_feature_row(zt[i], b[i], kind)


def bias_act_(z, b, kind):
    """In place: ``z <- act(z + b)``.

    z : float32 (n, m), C-contiguous (the product ``a @ W``); b : float32 (m,);
    kind : one of LINEAR, RELU, TANH, SIGMOID.
    An F-contiguous z (the transposed output of a CSR layer) is updated through ``z.T``
    (m, n), one bias value per row, in one pass.
    """
    transposed = not z.flags.c_contiguous and z.T.flags.c_contiguous
    if transposed:
        serial, parallel, z_c = _bias_act_t_serial, _bias_act_t_parallel, z.T
    else:
        serial, parallel, z_c = _bias_act_serial, _bias_act_parallel, z
    if _parallel(z.size):
        parallel(z_c, b, kind)
    else:
        serial(z_c, b, kind)
    return z


# ---------------------------------------------------------- activation derivative (backward)

@njit(cache=True, fastmath=True, inline="always")
def _act_grad_row(e, a, kind):
    # The derivative is written in terms of the activation a = act(z), which is what the
    # forward pass keeps: relu' = [a > 0], tanh' = 1 - a^2, sigmoid' = a (1 - a).
    if kind == RELU:
        for j in range(e.shape[0]):
            e[j] = e[j] if a[j] > 0 else 0.0
    elif kind == TANH:
        for j in range(e.shape[0]):
            e[j] *= 1.0 - a[j] * a[j]
    elif kind == SIGMOID:
        for j in range(e.shape[0]):
            e[j] *= a[j] * (1.0 - a[j])


@njit(cache=True, fastmath=True, parallel=True)
def _act_grad_parallel(e, a, kind):
    for i in prange(e.shape[0]):
        _act_grad_row(e[i], a[i], kind)


@njit(cache=True, fastmath=True, nogil=True)
def _act_grad_serial(e, a, kind):
    for i in range(e.shape[0]):
        _act_grad_row(e[i], a[i], kind)


def act_grad_(e, a, kind):
    """In place: ``e <- e * act'(z)``, with act' computed from the activation ``a = act(z)``.

    e, a : float32 (n, m), both C-contiguous or both F-contiguous (then the kernel runs on the
    transposes); an ``a`` in the other layout is copied into e's.
    """
    if kind == LINEAR:
        return e
    if not e.flags.c_contiguous and e.T.flags.c_contiguous:
        act_grad_(e.T, np.asfortranarray(a).T, kind)
        return e
    a = np.ascontiguousarray(a)
    if _parallel(e.size):
        _act_grad_parallel(e, a, kind)
    else:
        _act_grad_serial(e, a, kind)
    return e


# ------------------------------------------------------------------------ optimizer updates

def adam_rule(w, g, m, v, keep, lr_t, beta1, beta2, eps, decay, clip):
    """Adam for one weight, the faithful semantics: returns the new ``(w, m, v)``.

    ``g`` is clipped to [-clip, clip] (not when clip <= 0); a weight with ``keep`` False gets a
    zero gradient and stays zero. Plain Python on float32 scalars, compiled for the CPU here and
    for the GPU in :mod:`.cuda`, so both run the same formula.
    """
    zero = float32(0.0)
    if clip > zero:
        g = min(max(g, -clip), clip)
    if not keep:
        g = zero
    m = beta1 * m + (float32(1.0) - beta1) * g
    v = beta2 * v + (float32(1.0) - beta2) * g * g
    w_new = w - lr_t * m / (math.sqrt(v) + eps) - decay * w
    return (w_new if keep else zero), m, v


def sgd_rule(w, g, vel, keep, lr, momentum, decay):
    """SGD with momentum for one weight: returns the new ``(w, vel)`` (``keep`` as in adam_rule)."""
    zero = float32(0.0)
    if not keep:
        g = zero
    vel = momentum * vel - lr * g
    w_new = w + vel - decay * w
    return (w_new if keep else zero), vel


# Two details let LLVM vectorise the updates (they ran one float at a time, vsqrtss and vdivss:
# 2.7 ns per weight on the 2-core Xeon for 100,000 weights): error_model="numpy", so that a float
# division by zero gives inf or NaN instead of raising ZeroDivisionError (Adam's divisor
# sqrt(v) + eps is positive anyway; the check was a branch in every iteration), and blocks that
# slice their arrays and loop from 0 (an index from range(start, stop) may be negative for
# all numba knows, and each access then wraps around). The same bits either way: IEEE square
# roots and divisions, in the same order, no contraction.
_adam_rule = njit(cache=True, fastmath=False, inline="always", error_model="numpy")(adam_rule)
_sgd_rule = njit(cache=True, fastmath=False, inline="always")(sgd_rule)


@njit(cache=True, fastmath=False, inline="always", error_model="numpy")
def _adam_block(w, g, m, v, mask, start, stop, lr_t, beta1, beta2, eps, decay, clip):
    # Every scalar is float32 (see adam_update_), so the loop runs in float32 SIMD lanes.
    w, g, m, v = w[start:stop], g[start:stop], m[start:stop], v[start:stop]
    masked = mask.shape[0] > 0
    if masked:
        mask = mask[start:stop]
    for i in range(w.shape[0]):
        keep = not masked or mask[i]
        w[i], m[i], v[i] = _adam_rule(w[i], g[i], m[i], v[i], keep, lr_t, beta1, beta2, eps,
                                      decay, clip)


@njit(cache=True, fastmath=False, parallel=True, error_model="numpy")
def _adam_parallel(w, g, m, v, mask, lr_t, beta1, beta2, eps, decay, clip):
    n_blocks = (w.shape[0] + BLOCK - 1) // BLOCK
    for k in prange(n_blocks):
        _adam_block(w, g, m, v, mask, k * BLOCK, min((k + 1) * BLOCK, w.shape[0]),
                    lr_t, beta1, beta2, eps, decay, clip)


@njit(cache=True, fastmath=False, nogil=True, error_model="numpy")
def _adam_serial(w, g, m, v, mask, lr_t, beta1, beta2, eps, decay, clip):
    n_blocks = (w.shape[0] + BLOCK - 1) // BLOCK
    for k in range(n_blocks):  # the same blocks as the parallel driver, so the same rounding
        _adam_block(w, g, m, v, mask, k * BLOCK, min((k + 1) * BLOCK, w.shape[0]),
                    lr_t, beta1, beta2, eps, decay, clip)


def adam_update_(w, g, m, v, mask, lr_t, beta1, beta2, eps, decay, clip):
    """One Adam step in place on flat float32 vectors (all of shape (p,)).

    ``g`` is clipped to [-clip, clip] (no clipping when clip <= 0), the moments ``m`` and ``v``
    are updated, then ``w <- w - lr_t * m / (sqrt(v) + eps) - decay * w``. ``mask`` is a bool
    vector (p,) or an empty one for none; masked-out entries get zero gradient and stay zero.
    """
    f = np.float32
    args = (w, g, m, v, mask, f(lr_t), f(beta1), f(beta2), f(eps), f(decay), f(clip))
    if _parallel(w.shape[0]):
        _adam_parallel(*args)
    else:
        _adam_serial(*args)


@njit(cache=True, fastmath=False, inline="always")
def _sgd_block(w, g, vel, mask, start, stop, lr, momentum, decay):
    w, g, vel = w[start:stop], g[start:stop], vel[start:stop]
    masked = mask.shape[0] > 0
    if masked:
        mask = mask[start:stop]
    for i in range(w.shape[0]):
        keep = not masked or mask[i]
        w[i], vel[i] = _sgd_rule(w[i], g[i], vel[i], keep, lr, momentum, decay)


@njit(cache=True, fastmath=False, parallel=True)
def _sgd_parallel(w, g, vel, mask, lr, momentum, decay):
    n_blocks = (w.shape[0] + BLOCK - 1) // BLOCK
    for k in prange(n_blocks):
        _sgd_block(w, g, vel, mask, k * BLOCK, min((k + 1) * BLOCK, w.shape[0]), lr, momentum, decay)


@njit(cache=True, fastmath=False, nogil=True)
def _sgd_serial(w, g, vel, mask, lr, momentum, decay):
    n_blocks = (w.shape[0] + BLOCK - 1) // BLOCK
    for k in range(n_blocks):
        _sgd_block(w, g, vel, mask, k * BLOCK, min((k + 1) * BLOCK, w.shape[0]), lr, momentum, decay)


def sgd_update_(w, g, vel, mask, lr, momentum, decay):
    """One SGD step in place on flat float32 vectors (p,).

    ``vel <- momentum * vel - lr * g``; ``w <- w + vel - decay * w``. ``mask`` as in
    :func:`adam_update_`.
    """
    f = np.float32
    args = (w, g, vel, mask, f(lr), f(momentum), f(decay))
    if _parallel(w.shape[0]):
        _sgd_parallel(*args)
    else:
        _sgd_serial(*args)
