import numpy as np
import pytest

from sparana_lite.kernels import dense as K

from . import reference as ref

RNG = np.random.default_rng(3)
SHAPES = [(1, 1), (3, 7), (250, 400), (33, 1000)]


def both_paths(run):
    """Run ``run(serial_or_parallel_driver_flag)`` both ways and return the two results."""
    saved = K.PARALLEL_MIN_SIZE
    try:
        K.PARALLEL_MIN_SIZE = 10**12
        serial = run()
        K.PARALLEL_MIN_SIZE = 0
        parallel = run()
    finally:
        K.PARALLEL_MIN_SIZE = saved
    return serial, parallel


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["linear", "relu", "tanh", "sigmoid"])
def test_bias_act_matches_numpy(shape, name):
    z = RNG.standard_normal(shape).astype(np.float32)
    b = RNG.standard_normal(shape[1]).astype(np.float32)
    expected = ref.ACT[name][0]((z + b).astype(float))
    serial, parallel = both_paths(lambda: K.bias_act_(z.copy(), b, K.ACTIVATIONS[name]))
    np.testing.assert_allclose(serial, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(serial, parallel)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["linear", "relu", "tanh", "sigmoid"])
def test_act_grad_matches_the_derivative(shape, name):
    z = RNG.standard_normal(shape)
    e = RNG.standard_normal(shape).astype(np.float32)
    a = ref.ACT[name][0](z).astype(np.float32)
    expected = e * ref.ACT[name][1](z)
    serial, parallel = both_paths(lambda: K.act_grad_(e.copy(), a, K.ACTIVATIONS[name]))
    np.testing.assert_allclose(serial, expected, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(serial, parallel)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("name", ["linear", "relu", "tanh", "sigmoid"])
def test_bias_act_on_an_f_ordered_array_matches_the_c_ordered_one(shape, name):
    """CSR layers hand over their products as F-ordered views; the result is the same, in place."""
    z = RNG.standard_normal(shape).astype(np.float32)
    b = RNG.standard_normal(shape[1]).astype(np.float32)
    expected = K.bias_act_(z.copy(), b, K.ACTIVATIONS[name])

    def run():
        z_f = np.array(z, order="F")  # a copy, also where z is F-contiguous (1 x 1)
        out = K.bias_act_(z_f, b, K.ACTIVATIONS[name])
        assert out is z_f and z_f.flags.f_contiguous
        return z_f

    serial, parallel = both_paths(run)
    np.testing.assert_array_equal(serial, expected)
    np.testing.assert_array_equal(parallel, expected)


@pytest.mark.parametrize("layouts", ["FF", "FC", "CF"])
@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
def test_act_grad_in_any_layout_matches_the_c_ordered_one(layouts, name):
    shape = (33, 100)
    e = RNG.standard_normal(shape).astype(np.float32)
    a = ref.ACT[name][0](RNG.standard_normal(shape)).astype(np.float32)
    expected = K.act_grad_(e.copy(), a, K.ACTIVATIONS[name])
    order = {"F": np.asfortranarray, "C": np.ascontiguousarray}
    e_x, a_x = order[layouts[0]](e.copy()), order[layouts[1]](a)
    out = K.act_grad_(e_x, a_x, K.ACTIVATIONS[name])
    assert out is e_x
    np.testing.assert_array_equal(e_x, expected)
    np.testing.assert_array_equal(a_x, a)  # a is read, never written


@pytest.mark.parametrize("size", [1, 100, 20_000])
@pytest.mark.parametrize("masked", [False, True])
def test_adam_update_matches_reference(size, masked):
    w = RNG.standard_normal(size).astype(np.float32)
    g = (3 * RNG.standard_normal(size)).astype(np.float32)  # some beyond the clip bound
    m = (0.1 * RNG.standard_normal(size)).astype(np.float32)
    v = RNG.random(size).astype(np.float32)
    mask = RNG.random(size) < 0.5 if masked else np.zeros(0, bool)
    if masked:
        w[~mask] = m[~mask] = v[~mask] = 0

    def run():
        out = [w.copy(), m.copy(), v.copy()]
        K.adam_update_(out[0], g, out[1], out[2], mask, 1e-3, 0.9, 0.999, 1e-3, 1e-4, 1.0)
        return out
    serial, parallel = both_paths(run)
    gg = np.where(mask, g, 0) if masked else g
    ew, em, ev = ref.adam_step(w.astype(float), gg.astype(float), m.astype(float), v.astype(float),
                               t=1, lr=1.0, eps=1e-3)
    # adam_step's lr_t uses t=1 with lr=1: rescale to the lr_t=1e-3 given to the kernel
    lr_t1 = np.sqrt(1 - 0.999) / (1 - 0.9)
    ew = w + (ew - w) * 1e-3 / lr_t1 - 1e-4 * w
    if masked:
        ew[~mask] = 0
    np.testing.assert_allclose(serial[1], em, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(serial[2], ev, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(serial[0], ew, rtol=1e-5, atol=1e-6)
    if masked:
        assert np.all(serial[0][~mask] == 0) and np.all(serial[1][~mask] == 0)
    for s, p in zip(serial, parallel):
        np.testing.assert_array_equal(s, p)


@pytest.mark.parametrize("masked", [False, True])
def test_sgd_update_matches_reference(masked):
    size = 10_000
    w, g, vel = (RNG.standard_normal(size).astype(np.float32) for _ in range(3))
    mask = RNG.random(size) < 0.5 if masked else np.zeros(0, bool)

    def run():
        out = [w.copy(), vel.copy()]
        K.sgd_update_(out[0], g, out[1], mask, 0.1, 0.9, 0.01)
        return out
    serial, parallel = both_paths(run)
    gg = np.where(mask, g, 0) if masked else g
    ev = 0.9 * vel - 0.1 * gg
    ew = w + ev - 0.01 * w
    if masked:
        ew[~mask] = 0
    np.testing.assert_allclose(serial[1], ev, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(serial[0], ew, rtol=1e-5, atol=1e-6)
    for s, p in zip(serial, parallel):
        np.testing.assert_array_equal(s, p)


def _raise(*args):
    raise RuntimeError("parallel driver reached")


@pytest.mark.parametrize("driver, call", [
    ("_bias_act_parallel", lambda: K.bias_act_(np.ones((2, 3), np.float32), np.ones(3, np.float32),
                                               K.RELU)),
    ("_bias_act_t_parallel", lambda: K.bias_act_(np.ones((2, 3), np.float32, order="F"),
                                                 np.ones(3, np.float32), K.RELU)),
    ("_act_grad_parallel", lambda: K.act_grad_(np.ones((2, 3), np.float32), np.ones((2, 3), np.float32),
                                               K.RELU)),
    ("_adam_parallel", lambda: K.adam_update_(*(np.ones(5, np.float32) for _ in range(4)),
                                              np.zeros(0, bool), 1e-3, 0.9, 0.999, 1e-3, 0.0, 1.0)),
    ("_sgd_parallel", lambda: K.sgd_update_(*(np.ones(5, np.float32) for _ in range(3)),
                                            np.zeros(0, bool), 0.1, 0.9, 0.0)),
])
def test_both_paths_reaches_every_parallel_driver(monkeypatch, driver, call):
    """``both_paths`` (the switch the equality tests above and test_train's thread test use)
    must run each kernel's parallel driver on its second run and its serial twin on the first.
    Fails if a kernel decides serial-or-parallel on anything but ``PARALLEL_MIN_SIZE`` read at
    call time (e.g. a threshold copied at import, as ``UPDATE_PARALLEL_MIN_SIZE`` was)."""
    monkeypatch.setattr(K, driver, _raise)
    with pytest.raises(RuntimeError, match="parallel driver reached"):
        both_paths(call)
    saved = K.PARALLEL_MIN_SIZE
    K.PARALLEL_MIN_SIZE = 10**12
    try:
        call()  # the serial twin alone: no error
    finally:
        K.PARALLEL_MIN_SIZE = saved
