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


def test_cpu_call_seconds_one_thread_and_shapes():
    big = sl.MLP([8, 256, 256, 3], seed=0)
    small = sl.MLP([8, 4, 3], seed=0)
    t = cost.cpu_call_seconds({"big": big, "small": small, "csr": big.to_sparse()}, X,
                              batch_sizes=(1, 50), repeats=3, min_seconds=0.001)
    assert set(t) == {1, 50} and all(len(v) == 3 for b in t for v in t[b].values())
    # the big model costs ~200x the small one's products: its median call must take longer
    assert np.median(t[50]["big"]) > np.median(t[50]["small"])
    with pytest.raises(ValueError, match="batch_sizes"):
        cost.cpu_call_seconds({"m": small}, X, batch_sizes=(100,))
    with pytest.raises(ValueError, match="repeats"):
        cost.cpu_call_seconds({"m": small}, X, batch_sizes=(1,), repeats=0)
    with pytest.raises(TypeError, match="models"):
        cost.cpu_call_seconds({"m": "no"}, X)


def test_other_cpu_share_leaves_out_our_own_time():
    # 2 cores for 10 s: 12 busy seconds of which 4 ours -> others used 8 of 20 core-seconds
    assert cost.other_cpu_share(12.0, 4.0, 10.0, 2) == pytest.approx(0.4)
    assert cost.other_cpu_share(4.0, 4.0, 10.0, 2) == 0.0      # only we ran
    assert cost.other_cpu_share(3.0, 4.0, 10.0, 2) == 0.0      # clipped, tick rounding
    assert cost.other_cpu_share(40.0, 0.0, 10.0, 2) == 1.0
    with pytest.raises(ValueError, match="wall_seconds"):
        cost.other_cpu_share(1.0, 0.0, 0.0, 2)
    with pytest.raises(ValueError, match="n_cores"):
        cost.other_cpu_share(1.0, 0.0, 1.0, 0)


def test_cpu_busy_seconds_parses_proc_stat():
    text = "cpu  100 5 50 1000 20 3 2 10 0 0\ncpu0 50 2 25 500 10 1 1 5 0 0\nintr 1 2\n"
    # user + nice + system + irq + softirq + steal, idle and iowait left out, at 100 ticks/s
    assert cost._cpu_busy_seconds(text, 100) == pytest.approx((100 + 5 + 50 + 3 + 2 + 10) / 100)
    with pytest.raises(ValueError, match="cpu"):
        cost._cpu_busy_seconds("intr 1 2\n", 100)


def test_machine_load_records_and_flags():
    with cost.MachineLoad(busy_share=0.0) as load:
        sum(i * i for i in range(200_000))
    d = load.as_dict()
    assert len(d["load_average_1min"]) == 2 and d["n_cores"] >= 1
    assert d["other_cpu_share"] is None or 0 <= d["other_cpu_share"] <= 1
    assert isinstance(d["busy"], bool)
    with cost.MachineLoad(busy_share=1.0) as load:
        pass
    # others can never use more than all of the CPU: busy only where their share is unknown
    assert load.busy == (load.other_cpu_share is None and max(load.load_average) > load.n_cores)


def test_machine_load_is_not_busy_from_its_own_load(monkeypatch):
    """A load average above the core count that this process made itself (a training just
    before) is not a busy machine when the other processes' share is known and small; it is
    one when that share cannot be read."""
    monkeypatch.setattr(cost.os, "getloadavg", lambda: (64.0, 64.0, 64.0))
    with cost.MachineLoad() as load:
        sum(i * i for i in range(100_000))
    if load.other_cpu_share is not None:
        assert load.other_cpu_share > load.busy_share or not load.busy
    monkeypatch.setattr(cost.MachineLoad, "_busy", lambda self: None)
    with cost.MachineLoad() as load:
        pass
    assert load.other_cpu_share is None and load.busy
    with pytest.raises(ValueError, match="busy_share"):
        cost.MachineLoad(busy_share=2)
