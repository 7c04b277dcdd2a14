"""numba kernels: CSR products (:mod:`.csr`) and fused dense element-wise work (:mod:`.dense`)."""
from .csr import (TransposePlan, csr_matrix_f32, sddmm, spmm, spmm_t, spmm_t_bias_act,
                  spmv_t)

__all__ = ["spmm", "spmm_t", "spmm_t_bias_act", "spmv_t", "sddmm", "TransposePlan",
           "csr_matrix_f32"]
