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
        import_script("repro.common").MODELS_USED.append(   # as the real zoo_model records it
            {"zoo": name, "seed": seed, "steps": steps})
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
    common = import_script("repro.common")
    common.MODELS_USED.clear()
    start = time.process_time()    # CPU time: a busy machine does not make it fail
    results = roundtrip(tiny_call(name)())
    seconds = time.process_time() - start
    # the task graph (reproduce.py --jobs) trains what an experiment declares before it runs
    declared = {(n.name, n.seed, n.steps) for n in reproduce().MODELS[name]()}
    loaded = {(m["zoo"], m["seed"], m["steps"]) for m in common.MODELS_USED}
    assert loaded <= declared, (
        f"{name} loaded zoo models its declaration (MODELS[{name!r}] in scripts/repro/"
        f"{module_of(name).__name__.split('.')[-1]}.py) does not name: {sorted(loaded - declared)}")
    print(f"{name}: {seconds:.1f} s of CPU time at tiny size")
    assert seconds < BUDGET_SECONDS, (
        f"{name} took {seconds:.0f} s of CPU time at tiny size: add a cheaper call to TINY[{name!r}] in "
        f"scripts/repro/{module_of(name).__name__.split('.')[-1]}.py")
    if name in RELATIONS:
        RELATIONS[name](results)
    path = RESULTS / f"{name}.json"
    if not path.exists():   # the tiny run's relations held above; no file to compare with
        pytest.skip(f"no committed {path.name} yet (run scripts/reproduce.py {name}): "
                    "relations checked on the tiny run only")
    committed = json.loads(path.read_text())["results"]
    found = differences(structure(committed), structure(results))
    assert not found, found


def test_every_experiment_declares_its_models():
    r = reproduce()
    assert set(r.MODELS) == set(r.EXPERIMENTS), set(r.EXPERIMENTS) ^ set(r.MODELS)
    assert set(r.EXCLUSIVE) <= set(r.EXPERIMENTS)
    assert all(set(deps) <= set(r.EXPERIMENTS) for deps in r.READS.values())


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


def unit(*values):
    """Accuracies, shares and rates: every value (None allowed where nothing was measured) in
    [0, 1]."""
    for v in values:
        assert v is None or 0 <= v <= 1, v
    return True


def first_k_below(values, ks, level):
    below = [k for k, v in zip(ks, values) if v < level]
    return below[0] if below else None


def seeds_declared(runs, declared, per_seed=1):
    """Every seed of ``runs`` is one the experiment declares, each with the same number of
    entries (``per_seed``: criteria, schedules...)."""
    seeds = [e["seed"] for e in runs]
    assert runs and set(seeds) <= set(declared), (seeds, declared)
    assert all(seeds.count(s) == per_seed for s in set(seeds)), seeds


def forget_methods(r):
    """First Experiment Summary: every method's curve starts at the unedited network (k = 0,
    step 0: nothing changed, forget and retain at the base accuracies), forget and retain are
    accuracies, and the summaries are the first point below each level by parameters changed."""
    fg = import_script("repro.forgetting")
    seeds_declared(r["runs"], fg.METHOD_SEEDS)
    assert [e["seed"] for e in r["runs"]] == sorted(e["seed"] for e in r["runs"])
    methods = {*fg.K_METHODS, *fg.SSD_VARIANTS, "selective_pruning"}
    for e in r["runs"]:
        assert set(e["curves"]) == methods and unit(e["base_forget"], e["base_retain"])
        for name, c in e["curves"].items():
            param = next(p for p in ("k", "alpha", "step") if p in c)
            n = len(c[param])
            assert len(c["changed"]) == len(c["forget"]) == len(c["retain"]) == n
            assert unit(*c["forget"], *c["retain"]) and min(c["changed"]) >= 0
            if param == "k":
                assert c["k"] == r["grids"]["ks"] and c["k"][0] == 0
            if param == "alpha":
                assert c["alpha"] == r["grids"]["ssd_alphas"]
            if param in ("k", "step"):             # k = 0, step 0: the unedited network
                assert c["changed"][0] == 0
                assert close(c["forget"][0], e["base_forget"]) and close(c["retain"][0],
                                                                         e["base_retain"])
            for level in r["grids"]["levels"]:
                s = c["summary"][f"below_{round(level * 100)}"]
                first = min((ch for ch, f in zip(c["changed"], c["forget"]) if f < level),
                            default=None)
                assert (s is None) == (first is None)
                assert s is None or (s["changed"] == first and s["forget"] < level
                                     and unit(s["retain"]))


def forget_classes(r):
    """Targeted Outputs (target 15): ten classes' curves on the grid, k = 0 first, accuracies,
    costs in [0, 1] equal to the mean accuracy over k (trapezoid), the first k below each level
    read off the curve; book seeds from the declared ones, blog seeds from the blog's."""
    fg = import_script("repro.forgetting")
    ks = r["ks"]
    assert ks[0] == 0 and ks == sorted(ks)
    for size, declared in (("book", fg.CLASS_SEEDS), ("blog", import_script("repro.common").SEEDS)):
        runs = [e for e in r["runs"] if e["size"] == size]
        if runs:
            seeds_declared(runs, declared)
    assert {e["size"] for e in r["runs"]} <= {"book", "blog"}
    for e in r["runs"]:
        assert len(e["target"]) == len(e["rest"]) == len(e["cost"]) == 10
        for t, rest, cost in zip(e["target"], e["rest"], e["cost"]):
            assert len(t) == len(rest) == len(ks) and unit(*t, *rest, cost)
            assert close(cost, np.trapezoid(t, ks) / (ks[-1] - ks[0]), 2e-6)
        for level in r["levels"]:
            assert e[f"k_below_{round(level * 100)}"] == [first_k_below(t, ks, level)
                                                          for t in e["target"]]


def forget_heavy_lifting(r):
    """Introduction to Forgetting: every curve has one accuracy per k, starting (k = 0) at the
    unedited network's test accuracy."""
    seeds_declared(r["runs"], import_script("repro.common").SEEDS)
    assert r["ks"][0] == 0
    for e in r["runs"]:
        assert unit(e["test_accuracy"])
        for name in ("largest_maav", "largest_magnitude", "random", "smallest_maav"):
            assert len(e[name]) == len(r["ks"]) and unit(*e[name])
            assert close(e[name][0], e["test_accuracy"], 1e-5), name


def forget_use_case(r):
    """First Experiment Summary's use case: every model of the comparison on every seed; the
    unedited network changes nothing; accuracies and membership rates in [0, 1], advantages in
    [-1, 1]; relearning takes at most its step budget."""
    fg = import_script("repro.forgetting")
    seeds_declared(r["runs"], import_script("repro.common").SEEDS)
    models = {*r["methods"], "SSD as published", "output of the 7 zeroed",
              "gold standard (retrained)", "unedited"}
    assert set(r["methods"]) == set(fg.USE_CASE) and unit(r["mia_advantage_se"])
    for e in r["runs"]:
        assert set(e["methods"]) == models
        assert e["methods"]["unedited"]["changed"] == 0
        assert all(e["methods"][name]["changed"] > 0 for name in r["methods"])
        for name, m in e["methods"].items():
            rl = m["relearn"]
            assert unit(m["forget"], m["retain"], m["mia_rate"], rl["retain_start"],
                        rl["retain_at"], rl["retain_min"], rl["forget_at"],
                        m["relearn_7s_only"]["retain_at"])
            assert -1 <= m["mia_advantage"] <= 1        # the lowest retain seen, start included
            assert rl["retain_min"] <= min(rl["retain_at"], rl["retain_start"]) + 1e-6
            for steps in (rl["steps"], m["relearn_7s_only"]["steps"]):
                assert steps is None or 0 <= steps <= r["relearn"]["max_steps"], name


def removal_speed(r):
    """Removing Activations (target 10): every seed has every criterion; one accuracy per
    amount; speed-ups positive; the masked twin multiplies as many numbers as the original (FLOP
    ratio 1) and the shrunk one no more; the null control's verdict is its range's; the kept
    model of each budget and band is within the band."""
    rm = import_script("repro.removal")
    seeds_declared(r["runs"], rm.SPEED_SEEDS, per_seed=len(r["criteria"]))
    n = len(r["amounts"])
    for e in r["runs"]:
        assert e["criterion"] in r["criteria"] and unit(e["base_accuracy"], *e["accuracy"],
                                                        *e["accuracy_fine_tuned"])
        assert len(e["accuracy"]) == len(e["accuracy_fine_tuned"]) == len(e["widths"]) == n
        assert e["flop_ratio"]["masked"] == [1.0] * n
        assert all(v >= 1 - 1e-4 for v in e["flop_ratio"]["shrunk"])
        for b in map(str, r["batches"]):
            for twin in ("shrunk", "csr", "masked"):
                assert len(e["speedup"][b][twin]) == n and all(v > 0 for v in e["speedup"][b][twin])
            assert e["dense_seconds"][b] > 0
        lo, hi = e["null_control"]["masked_speedup_range"]
        assert 0 < lo <= hi and e["null_control"]["ok"] == (
            1 / r["null_margin"] <= lo and hi <= r["null_margin"])
        for budget, bands in e["kept"].items():
            for band, k in bands.items():
                if k["index"] is None:
                    assert k["amount"] is None and k["shrunk"]["flop_ratio"] == 1.0
                else:
                    assert k["amount"] == r["amounts"][k["index"]]
                    assert k["accuracy"] >= e["base_accuracy"] - float(band) - 1e-4


def removal_liu(r):
    """Removing Activations (Liu et al.): per seed and budget the four networks; the dense
    network of the shrunk widths holds the most nonzeros and the equal-nonzeros one about as
    many as the shrunk model (within a layer's rounding); accuracies in [0, 1]."""
    seeds_declared(r["runs"], import_script("repro.removal").LIU_SEEDS)
    nets = {"inherited", "same zeros, fresh", "dense, equal nonzeros", "dense, shrunk widths"}
    for e in r["runs"]:
        assert unit(e["base_accuracy"], e["accuracy_before"])
        sw, ew = e["shrunk_widths"], e["equal_widths"]
        assert len(sw) == len(ew) and sw[0] == ew[0] and sw[-1] == ew[-1]
        assert set(e["budgets"]) == set(map(str, r["budgets"]))
        for out in e["budgets"].values():
            assert set(out) == nets and unit(*(v["accuracy"] for v in out.values()))
            dense = out["dense, shrunk widths"]["nonzero"]
            assert dense == sum(a * b + b for a, b in zip(sw, sw[1:]))
            assert out["same zeros, fresh"]["nonzero"] <= dense


def removal_triangle_controls(r):
    """Part 2 and Longboy's controls: for both models every seed has every schedule; each run
    is an exact removal run from the unpruned model; the size at which a layer has lost 10% of
    its neurons is a share, and the first layer to shrink is the one that does so at the
    largest size left (ties to the earlier layer)."""
    rm = import_script("repro.removal")
    assert set(r) == {"lq-mnist-1000x3", "lq-mnist-longboy"}
    for name, m in r.items():
        labels = [s["label"] for s in m["schedules"]]
        seeds_declared(m["runs"], rm.SEEDS, per_seed=len(labels))
        for e in m["runs"]:
            assert e["schedule"] in labels
            removal_curve(e, e["widths"][0], m["exact_tol"])
            hidden = len(e["widths"][0]) - 2
            assert e["widths"][0][0] == m["widths"][0] and e["widths"][0][-1] == m["widths"][-1]
            assert close(e["base_accuracy"], e["accuracy"][0]) and unit(*e["accuracy"])
            assert len(e["kept_at"]) == len(e["size_when_shrinks"]) == hidden
            assert unit(*e["kept_at"], e["accuracy_at"], *e["size_when_shrinks"])
            known = [(s, -i) for i, s in enumerate(e["size_when_shrinks"]) if s is not None]
            assert e["first_to_shrink"] == (1 - max(known)[1] if known else None)


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
    "forget-methods": forget_methods, "forget-classes": forget_classes,
    "forget-heavy-lifting": forget_heavy_lifting, "forget-use-case": forget_use_case,
    "removal-speed": removal_speed, "removal-liu": removal_liu,
    "removal-triangle-controls": removal_triangle_controls,
}


@pytest.mark.parametrize("name", sorted(RELATIONS))
def test_committed_results_keep_their_chapters_relations(name):
    path = RESULTS / f"{name}.json"
    if not path.exists():
        pytest.skip(f"no committed {path.name} yet (run scripts/reproduce.py {name}); "
                    "its relations are checked on the tiny run")
    RELATIONS[name](json.loads(path.read_text())["results"])


def test_every_experiment_has_relations():
    """A new experiment names what its chapter relies on in RELATIONS (here)."""
    assert set(experiment_names()) <= set(RELATIONS), set(experiment_names()) - set(RELATIONS)


def test_relations_reject_a_broken_file():
    """Not vacuous: a removal that changed the outputs, a MAAV that is not the identity, a
    pruning curve that does not start at the unpruned model, a wrong first k, a forgetting
    method whose k = 0 is not the unedited network, a masked twin that costs less than the
    original and a wrong first layer to shrink are refused."""
    broken = {
        "removal-lq-mnist": lambda r: r["runs"][0]["one-shot"].update(max_relative_change=1e-3),
        "maav-identity": lambda r: r["models"][0]["max_relative_difference"].__setitem__(0, 1e-3),
        "prune-lq-mnist-seeds": lambda r: r["models"][0].update(unpruned=0.5),
        "forget-lq-mnist": lambda r: r["runs"][0]["both"].update(k_below_50=-1),
        # a method's k = 0 that is not the unedited network
        "forget-methods": lambda r: r["runs"][0]["curves"]["random"]["forget"].__setitem__(0, 0.5),
        # a class's first k below 50% that its curve does not give
        "forget-classes": lambda r: r["runs"][0]["k_below_50"].__setitem__(0, 0),
        # a zero-cost masked twin (FLOP ratio above 1)
        "removal-speed": lambda r: r["runs"][0]["flop_ratio"]["masked"].__setitem__(0, 1.2),
        # the wrong layer named first to shrink
        "removal-triangle-controls": lambda r: r["lq-mnist-1000x3"]["runs"][0].update(
            first_to_shrink=r["lq-mnist-1000x3"]["runs"][0]["first_to_shrink"] % 3 + 1),
        # a curve whose k = 0 is not the unedited network's accuracy (where the file exists)
        "forget-heavy-lifting": lambda r: r["runs"][0]["largest_maav"].__setitem__(0, 0.5),
    }
    for name, breaks in broken.items():
        if not (RESULTS / f"{name}.json").exists() and name == "forget-heavy-lifting":
            continue
        results = json.loads((RESULTS / f"{name}.json").read_text())["results"]
        breaks(results)
        with pytest.raises(AssertionError):
            RELATIONS[name](results)
