"""FLOP counts and forward timings."""
import numpy as np
import pytest

import sparana_lite as sl
from sparana_lite import cost

X = np.random.default_rng(0).uniform(0, 1, (50, 8)).astype(np.float32)


def test_forward_times_shapes_and_ratios():
    big = sl.MLP([8, 64, 64, 3], seed=0)
    small = sl.MLP([8, 16, 8, 3], seed=0)
    t = cost.forward_times({"big": big, "small": small, "csr": big.to_sparse()}, X,
                           batch_sizes=(1, 50), repeats=3, rounds=1)
    assert set(t.seconds) == {1, 50}
    assert t.names == ["big", "small", "csr"]
    assert t.ratios(50)["big"] == 1.0 and all(v > 0 for v in t.ratios(1).values())
    assert all(len(v) == 3 for v in t.samples[1].values())
    assert all(t.fastest[50][n] <= t.seconds[50][n] for n in t.names)
    assert t.ratios(50, stat="min")["big"] == 1.0
    with pytest.raises(ValueError, match="stat"):
        t.ratios(50, stat="mean")
    assert t.flops["big"] == 2 * (8 * 64 + 64 * 64 + 64 * 3)
    assert t.flop_ratios()["small"] == pytest.approx(t.flops["big"] / t.flops["small"])
    rows = t.table()
    assert len(rows) == 3 and len(rows[0]) == 3 + 2 * 2


def test_median_seconds_counts_calls():
    calls = []
    out = cost.median_seconds({"f": lambda: calls.append(1)}, repeats=4, rounds=2, warmup=1,
                              settle=0)
    assert len(calls) == 2 * (1 + 2) and out["f"] >= 0


def test_bad_inputs():
    m = sl.MLP([8, 4, 3])
    with pytest.raises(ValueError, match="batch_sizes"):
        cost.forward_times({"m": m}, X, batch_sizes=(100,))
    with pytest.raises(ValueError, match="models"):
        cost.forward_times({}, X)
    with pytest.raises(TypeError, match="models"):
        cost.forward_times({"m": "no"}, X)
    with pytest.raises(ValueError, match="x must have 8"):
        cost.forward_times({"m": m}, X[:, :5])
    with pytest.raises(ValueError, match="funcs"):
        cost.median_seconds({"f": 3})
