"""Verdict rules of the forgetting chapters (targets 11-15).

Pure functions of numbers from the results file ``forget-lq-mnist`` (one run per model size
and seed; seeds 0, 1, 2 at book and blog size). ``features_N`` reads what rule N needs from
one run; ``checks_N`` applies the rule to every seed of one size, giving (strict, loose): the
full claim and its weaker part per seed; ``verdict_N`` words the outcome for both sizes with
:func:`verdicts.graded` and :func:`verdicts.combined`.
"""
import numpy as np

from verdicts import combined, graded

BLOG_FIGURE = {
    11: True,    # "6500 - 7000 parameters from each layer", with a plot [STATED]
    12: False,   # stated, no numbers: "not output suppression, in the useful bit of the plot"
    13: False,   # inferred control
    14: False,   # index line only
    15: False,   # index line only: "a difference in how different classes can be forgotten"
}

SIZES = ("book", "blog")


def at(values, grid, k):
    """The value of a curve at k."""
    return values[grid.index(k)]


def runs_by_size(results):
    """{"book": [run per seed], "blog": [...]} from ``forget-lq-mnist``, sorted by seed."""
    return {size: sorted((r for r in results["runs"] if r["size"] == size), key=lambda r: r["seed"])
            for size in SIZES}


# ---- target 11: both middle layers -----------------------------------------------------------

CHANCE = 0.10        # the 7s at k = 7,000: "no better than chance"
FAR_BELOW = 0.25     # the weaker part: far below the unedited network
REST_DROP = 3.0      # points the other digits may lose at k = 7,000


def features_11(run, grids, k_blog):
    """Test accuracy of the 7s at k = ``k_blog`` (7,000 per layer, W2 and W3 pruned by MAAV
    difference) and the points the other digits lose there."""
    both = run["both"]
    return {"t7000": at(both["target"], grids["ks"], k_blog),
            "drop": 100 * (run["base_rest"] - at(both["rest"], grids["ks"], k_blog))}


def checks_11(features):
    """Target 11, per seed. Full claim: the 7s below 10% (chance) with the other digits losing
    less than 3 points; weaker part: the 7s below 25% with the same 3 points."""
    strict = [f["t7000"] < CHANCE and f["drop"] < REST_DROP for f in features]
    loose = [f["t7000"] < FAR_BELOW and f["drop"] < REST_DROP for f in features]
    return strict, loose


# ---- target 12: not output suppression; the trivial routes -----------------------------------

L2_DROP = 0.15      # layer 2 alone lowers the 7s by more than this by k = 20,000
L3_DROP = 0.30      # layer 3 alone, by more than this
FAN_IN_CUT = 0.10   # no layer-3 neuron loses this share of its inputs at k = 7,000
COLUMN_LEFT = 0.10  # zeroing the 7's output column with its bias leaves fewer 7s than this
BOTH_BEAT = 0.10    # full claim: both layers beat either alone by this at k = 7,000
READ_AS_1 = 0.5     # full claim: blanked pixels make at least half the 7s read as 1s


def features_12(run, grids, k_blog):
    """What target 12's rule reads from one run: the 7s with layer 2 or layer 3 pruned alone (at
    20,000 and at ``k_blog``) and with both, the largest share of inputs cut from one layer-3
    neuron, the 7s left by the output column zeroed with its bias, and the largest share of 7s
    read as 1 when pixels are blanked."""
    ks = grids["ks_single"]
    single = run["single"]
    return {"base7": run["base_target"],
            "l2_20000": at(single["layer2_only"]["target"], ks, 20_000),
            "l3_20000": at(single["layer3_only"]["target"], ks, 20_000),
            "l2_7000": at(single["layer2_only"]["target"], ks, k_blog),
            "l3_7000": at(single["layer3_only"]["target"], ks, k_blog),
            "both_7000": at(run["both"]["target"], grids["ks"], k_blog),
            "fan3": run["spread_at_7000"]["max_fan_in_cut_layer3"],
            "colb": run["output_column"]["column_bias_target"],
            "as_1": max(max(p["read_as_1"]) for p in run["pixels"].values())}


def checks_12(features):
    """Target 12, per seed. Weaker part: layer 2 alone lowers the 7s by more than 15 points by
    k = 20,000 and layer 3 alone by more than 30; no layer-3 neuron loses 10% of its inputs at
    7,000; the output column zeroed with its bias leaves fewer than 10% of the 7s. Full claim,
    besides: both layers beat either alone by 10 points at 7,000, and blanking pixels makes at
    least half of the 7s read as 1s."""
    loose, strict = [], []
    for f in features:
        weak = (f["l2_20000"] < f["base7"] - L2_DROP and f["l3_20000"] < f["base7"] - L3_DROP
                and f["fan3"] < FAN_IN_CUT and f["colb"] < COLUMN_LEFT)
        loose.append(weak)
        strict.append(weak and f["both_7000"] < min(f["l2_7000"], f["l3_7000"]) - BOTH_BEAT
                      and f["as_1"] >= READ_AS_1)
    return strict, loose


# ---- target 13: controls ---------------------------------------------------------------------

SELECTIVE = 0.30   # every control leaves at least 30 points more of the 7s than MAAV difference
UNTOUCHED = 0.05   # random and largest |w| leave the 7s within 5 points of the unedited network


def features_13(run, grids, k_blog):
    """The 7s at ``k_blog`` under each control criterion, under MAAV difference, and unedited."""
    return {"controls": {m: at(run["controls"][m]["target"], grids["ks_control"], k_blog)
                         for m in grids["controls"]},
            "t7000": at(run["both"]["target"], grids["ks"], k_blog),
            "base7": run["base_target"]}


def checks_13(features):
    """Target 13, per seed. Full claim: every control (random, largest |w|, MAAV on the 7s, MAAV
    on all images) leaves at least 30 points more of the 7s than the MAAV difference, and random
    and largest |w| leave them within 5 points of the unedited network. Weaker part: random and
    largest |w| leave 30 points more."""
    strict, loose = [], []
    for f in features:
        c, t, b = f["controls"], f["t7000"], f["base7"]
        selective = all(v > t + SELECTIVE for v in c.values())
        untouched = all(c[m] > b - UNTOUCHED for m in ("random", "magnitude"))
        strict.append(selective and untouched)
        loose.append(all(c[m] > t + SELECTIVE for m in ("random", "magnitude")))
    return strict, loose


# ---- target 14: the outputs of the forgotten 7s ----------------------------------------------

START = 0.8     # the mean output of the 7 over the test 7s starts above this
END = 0.5       # and ends below this at the last k (10,000)
AUC_LOW = 0.85  # a low largest output tells the forgotten 7s from the other digits
RISE = 0.2      # another output "rises" when it gains more than this (reported, not the rule)


def features_14(run, target):
    """The mean output of the target over its test images at k = 0 and at the last k, the
    largest rise of another output, the commonest wrong answer and its share, and the AUC."""
    o = np.array(run["outputs"]["mean_output_of_7s"])    # (k, 10)
    conf = np.array(run["outputs"]["confusion"])         # (k, 10)
    others = [c for c in range(10) if c != target]
    dest = int(np.argmax(np.where(np.arange(10) == target, -1, conf[-1])))
    return {"start": float(o[0, target]), "end": float(o[-1, target]),
            "max_rise": float((o[-1, others] - o[0, others]).max()),
            "dest": dest, "dest_share": float(conf[-1, dest]), "auc": run["outputs"]["auc_low"]}


def checks_14(features):
    """Target 14, per seed: the target's output starts above 0.8 and ends below 0.5, and the
    AUC of a low largest output is above 0.85 (no weaker part: strict = loose)."""
    ok = [f["start"] > START and f["end"] < END and f["auc"] > AUC_LOW for f in features]
    return ok, ok


def where_seed_dependent(features_by_size):
    """Whether, within one size, the seeds disagree on the commonest wrong answer or on whether
    another output rises by more than 0.2."""
    return any(len({f["dest"] for f in fs}) > 1 or len({f["max_rise"] > RISE for f in fs}) > 1
               for fs in features_by_size.values())


# ---- target 15: all ten classes --------------------------------------------------------------

CLASS_RATIO = 2.0   # the hardest class needs at least twice the k of the easiest


def features_15(run, grid):
    """k per layer for each class to fall below 10% (a class that never does counts as one grid
    step past the end), and the ratio hardest / easiest."""
    cap = grid[-1] + (grid[1] - grid[0])
    k10 = run["all_classes"]["k_below_10"]
    v = [cap if k is None else k for k in k10]
    return {"k10": k10, "v": v, "ratio": max(v) / min(v),
            "reached": sum(k is not None for k in k10)}


def checks_15(features):
    """Target 15, per seed: the hardest class needs at least twice the k of the easiest."""
    ok = [f["ratio"] >= CLASS_RATIO for f in features]
    return ok, ok


# ---- verdicts from the results file ----------------------------------------------------------

def size_verdicts(results):
    """{target: {"book": verdict, "blog": verdict}} for targets 11-15."""
    g, k, t = results["grids"], results["k_blog"], results["target"]
    runs = runs_by_size(results)
    rules = {11: lambda r: checks_11([features_11(x, g, k) for x in r]),
             12: lambda r: checks_12([features_12(x, g, k) for x in r]),
             13: lambda r: checks_13([features_13(x, g, k) for x in r]),
             14: lambda r: checks_14([features_14(x, t) for x in r]),
             15: lambda r: checks_15([features_15(x, g["ks_all_classes"]) for x in r])}
    return {n: {size: graded(*rule(runs[size]), blog_reports_figure=BLOG_FIGURE[n])
                for size in SIZES} for n, rule in rules.items()}


def verdicts(results):
    """{target: verdict} for targets 11-15, both sizes combined."""
    out = {n: combined(v) for n, v in size_verdicts(results).items()}
    runs = runs_by_size(results)
    if where_seed_dependent({s: [features_14(r, results["target"]) for r in runs[s]] for s in SIZES}):
        out[14] += "; where the 7s go depends on the seed"
    return out
