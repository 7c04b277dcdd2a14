"""scripts/repro/forgetting.py's book-sized verdict experiments (forget-heavy-lifting,
forget-use-case) on a small network: their structure and the relations the chapters rely on."""
import json

import pytest

from .test_repro_forgetting import data, forgetting, small_model  # noqa: F401 (fixtures)


def test_heavy_lifting_curves(forgetting, data, monkeypatch):
    f = forgetting
    monkeypatch.setattr(f, "KS_HEAVY", [0, 100, 1000, 3000])
    model = small_model(data, 0)
    out = f.heavy_lifting(model, data, seed=0)
    json.dumps(out)
    for name in ["largest_maav", "largest_magnitude", "random", "smallest_maav"]:
        assert len(out[name]) == 4 and out[name][0] == pytest.approx(out["test_accuracy"], abs=1e-6)
    # removing every weight of layer 3 (3,072) leaves the network at a constant answer
    assert max(out["largest_maav"][-1], out["random"][-1]) < 0.3
    # the k largest by MAAV are exactly sl.prune.prune(largest=True) of the MAAV
    import sparana_lite as sl
    maav = sl.prune.maav(model, data.x_train)
    edited = sl.prune.prune(model, maav, counts=[None, 1000, 1000, None], largest=True)
    assert edited.accuracy(data.x_test, data.y_test) == pytest.approx(out["largest_maav"][2],
                                                                       abs=1e-6)


def test_use_case_rows(forgetting, data, monkeypatch):
    f = forgetting
    monkeypatch.setattr(f, "K_BLOG", 500)
    monkeypatch.setattr(f, "RETAIN_EVAL", 300)
    monkeypatch.setattr(f, "MIA_FIT", 300)
    model = small_model(data, 0)
    gold = small_model(data, 0, without=f.TARGET)
    out = f.use_case(model, gold, data, seed=0, relearn={"max_steps": 40, "lr": 1e-3})
    json.dumps(out)
    assert set(out) == set(f.USE_CASE) | {"SSD as published", "output of the 7 zeroed",
                                          "gold standard (retrained)", "unedited"}
    u, g = out["unedited"], out["gold standard (retrained)"]
    assert u["changed"] == 0 and g["forget"] < 0.02 and out["output of the 7 zeroed"]["forget"] == 0
    assert out["output of the 7 zeroed"]["changed"] == 48 + 1
    for name in f.USE_CASE:
        assert 0 < out[name]["changed"] <= 2 * 500, name
    for name, r in out.items():
        rl = r["relearn"]
        if rl["steps"] is not None:          # counted only with the other digits kept
            assert rl["forget_at"] > 0.9 and rl["retain_at"] >= rl["retain_start"] - 0.01, name
        assert -1 <= r["mia_advantage"] <= 1 and 0 <= r["mia_rate"] <= 1
    assert u["relearn"]["steps"] == 0 or u["forget"] <= 0.9
