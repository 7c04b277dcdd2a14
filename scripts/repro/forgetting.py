"""The forgetting series at the blog's scale: reproduction targets 11-15.

Three experiments. ``forget-methods`` compares unlearning methods over whole trade-off curves,
and ``forget-classes`` tests target 15 across seeds (both described where they are defined,
below). ``forget-lq-mnist``: for the book-sized (5,000 Adam steps) and the blog-sized
(20,000 steps) ``lq-mnist`` of every seed, the analyses of the chapters *Second Blog, First
Experiment* (targets 11 and 13), *First Experiment Summary* (target 12) and *Targeted Outputs*
(targets 14 and 15), with their grids and rules:

- target 11: the MAAV-difference sweep of both middle layers (``layers=(1, 2)``, the same k in
  each), k = 0, 500, ..., 10,000; accuracy on the test 7s, the training 7s and the other test
  digits; the first k below 50% and below 10% (``Sweep.first_k_below``);
- target 12: each middle layer alone (k = 0, 500, ..., 10,000, then 11,000, ..., 20,000: both
  chapters' grids), the first layer (k = 0, 2,000, 7,000, 20,000), blanking the N pixels
  brightest in the 7s (two rankings), zeroing the output of the 7 (column, column and bias),
  where the weights pruned at k = 7,000 sit, and linear probes of the hidden layers (unedited,
  k = 7,000, and the network trained without 7s when it is there);
- target 13: the controls (MAAV on the 7s, MAAV on all images, random, largest |w|) at
  k = 0, 1,000, ..., 10,000;
- target 14: the mean of each output over the test 7s and where the 7s are predicted, against
  k; the largest output of the forgotten 7s at k = 10,000 against the other digits' (AUC);
- target 15: the same sweep for each of the ten classes, k = 0, 1,000, ..., 20,000 (the
  chapter stops at 15,000, where several classes of the blog-sized networks are still above
  10%; the first k below a level is the same on both grids when the chapter's reaches it).
"""
import time

import numpy as np
from tqdm.auto import tqdm

import sparana_lite as sl
from sparana_lite import forget as F

from . import common

TARGET = 7
K_BLOG = 7_000                                   # the blog's 6,500-7,000 per middle layer
KS = list(range(0, 10_001, 500))                 # First Experiment, Targeted Outputs
# First Experiment (to 10,000), Summary (to 20,000)
KS_SINGLE = KS + list(range(11_000, 20_001, 1000))
KS_CONTROL = KS[::2]                             # First Experiment's controls
KS_FIRST = [0, 2_000, K_BLOG, 20_000]            # Summary: the first layer
KS_ALL = list(range(0, 20_001, 1000))            # Targeted Outputs' (to 15,000), extended
PIXELS = [5, 10, 20, 50, 100, 150, 200]          # Summary: pixels blanked
CONTROLS = ["maav_target", "maav", "random", "magnitude"]
PROBE_IMAGES = 20_000                            # Summary: training images of the probes
GOLD = "lq-mnist-without-7"


def _floats2(a, digits=6):
    return [common.floats(row, digits) for row in np.asarray(a)]


def _below(values, ks, level):
    """The chapters' rule (``Sweep.first_k_below``): the first k whose value is below level."""
    below = np.flatnonzero(np.asarray(values) < level)
    return int(ks[below[0]]) if below.size else None


def _curves(sweep, train_sweep=None):
    out = {"target": common.floats(sweep.target_accuracy()),
           "rest": common.floats(sweep.rest_accuracy()),
           "k_below_50": sweep.first_k_below(0.5), "k_below_10": sweep.first_k_below(0.1)}
    if train_sweep is not None:
        out["target_train"] = common.floats(train_sweep.target_accuracy())
    return out


def analyse(model, ds, seed, gold=None, all_classes=True, probe_images=PROBE_IMAGES,
            progress=False):
    """Every measurement of targets 11-15 on one trained lq-mnist (784-1000-800-400-10) and,
    if given, its gold standard (the same network trained without 7s); ``ds`` is MNIST."""
    timings = {}
    clock = time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        timings[name] = round(now - clock, 2)
        clock = now

    is7_test, is7_train = ds.y_test == TARGET, ds.y_train == TARGET
    x7_test, x7_train = ds.x_test[is7_test], ds.x_train[is7_train]
    y7_train = ds.y_train[is7_train]

    def forget_retain(m):
        pred = m.predict(ds.x_test)
        where = np.bincount(pred[is7_test], minlength=10) / is7_test.sum()
        return float(where[TARGET]), float(np.mean(pred[~is7_test] == ds.y_test[~is7_test])), where

    base7, base_rest, _ = forget_retain(model)
    activity = F.class_activity(model, ds.x_train, ds.y_train)      # one pass, every class
    forgetter = F.Forgetter(model, ds.x_train, ds.y_train, TARGET, seed=seed, activity=activity)
    out = {"test_accuracy": round(float(model.accuracy(ds.x_test, ds.y_test)), 6),
           "class_accuracy": common.floats(model.class_accuracy(ds.x_test, ds.y_test)),
           "base_target": round(base7, 6), "base_rest": round(base_rest, 6)}
    lap("activity")

    # target 11: both middle layers (First Experiment)
    both = forgetter.sweep("maav_difference", KS, layers=(1, 2), x=ds.x_test, y=ds.y_test)
    both_train = forgetter.sweep("maav_difference", KS, layers=(1, 2), x=x7_train, y=y7_train)
    out["both"] = _curves(both, both_train)
    out["both"]["confusion_at_7000"] = common.floats(both.confusion_row()[KS.index(K_BLOG)])
    lap("both")

    # target 13: controls (First Experiment)
    out["controls"] = {m: _curves(forgetter.sweep(m, KS_CONTROL, layers=(1, 2), x=ds.x_test,
                                                  y=ds.y_test)) for m in CONTROLS}
    lap("controls")

    # target 14: the outputs (Targeted Outputs)
    out7 = both.outputs[:, is7_test, :]
    top_7 = out7[-1].max(axis=1)
    top_rest = both.outputs[-1][~is7_test].max(axis=1)
    ranks = np.argsort(np.argsort(np.r_[top_7, top_rest]))
    auc_low = 1 - (ranks[:len(top_7)].mean() - (len(top_7) - 1) / 2) / len(top_rest)
    out["outputs"] = {"mean_output_of_7s": _floats2(out7.mean(axis=1)),
                      "confusion": _floats2(both.confusion_row()),
                      "largest_output_median_7s": round(float(np.median(top_7)), 6),
                      "largest_output_median_rest": round(float(np.median(top_rest)), 6),
                      "auc_low": round(float(auc_low), 6)}
    lap("outputs")

    # target 12: single layers, first layer, pixels, output column, spread, probes (Summary)
    single = {"layer2_only": (1,), "layer3_only": (2,)}
    out["single"] = {name: _curves(forgetter.sweep("maav_difference", KS_SINGLE, layers=layers,
                                                   x=ds.x_test, y=ds.y_test))
                     for name, layers in single.items()}
    out["first_layer"] = _curves(forgetter.sweep("maav_difference", KS_FIRST, layers=(0,),
                                                 x=ds.x_test, y=ds.y_test))
    lap("single")

    mean7 = x7_train.mean(axis=0)
    pixel_scores = {"vs_other_digits": mean7 - ds.x_train[~is7_train].mean(axis=0),
                    "vs_ones": mean7 - ds.x_train[ds.y_train == 1].mean(axis=0)}
    out["pixels"] = {}
    for name, score in pixel_scores.items():
        ranked = np.argsort(-score, kind="stable")
        rows = []
        for n in PIXELS:
            keep = np.ones(model.weights[0].shape, bool)
            keep[ranked[:n], :] = False
            f7, fr, where = forget_retain(sl.prune.apply_masks(model, [keep, None, None, None]))
            rows.append((f7, fr, where[1], where))
        out["pixels"][name] = {"target": common.floats([r[0] for r in rows]),
                               "rest": common.floats([r[1] for r in rows]),
                               "read_as_1": common.floats([r[2] for r in rows]),
                               "where_at_most": common.floats(rows[-1][3])}
    lap("pixels")

    def without_output(bias):
        layers = [layer.copy() for layer in model.layers]
        layers[-1].W[:, TARGET] = 0
        if bias:
            layers[-1].b[TARGET] = 0
        return sl.MLP.from_layers(layers, model.head, model.activation, model.seed, model.metadata)

    col7, col_rest, _ = forget_retain(without_output(False))
    colb7, colb_rest, _ = forget_retain(without_output(True))
    out7_base = model.output(x7_test)
    rival = np.sort(np.delete(out7_base, TARGET, axis=1), axis=1)[:, -1]
    b7 = float(model.biases[-1][TARGET])
    out["output_column"] = {"weights": int(model.widths[-2]), "bias": round(b7, 6),
                            "column_target": round(col7, 6), "column_rest": round(col_rest, 6),
                            "column_bias_target": round(colb7, 6),
                            "column_bias_rest": round(colb_rest, 6),
                            "rival_below_bias": round(float(np.mean(rival < b7)), 6)}

    edited = forgetter.model_at("maav_difference", K_BLOG)
    e7, e_rest, _ = forget_retain(edited)
    cut = {l: ((edited.weights[l] == 0) & (model.weights[l] != 0)).mean(axis=0) for l in (1, 2)}

    def layer3_activity(m, x):
        return m.forward(x)[3].mean(axis=0)

    act_change = {}
    for name, x in [("target", x7_test), ("rest", ds.x_test[~is7_test])]:
        before, after = layer3_activity(model, x), layer3_activity(edited, x)
        act_change[name] = round(float(np.abs(after - before).sum() / before.sum()), 6)
    push = [float(layer3_activity(m, x7_test) @ model.weights[3][:, TARGET])
            for m in (model, edited)]
    out["spread_at_7000"] = {"target": round(e7, 6), "rest": round(e_rest, 6),
                             "max_fan_in_cut_layer2": round(float(cut[1].max()), 6),
                             "max_fan_in_cut_layer3": round(float(cut[2].max()), 6),
                             "layer3_activity_change": act_change,
                             "push_on_output_7": common.floats(push)}
    lap("output_and_spread")

    rows = np.random.default_rng(seed).choice(len(ds.y_train), probe_images, replace=False)
    probed = {"unedited": model, "maav_difference_7000": edited}
    if gold is not None:
        probed["gold"] = gold
    out["probes"] = {name: common.floats(F.linear_probe(m, ds.x_train[rows], ds.y_train[rows],
                                                        ds.x_test, ds.y_test)[:, TARGET])
                     for name, m in probed.items()}
    if gold is not None:
        g7, g_rest, _ = forget_retain(gold)
        out["gold"] = {"target": round(g7, 6), "rest": round(g_rest, 6),
                       "test_accuracy": round(float(gold.accuracy(ds.x_test, ds.y_test)), 6)}
    else:
        out["gold"] = None
    lap("probes")

    # target 15: every class (Targeted Outputs)
    if all_classes:
        per_class = {c: F.Forgetter(model, ds.x_train, ds.y_train, c, seed=seed, activity=activity)
                     .sweep("maav_difference", KS_ALL, x=ds.x_test, y=ds.y_test)
                     for c in tqdm(range(10), desc="classes", leave=False, disable=not progress)}
        out["all_classes"] = {
            "target": [common.floats(s.target_accuracy()) for s in per_class.values()],
            "rest": [common.floats(s.rest_accuracy()) for s in per_class.values()],
            "k_below_50": [s.first_k_below(0.5) for s in per_class.values()],
            "k_below_10": [s.first_k_below(0.1) for s in per_class.values()]}
        lap("all_classes")
    out["timings"] = timings
    return out


def forget_lq_mnist(seeds=common.SEEDS, sizes=("book", "blog"), gold="auto", all_classes=True,
                    name="lq-mnist"):
    """Targets 11-15 on ``name`` for every size and seed.

    ``gold``: use the network trained without 7s (``lq-mnist-without-7``) for the probes and
    as the reference of forgetting: ``"auto"`` (the book size always, the blog size only if
    it is already cached, since it takes minutes to train), ``True`` (always) or ``False``.
    """
    ds = common.dataset(name)
    step_counts = common.book_and_blog_steps(name)
    runs = []
    plan = [(size, seed) for size in sizes for seed in seeds]
    for size, seed in tqdm(plan, desc="forget-lq-mnist", unit="model"):
        steps = step_counts[size]
        model = common.zoo_model(name, seed, steps)
        use_gold = gold is True or (gold == "auto" and (
            size == "book" or sl.zoo.path(GOLD, seed, steps).exists()))
        gold_model = common.zoo_model(GOLD, seed, steps) if use_gold else None
        start = time.perf_counter()
        result = analyse(model, ds, seed, gold=gold_model, all_classes=all_classes)
        runs.append({"size": size, "steps": steps, "seed": seed,
                     "seconds": round(time.perf_counter() - start, 1), **result})
    return {"model": name, "target": TARGET, "k_blog": K_BLOG,
            "grids": {"ks": KS, "ks_single": KS_SINGLE, "ks_control": KS_CONTROL,
                      "ks_first_layer": KS_FIRST, "ks_all_classes": KS_ALL, "pixels": PIXELS,
                      "controls": CONTROLS, "probe_images": PROBE_IMAGES},
            "runs": runs}


EXPERIMENTS = {"forget-lq-mnist": forget_lq_mnist}

_BLOG = {"experiment": "forget-lq-mnist"}
TARGETS = {
    11: {**_BLOG, "claim": "Pruning the top-k MAAV-difference weights of W2 and W3 (same k) "
         "forgets the 7 by k = 6,500-7,000 while the other classes keep their accuracy",
         "blog": "6,500-7,000 per layer: the 7s \"no better…\" (text cut); \"almost too well\""},
    12: {**_BLOG, "claim": "Pruning W2 only and W3 only shows the effect is not mere output "
         "suppression; zeroing the 7's output column or input pixels (7→1) are trivial routes",
         "blog": "stated, no numbers"},
    13: {**_BLOG, "claim": "Random or largest-|w| weights at the same k barely touch the 7: the "
         "MAAV difference is selective", "blog": "inferred control, no numbers"},
    14: {**_BLOG, "claim": "Targeted outputs: the target's output and the runner-up outputs vs k; "
         "where the forgotten 7s go", "blog": "index line only, no numbers"},
    15: {"experiment": "forget-classes", "claim": "Classes differ in how easily they are "
         "forgotten (each class's forgetting cost, tested across seeds)",
         "blog": "stated (index), no numbers"},
}


def _tiny():
    """forget-lq-mnist at the tests' tiny size (tests/test_repro_results_schema.py: networks
    whose middle layers hold about 1,000 weights): one seed, the book's size, every grid of k
    a twentieth as long (so k = 350 stands for the blog's 7,000)."""
    grids = ("KS", "KS_SINGLE", "KS_CONTROL", "KS_FIRST", "KS_ALL", "K_BLOG")
    saved = {name: globals()[name] for name in grids}
    try:
        for name in grids:
            value = saved[name]
            globals()[name] = value // 20 if isinstance(value, int) else [k // 20 for k in value]
        return forget_lq_mnist(seeds=(0,), sizes=("book",), gold=True)
    finally:
        globals().update(saved)


# a cheaper call of each experiment for the tests' tiny networks (where the real one is slow)
TINY = {"forget-lq-mnist": _tiny}


# ------------------------------------------------------------------ forget-methods
# The methods compared over their whole trade-off curves (First Experiment Summary, section 4):
# forget accuracy (test 7s) and retain accuracy (the other test digits) against the number of
# parameters each changes, on the book-sized lq-mnist of seeds 0-2.
METHOD_SEEDS = (0, 1, 3)   # three independent trainings (0: the chapters' own network)
METHOD_KS = list(range(0, 10_001, 500)) + list(range(12_000, 20_001, 2_000))   # per middle layer
K_METHODS = ["maav_difference", "maav_target", "maav", "magnitude", "random", "ssd",
             "selective_pruning_k"]   # the last: one shot, whole rows up to k weights
SSD_ALPHAS = [1000, 500, 200, 100, 50, 30, 20, 15, 10, 7, 5, 3, 2, 1.5, 1.2, 1]   # fewest first
SSD_PUBLISHED = {"alpha": 10.0, "lam": 1.0}
SSD_VARIANTS = {"ssd_published": {"layers": None, "biases": True},     # every layer, as the code
                "ssd_weights_only": {"layers": None, "biases": False},  # what forget.py did
                "ssd_middle": {"layers": (1, 2), "biases": True}}      # the blog's two layers
SP_FRACTION = 0.02          # share of each layer's neurons removed per step (the paper's 2%)
SP_MAX_STEPS = 40
SP_STOP = 0.01              # stop once the forget accuracy is below this
SP_RETAIN_IMAGES = 10_000   # retain images for the scores (all the target's training images)
LEVELS = (0.10, 0.05)       # the summaries: retain accuracy where forget first falls below
METHOD_LABELS = {"maav_difference": "MAAV difference (blog)", "maav_target": "MAAV on the 7s",
                 "maav": "MAAV, all classes", "magnitude": "largest |w|", "random": "random",
                 "ssd": "SSD ranked, top k (λ = 1)",
                 "selective_pruning_k": "Selective Pruning, one shot (whole neurons, ≤ k)",
                 "ssd_published": "SSD (α sweep, λ = 1, biases dampened)",
                 "ssd_weights_only": "SSD (α sweep, weights only)",
                 "ssd_middle": "SSD (α sweep, layers 2-3 only)",
                 "selective_pruning": "Selective Pruning (2% of neurons per step)"}


def first_below(forget, retain, changed, level):
    """Along a curve ordered by the parameters changed: the first point whose forget accuracy
    is below ``level``; ``{"retain", "changed", "forget"}`` there, or None if it never is."""
    order = np.argsort(np.asarray(changed), kind="stable")
    for i in order:
        if forget[i] < level:
            return {"retain": round(float(retain[i]), 6), "changed": int(changed[i]),
                    "forget": round(float(forget[i]), 6)}
    return None


def _curve(forget, retain, changed, param, param_name):
    out = {param_name: list(param), "changed": [int(c) for c in changed],
           "forget": common.floats(forget), "retain": common.floats(retain)}
    out["summary"] = {f"below_{round(level * 100)}": first_below(forget, retain, changed, level)
                      for level in LEVELS}
    return out


def compare_methods(model, ds, seed, target=TARGET, progress=False):
    """Every method's curve on one trained network: forget / retain test accuracy and the
    number of parameters changed, for each k (weights per middle layer), alpha (SSD) or step
    (Selective Pruning)."""
    timings = {}
    clock = time.perf_counter()
    is_t = ds.y_test == target
    is_t_train = ds.y_train == target

    def forget_retain(m):
        pred = m.predict(ds.x_test)
        return float(np.mean(pred[is_t] == target)), float(np.mean(pred[~is_t] == ds.y_test[~is_t]))

    forgetter = F.Forgetter(model, ds.x_train, ds.y_train, target, seed=seed)
    curves = {}
    for method in K_METHODS:
        sweep = forgetter.sweep(method.removesuffix("_k"), METHOD_KS, layers=(1, 2),
                                x=ds.x_test, y=ds.y_test)
        curves[method] = _curve(sweep.target_accuracy(), sweep.rest_accuracy(),
                                sweep.changed.sum(axis=1), METHOD_KS, "k")
    timings["k_methods"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()

    for name, variant in SSD_VARIANTS.items():
        rows = [forgetter.ssd_model(alpha, SSD_PUBLISHED["lam"], **variant) for alpha in SSD_ALPHAS]
        fr = [forget_retain(m) for m, _ in rows]
        curves[name] = _curve([f for f, _ in fr], [r for _, r in fr], [n for _, n in rows],
                              SSD_ALPHAS, "alpha")
        m, n = forgetter.ssd_model(**SSD_PUBLISHED, **variant)
        f, r = forget_retain(m)
        curves[name]["at_published_alpha"] = {"forget": round(f, 6), "retain": round(r, 6),
                                              "changed": n}
    timings["ssd"] = round(time.perf_counter() - clock, 2)
    clock = time.perf_counter()

    rng = np.random.default_rng(seed)
    rest_rows = np.flatnonzero(~is_t_train)
    retain_rows = rng.choice(rest_rows, min(SP_RETAIN_IMAGES, rest_rows.size), replace=False)
    f0, r0 = forget_retain(model)
    forget, retain, changed, steps, neurons = [f0], [r0], [0], [0], [0]
    for step, m, removed, zeroed in F.selective_pruning_steps(
            model, ds.x_train[is_t_train], ds.x_train[retain_rows], layers=(1, 2),
            fraction=SP_FRACTION, max_steps=SP_MAX_STEPS):
        f, r = forget_retain(m)
        forget.append(f), retain.append(r), changed.append(zeroed), steps.append(step)
        neurons.append(int(sum(len(x) for x in removed)))
        if f < SP_STOP:
            break
    curves["selective_pruning"] = _curve(forget, retain, changed, steps, "step")
    curves["selective_pruning"]["neurons"] = neurons
    timings["selective_pruning"] = round(time.perf_counter() - clock, 2)
    return {"base_forget": round(f0, 6), "base_retain": round(r0, 6), "curves": curves,
            "timings": timings}


def forget_methods(seeds=METHOD_SEEDS, name="lq-mnist"):
    """The method comparison on the book-sized ``name`` of every seed (target 7)."""
    ds = common.dataset(name)
    runs = []
    # the models already trained first (a model this run must train comes last)
    plan = sorted(seeds, key=lambda seed: not sl.zoo.path(name, seed).exists())
    for seed in tqdm(plan, desc="forget-methods", unit="model"):
        model = common.zoo_model(name, seed)
        start = time.perf_counter()
        runs.append({"seed": seed, "steps": model.metadata.get("steps"),
                     **compare_methods(model, ds, seed),
                     "seconds": round(time.perf_counter() - start, 1)})
    runs.sort(key=lambda r: r["seed"])
    return {"model": name, "target": TARGET, "layers_k": [1, 2],
            "grids": {"ks": METHOD_KS, "ssd_alphas": SSD_ALPHAS, "ssd_lambda": SSD_PUBLISHED["lam"],
                      "ssd_variants": {k: {"layers": v["layers"] and list(v["layers"]),
                                           "biases": v["biases"]} for k, v in SSD_VARIANTS.items()},
                      "sp_fraction": SP_FRACTION, "sp_max_steps": SP_MAX_STEPS,
                      "sp_stop": SP_STOP, "sp_retain_images": SP_RETAIN_IMAGES,
                      "levels": list(LEVELS)},
            "labels": METHOD_LABELS, "runs": runs}


# ------------------------------------------------------------------ forget-classes
# Target 15 tested: every class forgotten by the MAAV difference (both middle layers), on the
# book-sized lq-mnist of seeds 0-4 and the blog-sized of seeds 0-2.
# book-sized seeds: 0-2 are in forget-lq-mnist.json; 3 is measured here. Seed 4 (five seeds, as
# planned) was not trained in time on the 2-core machine that ran this: add it and re-run.
CLASS_SEEDS = tuple(range(10))   # book-sized: ten independent trainings (0-2 read from forget-lq-mnist)
CLASS_LEVELS = (0.5, 0.25, 0.1)
FORGET_RESULTS = "forget-lq-mnist.json"


def forgetting_cost(target_curve, ks):
    """The area under the target's accuracy against k, as a share of the grid's range: the
    mean accuracy over k in [0, max(ks)] (trapezoid rule), in [0, 1]. Higher: harder to
    forget. Uses the whole curve, so a class that never reaches a level still gets a value."""
    t, ks = np.asarray(target_curve, np.float64), np.asarray(ks, np.float64)
    return float(np.sum((t[1:] + t[:-1]) / 2 * np.diff(ks)) / (ks[-1] - ks[0]))


def class_curves(model, ds, seed):
    """The MAAV-difference sweep (layers 2 and 3) for each of the ten classes on KS_ALL."""
    activity = F.class_activity(model, ds.x_train, ds.y_train)
    target, rest = [], []
    for c in range(10):
        s = F.Forgetter(model, ds.x_train, ds.y_train, c, seed=seed, activity=activity).sweep(
            "maav_difference", KS_ALL, x=ds.x_test, y=ds.y_test)
        target.append(common.floats(s.target_accuracy()))
        rest.append(common.floats(s.rest_accuracy()))
    return target, rest


def _class_summary(target):
    return {"cost": [round(forgetting_cost(t, KS_ALL), 6) for t in target],
            **{f"k_below_{round(level * 100)}": [_below(t, KS_ALL, level) for t in target]
               for level in CLASS_LEVELS}}


def forget_classes(seeds=CLASS_SEEDS, blog_seeds=common.SEEDS, name="lq-mnist"):
    """Per-class forgetting costs on the book-sized models of ``seeds`` and the blog-sized ones
    of ``blog_seeds``. A model whose sweep ``forget-lq-mnist.json`` holds (the same sweep, grid
    and code, written by ``make reproduce``: seeds 0-2 at both sizes) is read from there, with
    its source recorded; any other is measured here (trained first if it is not cached)."""
    import json
    ds = common.dataset(name)
    steps = common.book_and_blog_steps(name)
    stored_path = common.RESULTS / FORGET_RESULTS
    stored = json.loads(stored_path.read_text())
    if stored["results"]["grids"]["ks_all_classes"] != KS_ALL:
        raise ValueError(f"{FORGET_RESULTS} has another grid of k")
    runs = []
    plan = [("book", s) for s in seeds] + [("blog", s) for s in blog_seeds]
    for size, seed in tqdm(plan, desc="forget-classes", unit="model"):
        kept = next((r for r in stored["results"]["runs"]
                     if r["size"] == size and r["seed"] == seed), None)
        start = time.perf_counter()
        if kept is None:
            model = common.zoo_model(name, seed, steps[size])
            target, rest = class_curves(model, ds, seed)
            source = "computed"
        else:
            target, rest = kept["all_classes"]["target"], kept["all_classes"]["rest"]
            source = f"{FORGET_RESULTS} (commit {stored['provenance']['commit'][:7]})"
        runs.append({"size": size, "seed": seed, "steps": steps[size], "source": source,
                     "target": target, "rest": rest, **_class_summary(target),
                     "seconds": round(time.perf_counter() - start, 1)})
    return {"model": name, "layers": [1, 2], "ks": KS_ALL, "levels": list(CLASS_LEVELS),
            "runs": runs}


EXPERIMENTS["forget-methods"] = forget_methods
EXPERIMENTS["forget-classes"] = forget_classes


# ------------------------------------------------------------------------------------------
# The book-sized seeds of two chapters' verdicts (not blog reproduction targets): the heavy
# lifting of *Introduction to Forgetting* as behaviour, and the use case of *First Experiment
# Summary* (relearning and membership inference against the gold standard).

KS_HEAVY = [0, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000]
HEAVY_METHODS = ["maav", "magnitude", "random"]          # largest first, at matched counts
USE_CASE = {                                             # the matched-count methods, k = 7,000
    "MAAV difference (blog)": "maav_difference", "Selective Pruning": "selective_pruning",
    "SSD, matched count": "ssd", "random": "random"}
RELEARN = {"threshold": 0.9, "margin": 0.01, "forget_share": 0.5, "batch_size": 32,
           "lr": 1e-4, "max_steps": 300, "check_every": 1}
RETAIN_EVAL = 2_000               # test images of the other digits the relearning checks
MIA_FIT = 2_000                   # images of each set the benchmark's attacker is fitted on


def heavy_lifting(model, ds, seed):
    """Test accuracy after removing the k largest weights of both middle layers by MAAV (all
    classes), by |w| and at random, and the k smallest by MAAV, for k in KS_HEAVY."""
    forgetter = F.Forgetter(model, ds.x_train, ds.y_train, TARGET, seed=seed)
    weights = np.bincount(ds.y_test, minlength=10) / len(ds.y_test)
    out = {"test_accuracy": round(float(model.accuracy(ds.x_test, ds.y_test)), 6)}
    for method in HEAVY_METHODS:
        sweep = forgetter.sweep(method, KS_HEAVY, layers=(1, 2), x=ds.x_test, y=ds.y_test)
        out[f"largest_{method}" if method != "random" else "random"] = \
            common.floats(np.nan_to_num(sweep.class_accuracy()) @ weights)
    maav = sl.prune.maav(model, ds.x_train)
    out["smallest_maav"] = common.floats(
        [sl.prune.prune(model, maav, counts=[None, k, k, None]).accuracy(ds.x_test, ds.y_test)
         if k else out["test_accuracy"] for k in KS_HEAVY])
    return out


def forget_heavy_lifting(seeds=common.SEEDS):
    """Introduction to Forgetting's verdicts as behaviour, book-sized lq-mnist seeds 0-2 (the
    blog-sized models cost 8 minutes each to train and are not cached)."""
    ds = common.dataset("lq-mnist")
    runs = []
    for seed in tqdm(seeds, desc="forget-heavy-lifting", unit="model"):
        model = common.zoo_model("lq-mnist", seed)
        start = time.perf_counter()
        runs.append({"size": "book", "steps": sl.zoo.CONFIGS["lq-mnist"].default_steps,
                     "seed": seed, **heavy_lifting(model, ds, seed),
                     "seconds": round(time.perf_counter() - start, 1)})
    return {"model": "lq-mnist", "layers": [1, 2], "ks": KS_HEAVY, "runs": runs}


def use_case_models(model, gold, forgetter):
    """The edited models of the use case: the matched-count methods at k = K_BLOG per middle
    layer, SSD as published, the output of the 7 zeroed (column and bias), the gold standard
    and the unedited network."""
    models = {name: forgetter.model_at(method, K_BLOG) for name, method in USE_CASE.items()}
    models["SSD as published"] = forgetter.ssd_model(alpha=10.0, lam=1.0)[0]
    layers = [layer.copy() for layer in model.layers]
    layers[-1].W[:, TARGET] = 0
    layers[-1].b[TARGET] = 0
    models["output of the 7 zeroed"] = sl.MLP.from_layers(layers, model.head, model.activation,
                                                          model.seed, model.metadata)
    models["gold standard (retrained)"] = gold
    models["unedited"] = model
    return models


def use_case(model, gold, ds, seed, relearn=None):
    """Forget and retain accuracy, relearning (the mix and the old recipe) and membership
    inference for every model of :func:`use_case_models` (the probes of the unedited, the
    MAAV-difference and the gold network are in ``forget-lq-mnist``)."""
    relearn = {**RELEARN, **(relearn or {})}
    is7_test, is7_train = ds.y_test == TARGET, ds.y_train == TARGET
    x7, y7 = ds.x_train[is7_train], ds.y_train[is7_train]
    xr, yr = ds.x_train[~is7_train], ds.y_train[~is7_train]
    rng = np.random.default_rng(seed)
    rest_test = np.flatnonzero(~is7_test)
    pick = rng.choice(rest_test, min(RETAIN_EVAL, rest_test.size), replace=False)
    eval_forget = (ds.x_test[is7_test], ds.y_test[is7_test])
    eval_retain = (ds.x_test[pick], ds.y_test[pick])
    members = xr[rng.choice(len(xr), min(MIA_FIT, len(xr)), replace=False)]
    forgetter = F.Forgetter(model, ds.x_train, ds.y_train, TARGET, seed=seed)
    out = {}
    for name, m in use_case_models(model, gold, forgetter).items():
        start = time.perf_counter()
        pred = m.predict(ds.x_test)
        mix = F.relearn(m, x7, y7, xr, yr, eval_forget, eval_retain, seed=seed, **relearn)
        # the old recipe: 7s only, counted on the 7s alone (margin 1: the others may go)
        alone = F.relearn(m, x7, y7, xr, yr, eval_forget, eval_retain, seed=seed,
                          **{**relearn, "forget_share": 1.0, "margin": 1.0})
        out[name] = {
            "forget": round(float(np.mean(pred[is7_test] == TARGET)), 6),
            "retain": round(float(np.mean(pred[~is7_test] == ds.y_test[~is7_test])), 6),
            "changed": int(m.n_parameters()) if m is gold else int(
                sum(np.count_nonzero(a != b) for a, b in zip(m.weights, model.weights))
                + sum(np.count_nonzero(a != b) for a, b in zip(m.biases, model.biases))),
            "relearn": {"steps": mix.steps, "retain_start": round(mix.retain_start, 6),
                        "retain_at": round(mix.retain_at, 6),
                        "retain_min": round(mix.retain_min, 6),
                        "forget_at": round(float(mix.forget[-1]), 6)},
            "relearn_7s_only": {"steps": alone.steps, "retain_at": round(alone.retain_at, 6)},
            "mia_advantage": round(F.membership_advantage(m, x7, ds.x_test[is7_test],
                                                          seed=seed), 6),
            "mia_rate": round(F.membership_rate(m, members, ds.x_test[~is7_test], x7,
                                                seed=seed), 6),
            "seconds": round(time.perf_counter() - start, 1)}
    return out


def forget_use_case(seeds=common.SEEDS):
    """First Experiment Summary's use case on book-sized lq-mnist seeds 0-2, each against its
    gold standard (lq-mnist-without-7, same seed)."""
    ds = common.dataset("lq-mnist")
    runs = []
    for seed in tqdm(seeds, desc="forget-use-case", unit="model"):
        model = common.zoo_model("lq-mnist", seed)
        gold = common.zoo_model(GOLD, seed)
        start = time.perf_counter()
        runs.append({"size": "book", "steps": sl.zoo.CONFIGS["lq-mnist"].default_steps,
                     "seed": seed, "methods": use_case(model, gold, ds, seed),
                     "seconds": round(time.perf_counter() - start, 1)})
    n_member = int(min(np.sum(ds.y_train == TARGET), np.sum(ds.y_test == TARGET)) // 2)
    return {"model": "lq-mnist", "gold": GOLD, "target": TARGET, "k": K_BLOG,
            "methods": USE_CASE, "relearn": RELEARN, "retain_eval_images": RETAIN_EVAL,
            "mia_fit_images": MIA_FIT,
            "mia_advantage_se": round(float(np.sqrt(0.5 / n_member)), 6), "runs": runs}


EXPERIMENTS["forget-heavy-lifting"] = forget_heavy_lifting
EXPERIMENTS["forget-use-case"] = forget_use_case


# ------------------------------------------------------------------------------------------
# The models each experiment loads, declared before it runs (scripts/reproduce.py --jobs), and
# the results files an experiment reads (it runs after the experiments that write them).

def forget_lq_mnist_models(seeds=common.SEEDS, sizes=("book", "blog"), name="lq-mnist"):
    """forget_lq_mnist's (gold="auto"): the blog-sized gold standard only where it is cached
    (optional otherwise: the experiment then goes without it)."""
    step_counts = common.book_and_blog_steps(name)
    out = []
    for size in sizes:
        for seed in seeds:
            steps = step_counts[size]
            gold = common.need(GOLD, seed, steps)
            out += [common.need(name, seed, steps),
                    common.need(GOLD, seed, steps,
                                optional=not (size == "book" or gold.cached()))]
    return out


def forget_classes_models(seeds=CLASS_SEEDS, blog_seeds=common.SEEDS, name="lq-mnist"):
    """forget_classes': the models whose sweep forget-lq-mnist.json does not hold (those it
    holds are optional: read from the file, loaded only if it lacks them)."""
    import json
    steps = common.book_and_blog_steps(name)
    try:
        stored = json.loads((common.RESULTS / FORGET_RESULTS).read_text())["results"]["runs"]
    except (OSError, ValueError, KeyError):
        stored = []
    kept = {(r["size"], r["seed"]) for r in stored}
    plan = [("book", s) for s in seeds] + [("blog", s) for s in blog_seeds]
    return [common.need(name, seed, steps[size], optional=(size, seed) in kept)
            for size, seed in plan]


MODELS = {
    "forget-lq-mnist": forget_lq_mnist_models,
    "forget-methods": lambda: [common.need("lq-mnist", s) for s in METHOD_SEEDS],
    "forget-classes": forget_classes_models,
    "forget-heavy-lifting": lambda: [common.need("lq-mnist", s) for s in common.SEEDS],
    "forget-use-case": lambda: [common.need(n, s) for s in common.SEEDS
                                for n in ("lq-mnist", GOLD)],
}
# experiment -> the experiments whose results files it reads (from common.RESULTS)
READS = {"forget-classes": ("forget-lq-mnist",)}


def _shrunk(call, grids, divisor=20, **values):
    """``call()`` with the module's grids of k (``grids``: names of ints or lists of ints)
    divided by ``divisor`` and the other globals in ``values`` replaced, restored afterwards:
    the tests' tiny networks hold a few thousand weights per middle layer."""
    saved = {name: globals()[name] for name in (*grids, *values)}
    try:
        for name in grids:
            value = saved[name]
            globals()[name] = (value // divisor if isinstance(value, int)
                               else [k // divisor for k in value])
        globals().update(values)
        return call()
    finally:
        globals().update(saved)


def _tiny_classes():
    """forget-classes on one book-sized and one blog-sized seed, both computed (a results file
    with the tiny grid and no runs stands in for forget-lq-mnist.json)."""
    import json
    import tempfile
    from pathlib import Path
    with tempfile.TemporaryDirectory() as tmp:
        stored = Path(tmp) / "forget-lq-mnist.json"
        stored.write_text(json.dumps({"provenance": {"commit": "tiny"}, "results": {
            "grids": {"ks_all_classes": [k // 20 for k in KS_ALL]}, "runs": []}}))
        return _shrunk(lambda: forget_classes(seeds=(CLASS_SEEDS[-1],), blog_seeds=(0,)),
                       ("KS_ALL",), FORGET_RESULTS=str(stored))


TINY.update({
    "forget-methods": lambda: _shrunk(lambda: forget_methods(seeds=METHOD_SEEDS[:1]),
                                      ("METHOD_KS",), SP_MAX_STEPS=5),
    "forget-classes": _tiny_classes,
    # k to 200,000 per layer: a two-hundredth (the tiny middle layers hold 3,100 and 1,250)
    "forget-heavy-lifting": lambda: _shrunk(lambda: forget_heavy_lifting(seeds=(0,)),
                                            ("KS_HEAVY",), divisor=200),
    "forget-use-case": lambda: _shrunk(lambda: forget_use_case(seeds=(0,)), ("K_BLOG",),
                                       RELEARN={**RELEARN, "max_steps": 20}),
})
