"""Devices: the kernel set a model's layers and the training loop call, on the CPU or a GPU.

There is one model and one training loop. A layer asks its device for the products
(``matmul``, ``spmm_t``, ``sddmm``, ...), the fused element-wise kernels and the optimizer
updates; :data:`CPU` answers with NumPy/BLAS and the numba CPU kernels, :func:`get` ``("cuda")``
with :mod:`sparana_lite.kernels.cuda`. ``model.to_device("cuda")`` moves a model's arrays to the
GPU; they stay there through :func:`sparana_lite.train` until ``model.to_device("cpu")``.
"""
import importlib.util

import numpy as np

from .kernels import csr as C
from .kernels import dense as K

INSTALL_HINT = ('install the GPU extra, pip install -e ".[cuda]" (numba-cuda with the CUDA 12 '
                'runtime; see book/running-on-a-gpu.md)')


class DeviceUnavailableError(RuntimeError):
    """The requested device cannot be used here (no GPU, or numba-cuda is not installed)."""


class CPUDevice:
    """The CPU kernel set: NumPy/BLAS products and the numba kernels of :mod:`.kernels`."""

    name = "cpu"
    # How often (in steps) the training loop reads the losses back: every step on the CPU.
    loss_flush_every = 1

    # arrays
    @staticmethod
    def asarray(x, dtype=np.float32):
        if hasattr(x, "copy_to_host"):
            x = x.copy_to_host()
        return np.ascontiguousarray(x, dtype=dtype)

    @staticmethod
    def to_host(x):
        return x

    @staticmethod
    def empty(shape, dtype=np.float32):
        return np.empty(shape, dtype)

    @staticmethod
    def zeros_like(x):
        return np.zeros_like(x)

    @staticmethod
    def take_rows(x, order, start, count):
        return x[order[start:start + count]]

    # dense layers
    @staticmethod
    def matmul(a, b):
        return a @ b

    @staticmethod
    def matmul_nt(a, b):
        return a @ b.T

    @staticmethod
    def matmul_tn(a, b, out=None):
        return np.matmul(a.T, b, out=out)

    bias_act_ = staticmethod(K.bias_act_)
    act_grad_ = staticmethod(K.act_grad_)

    @staticmethod
    def column_sum(d):
        return d.sum(axis=0)

    transpose = staticmethod(C.transpose)  # x.T, C-contiguous (no copy of an F-ordered x)

    @staticmethod
    def transpose_result(x):
        """A kernel's (n_out, batch) result as (batch, n_out): an F-ordered view, no copy."""
        return x.T

    # CSR layers
    @staticmethod
    def csr_matrix(W):
        return C.csr_matrix_f32(W.to_scipy() if hasattr(W, "to_scipy") else W)

    transpose_plan = C.TransposePlan
    spmm_t = staticmethod(C.spmm_t)
    # a CSR layer's products, on operands the layer has checked already
    spmm_t_bias_act = staticmethod(C.layer_forward)
    # the same in the tiled layout of kernels.csr.tiled_input (CPU only)
    layers_forward_tiled = staticmethod(C.layers_forward_tiled)
    spmm_tiled = staticmethod(C.layer_back_product_tiled)
    sddmm_tiled = staticmethod(C.layer_weight_gradient_tiled)
    act_grad_tiled_ = staticmethod(C.act_grad_tiled_)
    spmm = staticmethod(C.layer_back_product)
    sddmm = staticmethod(C.layer_weight_gradient)

    # the head and the optimizers
    @staticmethod
    def new_guard():
        return None

    @staticmethod
    def loss_and_error(model, z, y, guard):
        return model._loss_and_error(z, y)

    @staticmethod
    def may_update(loss):
        """Whether the step may go on to the update (on the CPU: the loss is finite)."""
        return np.isfinite(loss)

    @staticmethod
    def losses_to_host(losses):
        return [float(v) for v in losses]

    @staticmethod
    def adam_update_(w, g, m, v, mask, lr_t, beta1, beta2, eps, decay, clip, guard=None):
        K.adam_update_(w, g, m, v, mask, lr_t, beta1, beta2, eps, decay, clip)

    @staticmethod
    def sgd_update_(w, g, vel, mask, lr, momentum, decay, guard=None):
        K.sgd_update_(w, g, vel, mask, lr, momentum, decay)

    def __repr__(self):
        return "Device('cpu')"


class CUDADevice:
    """The GPU kernel set: :mod:`sparana_lite.kernels.cuda` on numba device arrays.

    Losses stay on the GPU; the training loop reads them back every :attr:`loss_flush_every`
    steps, and a guard flag set by a non-finite loss stops every later update on the GPU itself.
    """

    name = "cuda"
    loss_flush_every = 50

    def __init__(self, G):
        self.G = G
        for name in ("matmul", "bias_act_", "act_grad_", "column_sum", "transpose", "take_rows",
                     "spmm", "spmm_t", "spmm_t_bias_act", "sddmm", "new_guard", "adam_update_",
                     "sgd_update_"):
            setattr(self, name, getattr(G, name))
        self.transpose_result = G.transpose

    def asarray(self, x, dtype=np.float32):
        return self.G.to_device(x, dtype)

    @staticmethod
    def to_host(x):
        return x.copy_to_host()

    def empty(self, shape, dtype=np.float32):
        return self.G.cuda.device_array(shape, dtype)

    def zeros_like(self, x):
        return self.G.cuda.to_device(np.zeros(x.shape, x.dtype))

    def matmul_nt(self, a, b):
        return self.G.matmul(a, b, trans_b=True)

    def matmul_tn(self, a, b, out=None):
        return self.G.matmul(a, b, out=out, trans_a=True)

    def csr_matrix(self, W):
        if isinstance(W, self.G.DeviceCSR):
            return W
        return self.G.DeviceCSR.from_scipy(C.csr_matrix_f32(W), "W")

    def transpose_plan(self, W):
        return self.G.DevicePlan.of(W)

    def loss_and_error(self, model, z, y, guard):
        return self.G.loss_and_error(z, y, model.head, guard)

    @staticmethod
    def may_update(loss):
        return True  # the guard flag skips the update on the GPU; no host round trip

    @staticmethod
    def losses_to_host(losses):
        return [float(v.copy_to_host()[0]) for v in losses]

    def __repr__(self):
        return "Device('cuda')"


CPU = CPUDevice()
_cuda = []


def get(device):
    """The kernel set for ``device``: "cpu", "cuda", or a device object (returned as it is).

    Raises
    ------
    DeviceUnavailableError
        For "cuda" where numba-cuda is not installed or no GPU (nor the simulator) is found.
    """
    if isinstance(device, (CPUDevice, CUDADevice)):
        return device
    if device == "cpu":
        return CPU
    if device != "cuda":
        raise ValueError(f"device must be 'cpu' or 'cuda'; got {device!r}")
    if not _cuda:
        _cuda.append(CUDADevice(_load_cuda_kernels()))
    return _cuda[0]


def _has_numba_cuda():
    return importlib.util.find_spec("numba_cuda") is not None


def _load_cuda_kernels():
    if not _has_numba_cuda():  # numba's own, deprecated numba.cuda is not used
        raise DeviceUnavailableError("device='cuda' needs the numba-cuda package, which is not "
                                     f"installed: {INSTALL_HINT}")
    try:
        from numba import cuda
    except ImportError as e:  # e.g. the CUDA Python bindings are missing
        raise DeviceUnavailableError(f"device='cuda': numba-cuda could not be imported ({e}); "
                                     f"{INSTALL_HINT}") from e
    if not cuda.is_available():
        raise DeviceUnavailableError(
            "device='cuda': numba-cuda found no usable NVIDIA GPU (no driver or no device); "
            f"{INSTALL_HINT}, or set NUMBA_ENABLE_CUDASIM=1 before importing numba to run the "
            "CUDA kernels in numba's (slow) simulator")
    from .kernels import cuda as G
    return G
