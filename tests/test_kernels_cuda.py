"""The numba.cuda kernels and GPU training against NumPy/SciPy and the CPU path.

Without a GPU these run in numba's CUDA simulator (tests/conftest.py switches it on), so shapes
are tiny; on a real GPU the same tests run on the device. Without numba-cuda they are skipped.
"""
import numpy as np
import pytest
import scipy.sparse as sp

import sparana_lite as sl
from sparana_lite import device as D
from sparana_lite.kernels import csr as C
from sparana_lite.kernels import dense as K

try:
    DEV = D.get("cuda")
except D.DeviceUnavailableError as e:  # no numba-cuda, or no GPU and no simulator
    pytest.skip(f"CUDA tests skipped: {e}", allow_module_level=True)
G = DEV.G

RNG = np.random.default_rng(7)


def host(x):
    return x.copy_to_host()


def random_csr(m, k, density, seed=0):
    A = sp.random(m, k, density=density, format="csr", dtype=np.float32, random_state=seed)
    A.data = np.random.default_rng(seed).standard_normal(A.nnz).astype(np.float32)
    return A


def csr_cases():
    with_empty_rows = random_csr(9, 6, 0.3, seed=1)
    with_empty_rows.data[:] = 1.5
    with_empty_rows = sp.csr_matrix(with_empty_rows.toarray() * (np.arange(9) % 3 != 0)[:, None])
    unsorted = sp.csr_matrix((np.array([1., 2., 3.], np.float32), np.array([2, 0, 2]),
                              np.array([0, 3, 3])), shape=(2, 4))  # unsorted, a duplicate
    return {"1x1": sp.csr_matrix(np.array([[2.0]], np.float32)),
            "random": random_csr(7, 5, 0.4),
            "empty rows": with_empty_rows,
            "nnz=0": sp.csr_matrix((5, 3), dtype=np.float32),
            "unsorted, duplicate": unsorted}


CSR_CASES = csr_cases()


# ------------------------------------------------------------------------ CSR products

@pytest.mark.parametrize("name", list(CSR_CASES))
def test_spmm_spmm_t_sddmm_match_scipy(name):
    A = CSR_CASES[name]
    m, k = A.shape
    B = RNG.standard_normal((k, 3)).astype(np.float32)
    Bt = RNG.standard_normal((m, 3)).astype(np.float32)
    X = RNG.standard_normal((m, 4)).astype(np.float32)
    Y = RNG.standard_normal((4, k)).astype(np.float32)
    np.testing.assert_allclose(host(G.spmm(A, B)), A @ B, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(G.spmm_t(A, Bt)), A.T @ Bt, rtol=1e-5, atol=1e-6)
    rows = np.repeat(np.arange(m), np.diff(A.indptr))
    expected = np.einsum("pd,pd->p", X[rows], Y.T[A.indices[:A.nnz]])
    np.testing.assert_allclose(host(G.sddmm(A, X, Y)), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(G.sddmm(A, X, Y)), C.sddmm(A, X, Y), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(CSR_CASES))
def test_spmm_t_bias_act_matches_the_cpu_kernel(name):
    A = CSR_CASES[name]
    m, k = A.shape
    Bt = RNG.standard_normal((m, 3)).astype(np.float32)
    bias = RNG.standard_normal(k).astype(np.float32)
    for activation in K.ACTIVATIONS:
        np.testing.assert_allclose(host(G.spmm_t_bias_act(A, Bt, G.to_device(bias), activation)),
                                   C.spmm_t_bias_act(A, Bt, bias, activation),
                                   rtol=1e-5, atol=1e-6)


def test_spmm_t_bias_act_refuses_bad_bias_and_activation():
    A = random_csr(4, 3, 0.5)
    B = np.ones((4, 2), np.float32)
    with pytest.raises(ValueError, match=r"bias must be a float32 vector of shape \(3,\)"):
        G.spmm_t_bias_act(A, B, G.to_device(np.zeros(4)), "relu")
    with pytest.raises(ValueError, match=r"bias must be a real vector of shape \(3,\)"):
        G.spmm_t_bias_act(A, B, np.zeros(2), "relu")
    with pytest.raises(ValueError, match="activation must be one of"):
        G.spmm_t_bias_act(A, B, np.zeros(3), "softplus")


def test_device_operands_and_plans_are_reused():
    A = random_csr(6, 4, 0.5, seed=3)
    dA, plan = G.DeviceCSR.from_scipy(A), G.DevicePlan.of(A)
    B = G.to_device(RNG.standard_normal((6, 2)))
    out = G.cuda.device_array((4, 2), np.float32)
    assert G.spmm_t(dA, B, plan=plan, out=out) is out
    np.testing.assert_allclose(host(out), A.T @ host(B), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(G.spmm_t(dA, B, plan=C.TransposePlan(A))), A.T @ host(B),
                               rtol=1e-5, atol=1e-6)
    assert (dA.to_scipy() != A).nnz == 0


def test_csr_products_refuse_bad_input_clearly():
    A = random_csr(4, 3, 0.5)
    with pytest.raises(ValueError, match="B needs 3 rows"):
        G.spmm(A, np.ones((4, 2), np.float32))
    with pytest.raises(TypeError, match="CSR"):
        G.spmm(A.tocoo(), np.ones((3, 2), np.float32))
    with pytest.raises(ValueError, match="plan does not match"):
        G.spmm_t(A, np.ones((4, 2), np.float32), plan=G.DevicePlan.of(random_csr(5, 3, 0.5)))
    with pytest.raises(ValueError, match="out must be a float32 device array"):
        G.spmm(A, np.ones((3, 2), np.float32), out=np.empty((4, 2), np.float32))
    with pytest.raises(TypeError, match="float32"):
        G.spmm(A, G.cuda.to_device(np.ones((3, 2))))


# ------------------------------------------------------------------------ dense kernels

@pytest.mark.parametrize("shape", [(1, 1, 1), (9, 20, 11), (3, 0, 2), (0, 4, 5)])
def test_matmul_matches_numpy_in_every_layout(shape):
    n, depth, m = shape
    a = RNG.standard_normal((n, depth)).astype(np.float32)
    b = RNG.standard_normal((depth, m)).astype(np.float32)
    expected = a @ b
    np.testing.assert_allclose(host(G.matmul(a, b)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(G.matmul(a.T.copy(), b, trans_a=True)), expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(G.matmul(a, b.T.copy(), trans_b=True)), expected,
                               rtol=1e-5, atol=1e-5)


@pytest.fixture
def gpu_tiles(monkeypatch):
    """matmul with the GPU's tile configuration (TILE = GPU_TILE) in the simulator, which
    otherwise runs the smaller SIMULATOR_TILE; on a GPU the tests run it anyway."""
    from sparana_lite.kernels import cuda as CU
    if not CU.SIMULATOR:
        assert CU.TILE == CU.GPU_TILE
        yield CU
        return
    assert CU.GPU_TILE > CU.TILE       # otherwise the default tests already cover it
    monkeypatch.setattr(CU, "TILE", CU.GPU_TILE)
    monkeypatch.setattr(CU, "TILE_PAD", CU.GPU_TILE + 1)
    launches = []
    kernel = CU._matmul_kernel

    class Spy:                          # records each launch's block shape
        def __getitem__(self, config):
            launches.append(config[1])
            return kernel[config]

    monkeypatch.setattr(CU, "_matmul_kernel", Spy())
    yield CU
    assert launches and set(launches) == {(CU.GPU_TILE, CU.GPU_TILE)}, launches


# shapes that cross the GPU's 16-wide tile edges in n, depth and m (one over, one under, exact)
@pytest.mark.parametrize("shape", [(17, 33, 15), (16, 16, 16), (3, 17, 31)])
def test_matmul_with_the_gpus_tiles_matches_numpy(gpu_tiles, shape):
    n, depth, m = shape
    rng = np.random.default_rng(sum(shape))
    a = rng.standard_normal((n, depth)).astype(np.float32)
    b = rng.standard_normal((depth, m)).astype(np.float32)
    expected = a @ b
    np.testing.assert_allclose(host(G.matmul(a, b)), expected, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(G.matmul(a.T.copy(), b, trans_a=True)), expected,
                               rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(host(G.matmul(a, b.T.copy(), trans_b=True)), expected,
                               rtol=1e-5, atol=1e-5)


def test_matmul_refuses_shapes_that_do_not_chain():
    with pytest.raises(ValueError, match="do not chain"):
        G.matmul(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32))


@pytest.mark.parametrize("name", list(K.ACTIVATIONS))
def test_bias_act_and_its_gradient_match_the_cpu_kernels(name):
    kind = K.ACTIVATIONS[name]
    z = RNG.standard_normal((5, 7)).astype(np.float32)
    b = RNG.standard_normal(7).astype(np.float32)
    e = RNG.standard_normal((5, 7)).astype(np.float32)
    a_cpu = K.bias_act_(z.copy(), b, kind)
    a_gpu = host(G.bias_act_(G.to_device(z), G.to_device(b), kind))
    np.testing.assert_allclose(a_gpu, a_cpu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(host(G.act_grad_(G.to_device(e), G.to_device(a_cpu), kind)),
                               K.act_grad_(e.copy(), a_cpu, kind), rtol=1e-5, atol=1e-6)


def test_column_sum_transpose_and_take_rows():
    d = RNG.standard_normal((6, 4)).astype(np.float32)
    np.testing.assert_allclose(host(G.column_sum(G.to_device(d))), d.sum(axis=0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_array_equal(host(G.transpose(G.to_device(d))), d.T)
    order = np.array([5, 0, 3, 1, 2, 4])
    dorder = G.to_device(order, np.int64)
    np.testing.assert_array_equal(host(G.take_rows(G.to_device(d), dorder, 2, 3)), d[[3, 1, 2]])
    y = np.arange(6) * 10
    np.testing.assert_array_equal(host(G.take_rows(G.to_device(y, np.int64), dorder, 1, 2)),
                                  [0, 30])


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("head", ["lq", "sce"])
def test_loss_and_error_match_the_model(head):
    model = sl.MLP([3, 4], head=head)
    z = RNG.standard_normal((6, 4)).astype(np.float32) * 3
    y = np.array([0, 3, 1, 2, 3, 0])
    loss, d = model._loss_and_error(z, y)
    guard = G.new_guard()
    gloss, gd = G.loss_and_error(G.to_device(z), G.to_device(y, np.int64), head, guard)
    assert host(gloss)[0] == pytest.approx(loss, rel=1e-6)
    np.testing.assert_allclose(host(gd), d, rtol=1e-5, atol=1e-6)
    assert host(guard)[0] == 0
    z[2, 1] = np.inf
    gloss, _ = G.loss_and_error(G.to_device(z), G.to_device(y, np.int64), head, guard)
    assert not np.isfinite(host(gloss)[0]) and host(guard)[0] == 1


# ------------------------------------------------------------------------ optimizer updates

def _update_inputs(p=37):
    w = RNG.standard_normal(p).astype(np.float32)
    g = (RNG.standard_normal(p) * 2).astype(np.float32)  # some beyond the clip bound
    m = RNG.standard_normal(p).astype(np.float32) * 0.1
    v = np.abs(RNG.standard_normal(p)).astype(np.float32) * 0.1
    mask = RNG.random(p) > 0.3
    return w, g, m, v, mask


@pytest.mark.parametrize("masked", [False, True])
def test_adam_update_matches_the_cpu_kernel(masked):
    w, g, m, v, mask = _update_inputs()
    mask = mask if masked else np.zeros(0, bool)
    args = (1e-2, 0.9, 0.999, 1e-3, 1e-4, 1.0)
    dw, dg, dm, dv = (G.to_device(a) for a in (w, g, m, v))
    G.adam_update_(dw, dg, dm, dv, G.to_device(mask, np.bool_), *args)
    K.adam_update_(w, g, m, v, mask, *args)
    for dev_arr, cpu_arr in ((dw, w), (dm, m), (dv, v)):
        np.testing.assert_allclose(host(dev_arr), cpu_arr, rtol=1e-6, atol=1e-7)
    if masked:
        assert np.all(host(dw)[~mask] == 0)


def test_sgd_update_matches_the_cpu_kernel_and_a_set_guard_stops_updates():
    w, g, vel, _, mask = _update_inputs()
    dw, dg, dvel = (G.to_device(a) for a in (w, g, vel))
    G.sgd_update_(dw, dg, dvel, G.to_device(mask, np.bool_), 0.1, 0.9, 1e-3)
    K.sgd_update_(w, g, vel, mask, 0.1, 0.9, 1e-3)
    np.testing.assert_allclose(host(dw), w, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(host(dvel), vel, rtol=1e-6, atol=1e-7)
    guard = G.to_device(np.ones(1, np.int32), np.int32)
    before = host(dw)
    G.sgd_update_(dw, dg, dvel, np.zeros(0, bool), 0.1, 0.9, 1e-3, guard)
    np.testing.assert_array_equal(host(dw), before)


# ------------------------------------------------------------------------ training

def _data(n=48, features=6, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, features)).astype(np.float32), rng.integers(0, classes, n)


def _pruned(head="lq"):
    model = sl.MLP([6, 5, 4, 3], head=head, seed=1)
    return sl.prune.prune(model, sl.prune.magnitude(model), ratio=0.5)


TRAIN_CASES = {
    "lq, dense + masks, Adam": (lambda: _pruned("lq"), lambda: sl.Adam(lr=1e-2, eps=1e-3, l2=0.5)),
    "sce, CSR, Adam": (lambda: _pruned("sce").to_sparse(), lambda: sl.Adam(lr=1e-2, eps=1e-3)),
    "lq, CSR + dense, SGD": (lambda: _pruned("lq").to_sparse(layers=[1]),
                             lambda: sl.SGD(lr=1e-2, momentum=0.9, l2=0.5)),
}


@pytest.mark.parametrize("case", list(TRAIN_CASES))
def test_training_on_the_gpu_matches_the_cpu(case):
    make_model, make_opt = TRAIN_CASES[case]
    x, y = _data()
    cpu = make_model()
    gpu = cpu.to_device("cuda")
    assert gpu.device == "cuda" and cpu.device == "cpu"
    opt_cpu, opt_gpu = make_opt(), make_opt()
    h_cpu = sl.train(cpu, x, y, optimizer=opt_cpu, steps=3, batch_size=8, seed=4,
                     eval_every=2, eval_data=(x, y), progress=False)
    h_gpu = sl.train(gpu, x, y, optimizer=opt_gpu, steps=3, batch_size=8, seed=4,
                     eval_every=2, eval_data=(x, y), progress=False)
    sl.train(cpu, x, y, optimizer=opt_cpu, steps=1, batch_size=8, seed=5, progress=False)
    sl.train(gpu, x, y, optimizer=opt_gpu, steps=1, batch_size=8, seed=5, progress=False)
    assert h_gpu.steps == h_cpu.steps == [2, 3]
    np.testing.assert_allclose(h_gpu.loss, h_cpu.loss, rtol=1e-5)
    assert h_gpu.accuracy == h_cpu.accuracy
    for W_gpu, W_cpu in zip(gpu.weights, cpu.weights):
        np.testing.assert_allclose(W_gpu, W_cpu, rtol=1e-4, atol=1e-6)
        assert np.array_equal(W_gpu == 0, W_cpu == 0)  # pruned weights stay exactly zero
    for b_gpu, b_cpu in zip(gpu.biases, cpu.biases):
        np.testing.assert_allclose(b_gpu, b_cpu, rtol=1e-4, atol=1e-6)
    back = gpu.to_device("cpu")
    assert back.device == "cpu" and back.is_sparse == cpu.is_sparse
    np.testing.assert_allclose(back.logits(x), cpu.logits(x), rtol=1e-4, atol=1e-5)
    assert gpu.predict(x).tolist() == cpu.predict(x).tolist()


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid:RuntimeWarning")
def test_a_diverging_gpu_run_stops_with_the_weights_before_the_bad_step():
    x, y = _data()
    cpu = sl.MLP([6, 4, 3], seed=0)
    for W in cpu.weights:
        W[:] = 1e20  # the second layer overflows float32: the loss is inf from step 1
    gpu = cpu.to_device("cuda")
    for model in (cpu, gpu):
        with pytest.raises(sl.TrainingDivergedError, match="became inf at step 1;"):
            sl.train(model, x, y, steps=3, batch_size=8, progress=False)
        assert all(np.all(W == 1e20) for W in model.weights)  # no update after the bad step


def test_a_gpu_model_asks_for_the_cpu_where_it_must():
    gpu = sl.MLP([4, 3, 2]).to_device("cuda")
    with pytest.raises(RuntimeError, match=r"to_device\('cpu'\)"):
        gpu.save("never-written.npz")
    with pytest.raises(RuntimeError, match="copy needs the model on the CPU"):
        gpu.copy()
    with pytest.raises(RuntimeError, match="pruning needs the model on the CPU"):
        sl.prune.prune(gpu, sl.prune.magnitude(gpu), ratio=0.5)
    assert gpu.sparsity() == [0.0, 0.0]


def test_unknown_or_missing_devices_give_clear_errors(monkeypatch):
    with pytest.raises(ValueError, match="'cpu' or 'cuda'"):
        sl.MLP([2, 2]).to_device("tpu")
    monkeypatch.setattr(D, "_cuda", [])
    monkeypatch.setattr(G.cuda, "is_available", lambda: False)
    with pytest.raises(D.DeviceUnavailableError, match=r'no usable NVIDIA GPU.*pip install -e "\.\[cuda\]"'):
        sl.MLP([2, 2]).to_device("cuda")
    monkeypatch.setattr(D, "_has_numba_cuda", lambda: False)
    with pytest.raises(D.DeviceUnavailableError, match=r'numba-cuda package, which is not installed'):
        sl.MLP([2, 2]).to_device("cuda")
