"""The kernels of a training step on an NVIDIA GPU (numba.cuda, from the ``numba-cuda`` package).

The same products and element-wise work as :mod:`.csr` and :mod:`.dense`, on device arrays:

- :func:`spmm`, :func:`spmm_t`, :func:`spmm_t_bias_act`, :func:`sddmm` -- the CSR products,
  in the contract of :mod:`.csr` (same arguments, shapes and validation); one thread per
  output element (per nonzero for SDDMM), each summing in a fixed order, so results are
  deterministic.
- :func:`matmul` -- a tiled dense product (16 x 16 tiles in shared memory), with either operand
  read transposed in place: ``a @ W``, ``d @ W.T`` and ``a.T @ d`` without transposing copies.
- :func:`bias_act_`, :func:`act_grad_` -- the fused bias + activation and its gradient.
- :func:`adam_update_`, :func:`sgd_update_` -- the optimizer updates with the faithful
  semantics of :mod:`.dense` (clipping, epsilon added to sqrt(v), masks, L2 decay).
- :func:`loss_and_error`, :func:`column_sum`, :func:`transpose`, :func:`take_rows` -- the rest
  of a training step, so that nothing leaves the GPU inside it.

Inputs may be host arrays (NumPy, SciPy CSR; validated and copied to the GPU) or device arrays
(numba ``DeviceNDArray``, :class:`DeviceCSR`, :class:`DevicePlan`); results are device arrays:
call ``.copy_to_host()`` for NumPy. Everything is float32; losses are float64 sums.

The updates take an optional ``guard``: a device int32 flag (1,) that :func:`loss_and_error`
sets when a loss is not finite. A set guard turns every later update into a no-op, so a
diverging run leaves the weights as they were before the bad step, as on the CPU, without the
host reading the loss in every step.

Importing this module imports ``numba.cuda``; with ``NUMBA_ENABLE_CUDASIM=1`` (set before numba
is first imported) the kernels run in numba's CUDA simulator on the CPU, which is how the tests
run them where no GPU is present.
"""
import math

import numpy as np
import scipy.sparse as sp
from numba import cuda, float32, float64

from . import csr as C
from .dense import LINEAR, RELU, SIGMOID, TANH, adam_rule, sgd_rule

__all__ = ["spmm", "spmm_t", "spmm_t_bias_act", "sddmm", "matmul", "bias_act_", "act_grad_", "column_sum",
           "transpose", "take_rows", "loss_and_error", "adam_update_", "sgd_update_",
           "DeviceCSR", "DevicePlan", "to_device", "new_guard", "is_device_array"]

TPB = 128    # threads per block of the 1-D kernels (fewer, a multiple of 32, for small n)
# Side of the square tiles of matmul (TILE * TILE threads per block): GPU_TILE on a GPU. The
# simulator runs every thread of a block as a Python thread, so there the tiles are
# SIMULATOR_TILE: the same code, 4x fewer threads. The tests run matmul on both sides of the tile
# size, and in the simulator with the GPU's tiles too (the simulator reads TILE and TILE_PAD
# when a kernel runs; a GPU compiles them in at the first launch).
GPU_TILE, SIMULATOR_TILE = 16, 8
SIMULATOR = "simulator" in cuda.to_device.__module__  # numba's CUDA simulator is running these
TILE = SIMULATOR_TILE if SIMULATOR else GPU_TILE
TILE_PAD = TILE + 1  # shared-memory rows padded by one against bank conflicts (a constant:
#                      numba.cuda needs literal shapes for shared arrays)


# ------------------------------------------------------------------------ CSR products

@cuda.jit
def _spmm_kernel(indptr, indices, data, B, out):
    """out[i, j] = sum over row i's nonzeros p of data[p] * B[indices[p], j]."""
    j, i = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        acc = float32(0.0)
        for p in range(indptr[i], indptr[i + 1]):
            acc += data[p] * B[indices[p], j]
        out[i, j] = acc


@cuda.jit(device=True)
def _act(v, kind):
    """act(v) for an activation code of :mod:`.dense`."""
    if kind == RELU:
        return v if v > float32(0.0) else float32(0.0)
    if kind == TANH:
        return math.tanh(v)
    if kind == SIGMOID:
        return float32(1.0) / (float32(1.0) + math.exp(-v))
    return v


@cuda.jit
def _spmm_bias_act_kernel(indptr, indices, data, B, bias, kind, out):
    """out[i, j] = act(sum over row i's nonzeros p of data[p] * B[indices[p], j] + bias[i])."""
    j, i = cuda.grid(2)
    if i < out.shape[0] and j < out.shape[1]:
        acc = float32(0.0)
        for p in range(indptr[i], indptr[i + 1]):
            acc += data[p] * B[indices[p], j]
        out[i, j] = _act(acc + bias[i], kind)


@cuda.jit
def _sddmm_kernel(rows, indices, X, Y, out):
    """out[p] = dot(X[rows[p], :], Y[:, indices[p]])."""
    p = cuda.grid(1)
    if p < out.shape[0]:
        i, k = rows[p], indices[p]
        acc = float32(0.0)
        for t in range(X.shape[1]):
            acc += X[i, t] * Y[t, k]
        out[p] = acc


@cuda.jit
def _gather_kernel(data, perm, out):
    q = cuda.grid(1)
    if q < out.shape[0]:
        out[q] = data[perm[q]]


class DeviceCSR:
    """A CSR matrix on the GPU: ``data`` (float32), ``indices``, ``indptr`` and ``rows`` (the
    row of each nonzero, for SDDMM), all device arrays; ``shape`` (m, k) and ``nnz``.

    Build it with :meth:`from_scipy` (validated, duplicates and order kept as stored) and read
    it back with :meth:`to_scipy`.
    """

    def __init__(self, data, indices, indptr, rows, shape):
        self.data, self.indices, self.indptr, self.rows = data, indices, indptr, rows
        self.shape = (int(shape[0]), int(shape[1]))
        self.nnz = int(rows.shape[0])

    @classmethod
    def from_scipy(cls, A, name="A"):
        """Copy a scipy CSR matrix (m, k) to the GPU, after the checks of :mod:`.csr`."""
        A = C._check_csr(A, name)
        indptr, indices = C._index_arrays(A)
        C._check_pattern(indptr, indices, A.shape[1], name)
        nnz = int(indptr[-1])
        itype = np.int32 if max(A.shape[0], A.shape[1], nnz) < np.iinfo(np.int32).max else np.int64
        rows = np.repeat(np.arange(A.shape[0], dtype=itype), np.diff(indptr))
        return cls(cuda.to_device(C._values(A)), cuda.to_device(indices[:nnz].astype(itype)),
                   cuda.to_device(indptr.astype(itype)), cuda.to_device(rows), A.shape)

    def to_scipy(self):
        """The matrix as a scipy.sparse.csr_matrix of float32 (host copies)."""
        return sp.csr_matrix((self.data.copy_to_host(), self.indices.copy_to_host(),
                              self.indptr.copy_to_host()), shape=self.shape)

    def toarray(self):
        return self.to_scipy().toarray()

    def __repr__(self):
        return f"DeviceCSR(shape={self.shape}, nnz={self.nnz})"


class DevicePlan:
    """The transpose pattern of a CSR matrix (see :class:`.csr.TransposePlan`), on the GPU."""

    def __init__(self, plan):
        if not isinstance(plan, C.TransposePlan):
            raise TypeError(f"plan must be a TransposePlan; got {type(plan).__name__}")
        self.shape, self.nnz = plan.shape, plan.nnz
        self.indptr = cuda.to_device(plan.indptr)
        self.indices = cuda.to_device(plan.indices)
        self.perm = cuda.to_device(plan.perm)
        self._a_indptr = plan._a_indptr

    @classmethod
    def of(cls, A):
        """The plan of ``A`` (scipy CSR or :class:`DeviceCSR`)."""
        return cls(C.TransposePlan(A.to_scipy() if isinstance(A, DeviceCSR) else A))

    def matches(self, A):
        return tuple(A.shape) == self.shape and A.nnz == self.nnz

    def __repr__(self):
        return f"DevicePlan(shape={self.shape}, nnz={self.nnz})"


def spmm(A, B, out=None):
    """Sparse times dense on the GPU: ``A @ B``, as :func:`.csr.spmm`.

    A : scipy CSR (m, k) or :class:`DeviceCSR`; B : (k, n), host or device; out : device
    float32 (m, n), optional. Returns a device array float32 (m, n).
    """
    A = _device_csr(A, "A")
    B = _device_dense(B, "B")
    C.check_chain(A.shape, B.shape)
    out = _device_out(out, (A.shape[0], B.shape[1]), "out")
    _launch2(_spmm_kernel, out.shape, A.indptr, A.indices, A.data, B, out)
    return out


def spmm_t(A, B, plan=None, out=None):
    """Transposed sparse times dense on the GPU: ``A.T @ B``, as :func:`.csr.spmm_t`.

    A : scipy CSR (m, k) or :class:`DeviceCSR`; B : (m, n); plan : :class:`DevicePlan` or
    :class:`.csr.TransposePlan` of ``A`` (built here when not given); out : device (k, n).
    Only a gather of ``A.data`` runs besides the product. Returns a device array (k, n).
    """
    A, B, plan = _check_transposed(A, B, plan)
    out = _device_out(out, (A.shape[1], B.shape[1]), "out")
    _launch2(_spmm_kernel, out.shape, plan.indptr, plan.indices, _transposed_data(A, plan), B,
             out)
    return out


def spmm_t_bias_act(A, B, bias, activation, plan=None, out=None):
    """``act(A.T @ B + bias[:, None])`` on the GPU in one kernel, as :func:`.csr.spmm_t_bias_act`.

    A, B, plan, out : as in :func:`spmm_t`; bias : (k,), host or device; activation : a name or
    code of :mod:`.dense`. Returns a device array (k, n).
    """
    A, B, plan = _check_transposed(A, B, plan)
    k = A.shape[1]
    kind = C.check_activation(activation)
    if is_device_array(bias):
        if bias.shape != (k,) or bias.dtype != np.float32:
            raise ValueError(f"bias must be a float32 vector of shape ({k},); got a device "
                             f"array {bias.dtype} of shape {bias.shape}")
    else:
        bias = cuda.to_device(C.check_bias(bias, k))
    out = _device_out(out, (k, B.shape[1]), "out")
    _launch2(_spmm_bias_act_kernel, out.shape, plan.indptr, plan.indices,
             _transposed_data(A, plan), B, bias, kind, out)
    return out


def _check_transposed(A, B, plan):
    """Device operands of ``A.T @ B`` and a :class:`DevicePlan` that matches ``A``."""
    A = _device_csr(A, "A")
    B = _device_dense(B, "B")
    C.check_chain(A.shape, B.shape, transposed=True)
    if plan is None:
        plan = DevicePlan.of(A)
    elif isinstance(plan, C.TransposePlan):
        plan = DevicePlan(plan)
    elif not isinstance(plan, DevicePlan):
        raise TypeError(f"plan must be a DevicePlan, a TransposePlan or None; got "
                        f"{type(plan).__name__}")
    if not plan.matches(A):
        raise ValueError(f"plan does not match A: plan is for shape {plan.shape} with "
                         f"nnz={plan.nnz}, A has shape {A.shape} with nnz={A.nnz}")
    return A, B, plan


def _transposed_data(A, plan):
    """``A.data[plan.perm]``: the values of ``A.T`` in its CSR order, a device array."""
    t_data = cuda.device_array(A.nnz, np.float32)
    _launch(_gather_kernel, A.nnz, A.data, plan.perm, t_data)
    return t_data


def sddmm(A, X, Y, out=None):
    """``(X @ Y)`` at the nonzeros of ``A``, in ``A.data`` order, as :func:`.csr.sddmm`.

    A : scipy CSR (m, k) or :class:`DeviceCSR` (values ignored); X : (m, d); Y : (d, k);
    out : device float32 (nnz,). Returns a device array (nnz,).
    """
    A = _device_csr(A, "A")
    X = _device_dense(X, "X")
    Y = _device_dense(Y, "Y")
    C.check_sampled(A.shape, X.shape, Y.shape)
    out = _device_out(out, (A.nnz,), "out")
    _launch(_sddmm_kernel, A.nnz, A.rows, A.indices, X, Y, out)
    return out


# ------------------------------------------------------------------------ dense product

@cuda.jit(device=True)
def _stage(tile, X, trans, r0, c0, rows, cols):
    """tile[r, c] = op(X)[r0 + r, c0 + c] (zero outside op(X), which is (rows, cols)), with
    op(X) = X.T when ``trans``. Thread (ty, tx) reads the element at (ty, tx) of the block of X
    itself, so neighbouring threads read neighbouring elements; a transposed block is
    transposed on its way into shared memory."""
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    if trans:  # X is (cols, rows)
        ok = c0 + ty < cols and r0 + tx < rows
        tile[tx, ty] = X[c0 + ty, r0 + tx] if ok else float32(0.0)
    else:      # X is (rows, cols)
        ok = r0 + ty < rows and c0 + tx < cols
        tile[ty, tx] = X[r0 + ty, c0 + tx] if ok else float32(0.0)


@cuda.jit
def _matmul_kernel(A, B, out, trans_a, trans_b):
    """out (n, m) = op(A) @ op(B), op(A)[i, t] = A[t, i] if trans_a else A[i, t] (same for B).

    Each block computes a TILE x TILE tile of ``out``, staging TILE-wide slices of op(A) and
    op(B) in shared memory (rows padded by one against bank conflicts); every output is summed
    over t in increasing order.
    """
    sa = cuda.shared.array((TILE, TILE_PAD), float32)  # sa[r, c] = op(A)[i0 + r, t0 + c]
    sb = cuda.shared.array((TILE, TILE_PAD), float32)  # sb[r, c] = op(B)[t0 + r, j0 + c]
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    i0 = cuda.blockIdx.y * TILE
    j0 = cuda.blockIdx.x * TILE
    n, m = out.shape
    depth = A.shape[0] if trans_a else A.shape[1]
    acc = float32(0.0)
    for t0 in range(0, depth, TILE):
        _stage(sa, A, trans_a, i0, t0, n, depth)
        _stage(sb, B, trans_b, t0, j0, depth, m)
        cuda.syncthreads()
        for s in range(TILE):
            acc += sa[ty, s] * sb[s, tx]
        cuda.syncthreads()
    if i0 + ty < n and j0 + tx < m:
        out[i0 + ty, j0 + tx] = acc


def matmul(A, B, out=None, trans_a=False, trans_b=False):
    """Dense product on the GPU: ``op(A) @ op(B)`` with ``op(X) = X.T`` when asked.

    A, B : 2-D float32, host or device; out : device float32, optional. Returns a device array.
    """
    A = _device_dense(A, "A")
    B = _device_dense(B, "B")
    n, depth = A.shape[::-1] if trans_a else A.shape
    depth_b, m = B.shape[::-1] if trans_b else B.shape
    if depth != depth_b:
        raise ValueError(f"A and B do not chain: op(A) has shape {(n, depth)}, op(B) has shape "
                         f"{(depth_b, m)}")
    out = _device_out(out, (n, m), "out")
    if out.size:
        grid = ((m + TILE - 1) // TILE, (n + TILE - 1) // TILE)
        _matmul_kernel[grid, (TILE, TILE)](A, B, out, bool(trans_a), bool(trans_b))
    return out


# ------------------------------------------------------------------- element-wise work

@cuda.jit
def _bias_act_kernel(z, b, kind):
    j, i = cuda.grid(2)
    if i < z.shape[0] and j < z.shape[1]:
        z[i, j] = _act(z[i, j] + b[j], kind)


def bias_act_(z, b, kind):
    """In place on device arrays: ``z <- act(z + b)``; z (n, m), b (m,), kind as in :mod:`.dense`."""
    _launch2(_bias_act_kernel, z.shape, z, b, kind)
    return z


@cuda.jit
def _act_grad_kernel(e, a, kind):
    j, i = cuda.grid(2)
    if i < e.shape[0] and j < e.shape[1]:
        if kind == RELU:
            if not a[i, j] > float32(0.0):
                e[i, j] = float32(0.0)
        elif kind == TANH:
            e[i, j] *= float32(1.0) - a[i, j] * a[i, j]
        elif kind == SIGMOID:
            e[i, j] *= a[i, j] * (float32(1.0) - a[i, j])


def act_grad_(e, a, kind):
    """In place on device arrays: ``e <- e * act'(z)``, from the activation ``a = act(z)``."""
    if kind != LINEAR:
        _launch2(_act_grad_kernel, e.shape, e, a, kind)
    return e


@cuda.jit
def _column_sum_kernel(d, out):
    j = cuda.grid(1)
    if j < d.shape[1]:
        acc = float32(0.0)
        for i in range(d.shape[0]):
            acc += d[i, j]
        out[j] = acc


def column_sum(d, out=None):
    """``d.sum(axis=0)`` of a device array (n, m): the bias gradient. Returns a device (m,)."""
    out = _device_out(out, (d.shape[1],), "out")
    _launch(_column_sum_kernel, d.shape[1], d, out)
    return out


@cuda.jit
def _transpose_kernel(x, out):
    j, i = cuda.grid(2)
    if i < x.shape[0] and j < x.shape[1]:
        out[j, i] = x[i, j]


def transpose(x):
    """A C-contiguous device copy of ``x.T`` for a device array x (n, m)."""
    out = cuda.device_array((x.shape[1], x.shape[0]), x.dtype)
    _launch2(_transpose_kernel, x.shape, x, out)
    return out


@cuda.jit
def _take_rows_kernel(x, order, start, out):
    c, r = cuda.grid(2)
    if r < out.shape[0] and c < out.shape[1]:
        out[r, c] = x[order[start + r], c]


@cuda.jit
def _take_kernel(y, order, start, out):
    r = cuda.grid(1)
    if r < out.shape[0]:
        out[r] = y[order[start + r]]


def take_rows(x, order, start, count):
    """``x[order[start:start + count]]`` for device arrays x (n, m) or (n,) and order (int)."""
    if x.ndim == 2:
        out = cuda.device_array((count, x.shape[1]), x.dtype)
        _launch2(_take_rows_kernel, out.shape, x, order, start, out)
    else:
        out = cuda.device_array(count, x.dtype)
        _launch(_take_kernel, count, x, order, start, out)
    return out


@cuda.jit
def _head_error_kernel(z, y, d, row_loss, sce):
    """Per sample i: d[i] = output - onehot and its loss (LQ: 1/2 |d|^2; SCE: -log p[y])."""
    i = cuda.grid(1)
    if i < z.shape[0]:
        c = z.shape[1]
        label = y[i]
        if sce:
            top = z[i, 0]
            for j in range(1, c):
                top = max(top, z[i, j])
            s = float32(0.0)
            for j in range(c):
                s += math.exp(z[i, j] - top)
            lse = math.log(s)
            for j in range(c):
                d[i, j] = math.exp(z[i, j] - top - lse) - (float32(1.0) if j == label else float32(0.0))
            row_loss[i] = -float64(z[i, label] - top - lse)
        else:
            acc = float64(0.0)
            for j in range(c):
                v = z[i, j] - (float32(1.0) if j == label else float32(0.0))
                d[i, j] = v
                acc += float64(v) * float64(v)
            row_loss[i] = 0.5 * acc


@cuda.jit
def _loss_sum_kernel(row_loss, loss, guard):
    # one thread, a fixed order: the same loss on every run
    if cuda.grid(1) == 0:
        s = float64(0.0)
        for i in range(row_loss.shape[0]):
            s += row_loss[i]
        loss[0] = s
        if not math.isfinite(s):
            guard[0] = 1


def loss_and_error(z, y, head, guard=None):
    """The head's summed loss and the error ``d = output - onehot`` on the GPU.

    z : device float32 (n, classes), the logits; y : device int labels (n,); head : "lq" or
    "sce"; guard : device int32 (1,), set to 1 when the loss is not finite.

    Returns
    -------
    loss : device float64 (1,)
    d : device float32 (n, classes)
    """
    n = z.shape[0]
    d = cuda.device_array(z.shape, np.float32)
    row_loss = cuda.device_array(n, np.float64)
    loss = cuda.device_array(1, np.float64)
    guard = new_guard() if guard is None else guard
    _launch(_head_error_kernel, n, z, y, d, row_loss, head == "sce")
    _loss_sum_kernel[1, 1](row_loss, loss, guard)
    return loss, d


def new_guard():
    """A device int32 flag (1,), cleared: see the module notes."""
    return cuda.to_device(np.zeros(1, np.int32))


# ------------------------------------------------------------------------ optimizer updates

# The per-weight rules of the CPU kernels (kernels/dense.py), compiled for the GPU.
_adam_rule = cuda.jit(device=True)(adam_rule)
_sgd_rule = cuda.jit(device=True)(sgd_rule)


@cuda.jit
def _adam_kernel(w, g, m, v, mask, masked, lr_t, beta1, beta2, eps, decay, clip, guard):
    i = cuda.grid(1)
    if i < w.shape[0] and guard[0] == 0:
        keep = not masked or mask[i]
        w[i], m[i], v[i] = _adam_rule(w[i], g[i], m[i], v[i], keep, lr_t, beta1, beta2, eps,
                                      decay, clip)


@cuda.jit
def _sgd_kernel(w, g, vel, mask, masked, lr, momentum, decay, guard):
    i = cuda.grid(1)
    if i < w.shape[0] and guard[0] == 0:
        keep = not masked or mask[i]
        w[i], vel[i] = _sgd_rule(w[i], g[i], vel[i], keep, lr, momentum, decay)


def adam_update_(w, g, m, v, mask, lr_t, beta1, beta2, eps, decay, clip, guard=None):
    """One Adam step in place on flat device float32 vectors (p,), as :func:`.dense.adam_update_`.

    ``mask`` is a device bool vector (p,) or an empty array for none; ``guard`` (optional) a
    device int32 flag: when set, nothing changes.
    """
    f = np.float32
    masked, mask = _mask_arg(mask, w)
    guard = _guard_off() if guard is None else guard
    _launch(_adam_kernel, w.shape[0], w, g, m, v, mask, masked, f(lr_t), f(beta1), f(beta2),
            f(eps), f(decay), f(clip), guard)


def sgd_update_(w, g, vel, mask, lr, momentum, decay, guard=None):
    """One SGD step in place on flat device float32 vectors (p,), as :func:`.dense.sgd_update_`."""
    f = np.float32
    masked, mask = _mask_arg(mask, w)
    guard = _guard_off() if guard is None else guard
    _launch(_sgd_kernel, w.shape[0], w, g, vel, mask, masked, f(lr), f(momentum), f(decay), guard)


# ------------------------------------------------------------------------ helpers

def is_device_array(x):
    """Whether ``x`` is a numba device array (real or simulated)."""
    return hasattr(x, "copy_to_host")


def to_device(x, dtype=np.float32):
    """``x`` as a C-contiguous device array of ``dtype`` (device arrays of that dtype as they are)."""
    if is_device_array(x):
        if x.dtype != dtype:
            raise TypeError(f"a device array of dtype {np.dtype(dtype)} is needed; got {x.dtype}")
        return x
    return cuda.to_device(np.ascontiguousarray(x, dtype=dtype))


def _mask_arg(mask, w):
    if mask is None or mask.shape[0] == 0:
        return False, _empty_mask()
    if mask.shape != w.shape:
        raise ValueError(f"mask must have the shape of w {w.shape}; got {mask.shape}")
    return True, mask


_shared = {}  # device arrays made once: a guard that is never set, a stand-in for "no mask"


def _guard_off():
    if "guard" not in _shared:
        _shared["guard"] = new_guard()
    return _shared["guard"]


def _empty_mask():
    if "mask" not in _shared:
        _shared["mask"] = cuda.to_device(np.zeros(1, np.bool_))
    return _shared["mask"]


def _launch2(kernel, shape, *args):
    """Run a 2-D kernel over an (n, m) array: x threads along the m columns (adjacent threads,
    adjacent elements), y threads along the n rows; nothing for an empty shape."""
    n, m = shape
    if n > 0 and m > 0:
        tx = min(32, 1 << (m - 1).bit_length())
        ty = min(TPB // tx, 1 << (n - 1).bit_length())
        kernel[((m + tx - 1) // tx, (n + ty - 1) // ty), (tx, ty)](*args)


def _launch(kernel, n, *args):
    """Run a 1-D kernel over ``n`` items (nothing for n = 0)."""
    if n > 0:
        threads = min(TPB, 32 * ((n + 31) // 32))
        kernel[(n + threads - 1) // threads, threads](*args)


def _device_csr(A, name):
    if isinstance(A, DeviceCSR):
        return A
    return DeviceCSR.from_scipy(A, name)


def _device_dense(x, name):
    if is_device_array(x):
        if x.ndim != 2:
            raise ValueError(f"{name} must be a 2-D array; got shape {x.shape}")
        if x.dtype != np.float32:
            raise TypeError(f"{name}: a device array must be float32; got {x.dtype}")
        return x
    return cuda.to_device(C._check_dense(x, name))


def _device_out(out, shape, name):
    if out is None:
        return cuda.device_array(shape, np.float32)
    if not is_device_array(out) or out.shape != shape or out.dtype != np.float32:
        raise ValueError(f"{name} must be a float32 device array of shape {shape}; got "
                         f"{type(out).__name__} of shape {getattr(out, 'shape', None)}")
    return out
