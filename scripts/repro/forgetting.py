"""The forgetting series at the blog's scale: reproduction targets 11-15.

One experiment, ``forget-lq-mnist``: for the book-sized (5,000 Adam steps) and the blog-sized
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
    15: {**_BLOG, "claim": "Classes differ in how easily they are forgotten (k to push each "
         "class below 10%)", "blog": "stated (index), no numbers"},
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
