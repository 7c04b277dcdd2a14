"""Every experiment of ``scripts/reproduce.py`` (its ``EXPERIMENTS`` registries) runs again at
tiny size, and its results have the structure of the committed ``book/results/<name>.json``:
the same keys at every level and the same kinds of values (lists may differ in length, a
number may be None where nothing was measured). The relations a chapter reads from a file
(``RELATIONS``) hold in the tiny run and in the committed file alike.

Tiny size: the zoo is replaced by small networks of each configuration's depth (hidden layers
a quarter as wide, trained for a few steps on a slice of the data set), so the experiment
code runs as it is; an experiment that is still slow at that size names a cheaper call in its
module's ``TINY`` dict (experiment name -> function of no arguments). An experiment that takes
more than ``BUDGET_SECONDS`` of CPU time here, or whose module's ``TINY`` names no experiment of its
``EXPERIMENTS``, fails with a message that says so.
"""
import json
from pathlib import Path
import time

import numpy as np
import pytest

import sparana_lite as sl

from .scripts import import_script, roundtrip

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "book" / "results"
BUDGET_SECONDS = 60   # CPU seconds, numba compiling its kernels in a fresh process included
N_TRAIN, N_TEST = 20_000, 1_000   # forget-lq-mnist's probes read 20,000 training images


def reproduce():
    return import_script("reproduce")


def module_of(name):
    return next(m for m in reproduce().MODULES if name in m.EXPERIMENTS)


def experiment_names():
    return list(reproduce().EXPERIMENTS)


@pytest.fixture(scope="module")
def tiny_data(mnist):
    cache = {}

    def data(dataset):
        if dataset not in cache:
            base, _, left_out = dataset.partition("-without-")
            full = mnist if base == "mnist" else sl.zoo.load_dataset(base)
            ds = full.subset(n_train=N_TRAIN, n_test=N_TEST)
            if left_out:
                import dataclasses
                keep = ds.y_train != int(left_out)
                ds = dataclasses.replace(ds, x_train=ds.x_train[keep], y_train=ds.y_train[keep])
            cache[dataset] = ds
        return cache[dataset]
    return data


@pytest.fixture(scope="module")
def tiny_models(tiny_data):
    """zoo_model(name, seed, steps): a network of the configuration's depth and head, hidden
    layers a quarter as wide (the blog's 1000-800-400: 250-200-100, whose middle layers still
    hold the 20,000 weights forgetting's grids reach), trained 40 steps; one per (name, seed,
    steps), with the metadata the experiments read."""
    cache = {}

    def zoo_model(name, seed=0, steps=None, eval_every=None):
        config = sl.zoo.CONFIGS[name]
        steps = config.default_steps if steps is None else steps
        if (name, seed, steps) not in cache:
            data = tiny_data(config.dataset)
            widths = [config.widths[0], *(max(8, w // 16) for w in config.widths[1:-1]),
                      config.widths[-1]]
            model = sl.MLP(widths, head=config.head, activation=config.activation, seed=seed)
            sl.train(model, data.x_train, data.y_train, optimizer=sl.Adam(lr=1e-3, eps=1e-3),
                     steps=40, batch_size=100, seed=seed, progress=False)
            model.metadata = {"zoo": name, "steps": steps, "seed": seed, "train_seconds": 0.1,
                              "device": "cpu",
                              "history": {"steps": [20, 40], "test_accuracy": [0.5, 0.6]}}
            cache[name, seed, steps] = model
        return cache[name, seed, steps]
    return zoo_model


@pytest.fixture
def tiny_zoo(monkeypatch, tiny_models, tiny_data):
    """The repro modules with the tiny zoo and data in place of the real ones."""
    common = import_script("repro.common")

    def dataset(name):
        return tiny_data(sl.zoo.CONFIGS[name].dataset)

    for module in (common, *reproduce().MODULES):
        for attr, fake in (("zoo_model", tiny_models), ("dataset", dataset)):
            if hasattr(module, attr):
                monkeypatch.setattr(module, attr, fake)
    return tiny_models


def tiny_call(name):
    module = module_of(name)
    return getattr(module, "TINY", {}).get(name, module.EXPERIMENTS[name])


# ----------------------------------------------------------------------------- structure

def structure(value):
    """The shape of a JSON value: dicts by their keys, lists by the union of their elements'
    structures, scalars by kind (int and float are both "number"; None matches anything)."""
    if isinstance(value, dict):
        return {k: structure(v) for k, v in value.items()}
    if isinstance(value, list):
        merged = None
        for v in value:
            merged = merge(merged, structure(v))
        return ["list", merged]
    if value is None:
        return None
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def merge(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: merge(a.get(k), b.get(k)) for k in {**a, **b}}
    if isinstance(a, list) and isinstance(b, list):
        return ["list", merge(a[1], b[1])]
    return a if a == b else ("either", a, b)


def differences(committed, tiny, where="results"):
    """Where two structures differ (an empty list if nowhere)."""
    if committed is None or tiny is None or committed == tiny:
        return []
    if isinstance(committed, dict) and isinstance(tiny, dict):
        out = [f"{where}: keys only in the committed file: {sorted(set(committed) - set(tiny))}"
               ] if set(committed) - set(tiny) else []
        if set(tiny) - set(committed):
            out.append(f"{where}: keys only in the tiny run: {sorted(set(tiny) - set(committed))}")
        for k in set(committed) & set(tiny):
            out += differences(committed[k], tiny[k], f"{where}[{k!r}]")
        return out
    if isinstance(committed, list) and isinstance(tiny, list):
        return differences(committed[1], tiny[1], f"{where}[...]")
    return [f"{where}: {committed} in the committed file, {tiny} in the tiny run"]


def test_structure_compares_keys_and_kinds_not_lengths():
    a = {"runs": [{"x": 1.0, "y": [1, 2]}, {"x": None, "y": []}], "n": 3}
    assert differences(structure(a), structure({"runs": [{"x": 2, "y": [5]}], "n": 1})) == []
    assert differences(structure(a), structure({"runs": [{"x": 2}], "n": 1}))          # a key
    assert differences(structure(a), structure({"runs": [{"x": "2", "y": []}], "n": 1}))  # kind
    assert differences(structure(a), structure({"runs": {"x": 2}, "n": 1}))            # list


# ----------------------------------------------------------------------------- the runs

@pytest.mark.parametrize("name", experiment_names())
def test_experiment_at_tiny_size_has_the_committed_structure(name, tiny_zoo):
    start = time.process_time()    # CPU time: a busy machine does not make it fail
    results = roundtrip(tiny_call(name)())
    seconds = time.process_time() - start
    print(f"{name}: {seconds:.1f} s of CPU time at tiny size")
    assert seconds < BUDGET_SECONDS, (
        f"{name} took {seconds:.0f} s of CPU time at tiny size: add a cheaper call to TINY[{name!r}] in "
        f"scripts/repro/{module_of(name).__name__.split('.')[-1]}.py")
    if name in RELATIONS:
        RELATIONS[name](results)
    path = RESULTS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"no committed {path.name} yet (run scripts/reproduce.py {name})")
    committed = json.loads(path.read_text())["results"]
    assert differences(structure(committed), structure(results)) == []


def test_tiny_variants_name_experiments():
    for module in reproduce().MODULES:
        unknown = set(getattr(module, "TINY", {})) - set(module.EXPERIMENTS)
        assert not unknown, f"{module.__name__}.TINY names no experiment: {sorted(unknown)}"


# ----------------------------------------------------------------------------- relations

def close(a, b, tol=1e-6):
    return a is not None and b is not None and abs(a - b) <= tol


def removal_curve(run, widths, tol):
    """A removal run (``repro.removal.curve``): record 0 is the unpruned model, removal is exact,
    the model only shrinks, and every list has one entry per record."""
    n = len(run["widths"])
    assert run["widths"][0] == widths
    assert len(run["size_left"]) == len(run["accuracy"]) == len(run["amount"]) == n
    assert run["max_relative_change"] <= tol
    assert all(b <= a + 1e-9 for a, b in zip(run["size_left"], run["size_left"][1:]))
    assert all(b <= a for w0, w1 in zip(run["widths"], run["widths"][1:])
               for a, b in zip(w0, w1))


def lq_sce(r):
    for e in r["runs"]:
        for head in ("lq", "sce"):
            assert 0 < e[head]["test_accuracy"] <= 1
            assert e[head]["p1_p99"][0] <= e[head]["p1_p99"][1]
        lo, hi = e["sce"]["logit_min_max"]
        assert lo <= e["sce"]["p1_p99"][0] and e["sce"]["p1_p99"][1] <= hi
        if "shrinking" in e["lq"]:       # target 3: removal and CSR leave the outputs alone
            s = e["lq"]["shrinking"]
            assert max(s["max_abs_diff_removed"], s["max_abs_diff_csr"]) <= \
                1e-5 * max(1, s["output_scale"])
            assert max(s["accuracy"]) - min(s["accuracy"]) <= 1e-3
            assert all(a <= b for a, b in zip(s["widths_after"], s["widths_before"]))
    assert any("shrinking" in e["lq"] for e in r["runs"])


def attacks(r):
    for e in r["runs"]:
        assert len(e["success"]) == len(e["strengths"])
        assert all(0 <= v <= 1 for v in e["success"])
        assert e["strengths"][0] != 0 or e["success"][0] == 0      # no perturbation fools none


def lq_20000(r):
    assert len(r["class_accuracy"]) == 10 and len(r["train10_outputs"]) == 10
    assert min(r["class_accuracy"]) - 1e-6 <= r["test_accuracy"] <= max(r["class_accuracy"]) + 1e-6


def pruning(r):
    for m in r["models"]:
        assert m["ratios"][0] == 0
        for curve in m["accuracy"].values():
            assert len(curve) == len(m["ratios"]) and close(curve[0], m["unpruned"])


def sgd(r):
    for e in r["runs"]:
        assert close(e["retrained"], e["retrain_curve"]["accuracy"][-1])
        assert e["retrain_curve"]["steps"][-1] == e["retrain_steps"] and e["sparsity_kept"]


def maav(r):
    for m in r["models"]:
        assert max(m["max_relative_difference"]) < 1e-6
        assert all(z["their_maav_is_zero"] for z in m["always_zero_inputs"])


def forgetting(r):
    ks = r["grids"]["ks"]
    assert r["k_blog"] in ks
    for e in r["runs"]:
        for curves in (e["both"], *e["single"].values(), *e["controls"].values()):
            assert close(curves["target"][0], e["base_target"])          # k = 0: unedited
            assert close(curves["rest"][0], e["base_rest"])
        below = [k for k, v in zip(ks, e["both"]["target"]) if v < 0.5]
        assert e["both"]["k_below_50"] == (below[0] if below else None)
        assert len(e["both"]["target"]) == len(ks) == len(e["both"]["target_train"])
        conf = np.array(e["outputs"]["confusion"])
        assert conf.shape == (len(ks), 10) and np.allclose(conf.sum(axis=1), 1, atol=1e-4)


def removal_lq(r):
    for e in r["runs"]:
        for schedule in ("one-shot", "iterative"):
            removal_curve(e[schedule], e["widths"], r["exact_tol"])
        assert close(e["base_accuracy"], e["one-shot"]["accuracy"][0])


def removal_control(r):
    for e in r["runs"]:
        assert set(e["criteria"]) == set(r["criteria"])
        for run in e["criteria"].values():
            removal_curve(run, e["widths"], r["exact_tol"])
            assert len(run["accuracy_at_dense"]) == len(r["compare_at_dense_size"])


def removal_timing(r):
    for e in r["runs"]:
        assert e["flop_ratio"]["masked"] == [1.0] * len(r["sparsities"])     # zeros still cost
        assert e["max_relative_difference"] < 1e-5
        for clock in ("cpu", "wall"):
            for values in e[clock]["speedup_median"].values():
                assert len(values) == len(r["sparsities"]) and all(v > 0 for v in values)


def removal_deep(r):
    for e in r["runs"]:
        removal_curve(e, e["widths0"], r["exact_tol"])
        assert close(e["base_accuracy"], e["accuracy"][0])


def lq_vs_sce(r):
    """Target 4: the stored per-image results give each seed's counts, accuracies and
    difference back; the mean over seeds is the mean of the seeds' differences; the sweep's
    choice is its best validation accuracy, and the tuned comparison uses it."""
    lq = import_script("repro.lq")
    parts = [r["blog_recipe"]] + ([r["tuned"]] if "tuned" in r else [])
    for part in parts:
        for e in part["per_seed"]:
            lq_right = lq.unpack_bits(e["lq_correct"], e["n_images"])
            sce_right = lq.unpack_bits(e["sce_correct"], e["n_images"])
            assert int(np.sum(lq_right & ~sce_right)) == e["lq_only"]
            assert int(np.sum(~lq_right & sce_right)) == e["sce_only"]
            assert close(lq_right.mean(), e["lq_accuracy"]) and close(sce_right.mean(), e["sce_accuracy"])
            assert close(e["difference"], 100 * (e["lq_only"] - e["sce_only"]) / e["n_images"])
            assert e["image_interval"][0] <= e["difference"] <= e["image_interval"][1]
        a = part["across_seeds"]
        assert close(a["mean"], np.mean([e["difference"] for e in part["per_seed"]]))
        assert a["lq_ahead"] == sum(e["difference"] > 0 for e in part["per_seed"])
        assert a["seed_interval"][0] <= a["mean"] <= a["seed_interval"][1]
    if "sweep" in r:
        best = max(r["sweep"]["runs"], key=lambda e: e["validation_accuracy"])
        assert r["sweep"]["chosen_lr"] == best["lr"] == r["tuned"]["lr"]


# what the chapters and the appendix rely on in each results file
RELATIONS = {
    "lq-vs-sce-seeds": lq_vs_sce, "lq-vs-sce-20000": lq_vs_sce,
    "lq-sce-mnist": lq_sce, "attacks-lq-sce": attacks, "lq-mnist-20000": lq_20000,
    "prune-lq-mnist-20000": pruning, "prune-sgd-vs-adam-seeds": pruning,
    "prune-lq-mnist-seeds": pruning, "sgd-2019": sgd, "sgd-2019-100000": sgd,
    "maav-identity": maav, "forget-lq-mnist": forgetting,
    "removal-lq-mnist": removal_lq, "removal-control": removal_control,
    "removal-timing": removal_timing, "removal-1000x3": removal_deep,
    "removal-1000x3-20000": removal_deep, "removal-longboy": removal_deep,
    "removal-longboy-20000": removal_deep,
}


@pytest.mark.parametrize("name", sorted(RELATIONS))
def test_committed_results_keep_their_chapters_relations(name):
    path = RESULTS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"no committed {path.name} yet")
    RELATIONS[name](json.loads(path.read_text())["results"])


def test_every_experiment_has_relations():
    """A new experiment names what its chapter relies on in RELATIONS (here)."""
    assert set(experiment_names()) <= set(RELATIONS), set(experiment_names()) - set(RELATIONS)


def test_relations_reject_a_broken_file():
    """Not vacuous: a removal that changed the outputs, a MAAV that is not the identity, a
    pruning curve that does not start at the unpruned model, a wrong first k are refused."""
    broken = {
        "removal-lq-mnist": lambda r: r["runs"][0]["one-shot"].update(max_relative_change=1e-3),
        "maav-identity": lambda r: r["models"][0]["max_relative_difference"].__setitem__(0, 1e-3),
        "prune-lq-mnist-seeds": lambda r: r["models"][0].update(unpruned=0.5),
        "forget-lq-mnist": lambda r: r["runs"][0]["both"].update(k_below_50=-1),
    }
    for name, breaks in broken.items():
        results = json.loads((RESULTS / f"{name}.json").read_text())["results"]
        breaks(results)
        with pytest.raises(AssertionError):
            RELATIONS[name](results)
