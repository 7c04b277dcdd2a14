"""benchmarks/removal.py checks that the models it times compute the same function."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest

import sparana_lite as sl

X = np.random.default_rng(0).uniform(0, 1, (40, 20)).astype(np.float32)


@pytest.fixture(scope="module")
def bench():
    path = Path(__file__).resolve().parents[1] / "benchmarks" / "removal.py"
    spec = importlib.util.spec_from_file_location("bench_removal", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_check_outputs_compares_the_pruned_twins_with_the_masked_model(bench):
    models = bench.four_models(sl.MLP([20, 30, 20, 5], seed=0), X, 0.8)
    assert models["shrunk"].widths[1] < 30                 # removal did something
    assert bench.check_outputs(models, X) < 1e-5
    broken = dict(models, shrunk=models["shrunk"].copy())
    broken["shrunk"].layers[-1].b[0] += 0.1                # a wrongly folded bias
    with pytest.raises(AssertionError, match="shrunk"):
        bench.check_outputs(broken, X)
    broken = dict(models, csr=sl.MLP([20, 30, 20, 5], seed=1).to_sparse())
    with pytest.raises(AssertionError, match="csr"):
        bench.check_outputs(broken, X)
