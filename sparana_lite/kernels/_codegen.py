"""Two details of code generation that decide how fast the CSR kernels run on AVX-512 CPUs.

- :func:`wide_vectors`, called first in a jitted function, lets LLVM vectorise that function's
  loops with 512-bit registers. LLVM's tuning for Intel AVX-512 cores (Skylake-X to Sapphire
  Rapids) prefers 256-bit vectors, so numba's code uses half of what the core and OpenBLAS use.
  The intrinsic adds the function attributes ``"prefer-vector-width"="512"`` and
  ``"min-legal-vector-width"="512"`` (what clang's ``-mprefer-vector-width=512`` sets) to the
  function it is compiled into, and only to it: numba vectorises every jitted function in its
  own module, so the call belongs in the function that holds the loop, not in a caller. On a CPU
  without AVX-512 (or with ``NUMBA_CPU_NAME=haswell``) the attributes change nothing.
- :func:`aligned_empty` allocates arrays at a 64-byte boundary. NumPy's large arrays start 16
  bytes past one, so every 512-bit load of a row straddles two cache lines.

Measured on the 2-core Xeon (AVX-512, one thread, CPU time, medians of 25 calls; busy machine):
``spmm`` of a 95%-sparse 1000x784 matrix with a (784, 256) operand ran at 32.8 GF/s with 256-bit
vectors at NumPy's 16-byte offset, 35.3 with 512-bit vectors there, 44.8 with 256-bit vectors
aligned and 59.5 with both; in the 95% model's forward pass at batch 256 the three hidden
products went from 35-37 to 41-50 GF/s. Rows of a (features, batch) array stay aligned only
when the batch is a multiple of 16: at 250 (the training batch) the products run at 26-30 GF/s.
"""
import math

import numpy as np
from numba import types
from numba.extending import intrinsic

ALIGN = 64  # bytes: one cache line, one 512-bit vector

_ATTRIBUTES = ('"prefer-vector-width"="512"', '"min-legal-vector-width"="512"')


@intrinsic
def wide_vectors(typingctx):
    """In a jitted function: vectorise this function's loops with 512-bit vectors where the
    CPU has them (no effect on the computed values beyond the order of a vectorised
    reduction's partial sums, which stays fixed for a given CPU)."""
    def codegen(context, builder, signature, args):
        attributes = builder.function.attributes
        for attribute in _ATTRIBUTES:
            # llvmlite knows no string attributes by name; its set prints them as written
            set.add(attributes, attribute)
        return context.get_dummy_value()
    return types.none(), codegen


def aligned_empty(shape, dtype=np.float32):
    """``np.empty(shape, dtype)``, C-contiguous, its first element at a 64-byte boundary."""
    dtype = np.dtype(dtype)
    shape = (shape,) if np.isscalar(shape) else tuple(shape)
    size = math.prod(shape)  # not np.prod: this runs for every layer of a forward pass
    pad = ALIGN // dtype.itemsize
    buf = np.empty(size + pad, dtype)
    start = (-buf.ctypes.data % ALIGN) // dtype.itemsize
    return buf[start:start + size].reshape(shape)
