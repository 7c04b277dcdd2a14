"""Compile every CUDA kernel of sparana_lite to PTX, without a GPU: a check of what the simulator
cannot see (numba.cuda's typing and lowering for a real device).

The CUDA simulator runs the kernels as Python, so a kernel that a GPU would refuse to compile
(an unsupported function, a shared array with a computed shape) can pass the simulator tests.
This script compiles each kernel for compute capability 9.0 with numba-cuda's NVVM and reports
failures and any float64 arithmetic. It needs NVVM, which the `cuda` extra installs
(`pip install -e ".[cuda]"`), but no GPU and no driver:

    NUMBA_ENABLE_CUDASIM=0 python scripts/check_cuda_ptx.py

Exit status: the number of kernels that failed to compile.
"""
import os
import sys
import types as pytypes

if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") != "0":
    sys.exit("scripts/check_cuda_ptx.py compiles for a real GPU: unset NUMBA_ENABLE_CUDASIM")

from numba import cuda, types  # noqa: E402
import numba.cuda.dispatcher as dispatcher  # noqa: E402
from numba.types import boolean as b1, float32 as f4, float64 as f8, int32 as i4, int64 as i8  # noqa: E402

# Device functions called from a kernel are compiled for the current device's compute
# capability; without a driver there is none, so name one (an internal of numba-cuda 0.30).
dispatcher.get_current_device = lambda: pytypes.SimpleNamespace(compute_capability=(9, 0))

from sparana_lite.kernels import cuda as G  # noqa: E402


def a1(t):
    return types.Array(t, 1, "C")


def a2(t):
    return types.Array(t, 2, "C")


SIGNATURES = {  # the argument types the public functions pass
    "_spmm_kernel": (a1(i4), a1(i4), a1(f4), a2(f4), a2(f4)),
    "_spmm_bias_act_kernel": (a1(i4), a1(i4), a1(f4), a2(f4), a1(f4), i8, a2(f4)),
    "_sddmm_kernel": (a1(i4), a1(i4), a2(f4), a2(f4), a1(f4)),
    "_gather_kernel": (a1(f4), a1(i4), a1(f4)),
    "_matmul_kernel": (a2(f4), a2(f4), a2(f4), b1, b1),
    "_bias_act_kernel": (a2(f4), a1(f4), i8),
    "_act_grad_kernel": (a2(f4), a2(f4), i8),
    "_column_sum_kernel": (a2(f4), a1(f4)),
    "_transpose_kernel": (a2(f4), a2(f4)),
    "_take_rows_kernel": (a2(f4), a1(i8), i8, a2(f4)),
    "_take_kernel": (a1(i8), a1(i8), i8, a1(i8)),
    "_head_error_kernel": (a2(f4), a1(i8), a2(f4), a1(f8), b1),
    "_loss_sum_kernel": (a1(f8), a1(f8), a1(i4)),
    "_adam_kernel": (a1(f4), a1(f4), a1(f4), a1(f4), a1(b1), b1, f4, f4, f4, f4, f4, f4, a1(i4)),
    "_sgd_kernel": (a1(f4), a1(f4), a1(f4), a1(b1), b1, f4, f4, f4, a1(i4)),
}


def main():
    failed = 0
    for name, signature in SIGNATURES.items():
        try:
            ptx, _ = cuda.compile_ptx(getattr(G, name).py_func, signature, cc=(9, 0))
        except Exception as e:  # report every kernel, then fail
            failed += 1
            print(f"{name:20s} FAILED: {type(e).__name__}: {e}")
            continue
        f64 = sum(".f64" in line and any(op in line for op in ("add", "mul", "div", "fma", "sqrt"))
                  for line in ptx.splitlines())
        print(f"{name:20s} ok ({len(ptx.splitlines())} PTX lines, {f64} float64 arithmetic)")
    return failed


if __name__ == "__main__":
    sys.exit(main())
