"""A fully connected layer: its weights, dense or CSR, and the products of its forward and backward pass.

A layer's arrays live on a device (:mod:`sparana_lite.device`), whose kernels it calls: BLAS for
a dense weight matrix, :mod:`sparana_lite.kernels.csr` (or its GPU twin) for a CSR one. The
network that chains layers is :class:`sparana_lite.MLP` (:mod:`.model`).
"""
import numpy as np

from . import device as D
from .kernels.csr import TILE, aligned_empty


class DenseLayer:
    """A fully connected layer with a dense float32 weight matrix (n_in, n_out).

    Its arrays live on ``device`` (:mod:`sparana_lite.device`), whose kernels it calls.
    """

    sparse = False

    def __init__(self, W, b, mask=None, device=D.CPU):
        self.device = device
        self.W = device.asarray(W)
        self.b = device.asarray(b)
        self.mask = None if mask is None else device.asarray(mask, dtype=bool)

    @property
    def shape(self):
        return self.W.shape

    def dense_weight(self):
        return self.device.to_host(self.W)

    def product(self, a):
        """a @ W for a (n, n_in) -> (n, n_out), a fresh C-contiguous array."""
        return self.device.matmul(a, self.W)

    def forward(self, a, kind):
        """act(a @ W + b) for a (n, n_in) -> (n, n_out); ``kind`` as in :mod:`.kernels.dense`."""
        return self.device.bias_act_(self.product(a), self.b, kind)

    # A dense layer above CSR layers in the tiled layout of :func:`.kernels.csr.tiled_input`
    # (CPU), backward: its inputs come as ``(full, rest)``, tiles (t, n_in, TILE) and a slab
    # (n_in, r), its errors as rows (t * TILE + r, n_out). A BLAS call per tile. (Its forward
    # pass runs inside :func:`.kernels.csr.layers_forward_tiled`.)
    def back_product_tiled(self, d):
        """:meth:`back_product` of the errors d (rows) into the tiled layout ``(full, rest)``."""
        t = d.shape[0] // TILE
        n_in = self.W.shape[0]
        full, rest = aligned_empty((t, n_in, TILE)), aligned_empty((n_in, d.shape[0] - t * TILE))
        np.matmul(self.W, d[:t * TILE].reshape(t, TILE, -1).transpose(0, 2, 1), out=full)
        np.matmul(self.W, d[t * TILE:].T, out=rest)
        return full, rest

    def weight_gradient_tiled(self, a, d, out=None):
        """:meth:`weight_gradient` for activations ``a = (full, rest)`` in the tiled layout and
        the errors d (rows): the sum over the tiles of ``full[q] @ d[tile q]``."""
        full, rest = a
        t = full.shape[0] * TILE
        g = np.matmul(rest, d[t:], out=out)
        for q in range(full.shape[0]):
            g += full[q] @ d[q * TILE:(q + 1) * TILE]
        return g

    def back_product(self, d, like=None):
        """d @ W.T for d (n, n_out) -> (n, n_in). On the CPU, when ``like`` (the activations
        it will meet) is F-ordered, as a CSR layer's output is, the product is computed as
        ``(W @ d.T).T``, F-ordered too, so that the element-wise kernel pairing them and the
        CSR layer below need no copy."""
        if like is not None and self.device.name == "cpu" and like.flags.f_contiguous \
                and not like.flags.c_contiguous:
            return self.device.matmul(self.W, d.T).T
        return self.device.matmul_nt(d, self.W)

    def weight_gradient(self, a, d, out=None):
        """a.T @ d, (n_in, n_out)."""
        return self.device.matmul_tn(a, d, out=out)

    def params(self):
        """Flat views of the trainable weight values and their mask (or None)."""
        return self.W.reshape(-1), None if self.mask is None else self.mask.reshape(-1)

    def nnz(self):
        return int(np.count_nonzero(self.dense_weight()))

    def copy(self):
        return DenseLayer(self.W.copy(), self.b.copy(), None if self.mask is None else self.mask.copy())

    def to_device(self, device):
        """A copy of this layer on ``device``."""
        host = self.device.to_host
        return DenseLayer(host(self.W).copy(), host(self.b).copy(),
                          None if self.mask is None else host(self.mask).copy(), device)


class CSRLayer:
    """A layer whose weight matrix (n_in, n_out) is stored in CSR; only its nonzeros train.

    Products run on :mod:`sparana_lite.kernels.csr` (or its GPU twin): ``a @ W`` as
    ``(W.T @ a.T).T`` through a cached transpose pattern (in the forward pass with the bias and
    activation fused into it), ``d @ W.T`` as ``(W @ d.T).T``, and the weight gradient as an
    SDDMM at the nonzeros, so a dense gradient is never formed.

    The kernels work in the (features, batch) layout, so on the CPU the products return the
    transpose of a C-contiguous array (an F-ordered (n, n_out) view) instead of copying it
    back: a next CSR layer, the SDDMM and the element-wise kernels then read it without a copy
    (copying each activation twice cost as much as the kernels at 95% sparsity).
    """

    sparse = True
    mask = None

    def __init__(self, W, b, device=D.CPU):
        self.device = device
        self.W = device.csr_matrix(W)
        self.b = device.asarray(b)
        self.plan = device.transpose_plan(self.W)

    @property
    def shape(self):
        return self.W.shape

    def dense_weight(self):
        return self.W.toarray()

    def product(self, a):
        k = self.device
        return k.transpose_result(k.spmm_t(self.W, k.transpose(a), plan=self.plan))

    def forward(self, a, kind):
        """act(a @ W + b), with the bias and activation fused into the product's row loop."""
        k = self.device
        return k.transpose_result(
            k.spmm_t_bias_act(self.W, k.transpose(a), self.b, kind, self.plan))

    # The tiled layout of :func:`.kernels.csr.tiled_input` (CPU): the samples as ``(full,
    # rest)``, tiles (t, features, TILE) and a slab (features, r).
    def back_product_tiled(self, d):
        """:meth:`back_product` in the tiled layout: ``d`` and the result are ``(full, rest)``."""
        return self.device.spmm_tiled(self.W, *d)

    def weight_gradient_tiled(self, a, d, out=None):
        """:meth:`weight_gradient` in the tiled layout: ``a`` and ``d`` are ``(full, rest)``."""
        return self.device.sddmm_tiled(self.W, a, d, out=out)

    def back_product(self, d, like=None):
        """d @ W.T as ``(W @ d.T).T`` (``like`` is unused: the result is F-ordered anyway)."""
        k = self.device
        return k.transpose_result(k.spmm(self.W, k.transpose(d)))

    def weight_gradient(self, a, d, out=None):
        """(a.T @ d) at W's nonzeros, in W.data order: a vector (nnz,)."""
        return self.device.sddmm(self.W, self.device.transpose(a), d, out=out)

    def params(self):
        return self.W.data, None

    def nnz(self):
        return int(np.count_nonzero(self.device.to_host(self.W.data)))

    def copy(self):
        return CSRLayer(self.W.copy(), self.b.copy())

    def to_device(self, device):
        """A copy of this layer on ``device``."""
        W = self.W.to_scipy() if hasattr(self.W, "to_scipy") else self.W.copy()
        return CSRLayer(W, self.device.to_host(self.b).copy(), device)
