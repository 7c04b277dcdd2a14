"""Verdict rules of the forgetting chapters (targets 11-15).

Pure functions of numbers from the results files ``forget-lq-mnist`` (one run per model size
and seed; seeds 0, 1, 2 at book and blog size), ``forget-classes`` (target 15) and
``forget-methods`` (the comparison of unlearning methods over whole trade-off curves). ``features_N`` reads what rule N needs from
one run; ``checks_N`` applies the rule to every seed of one size, giving (strict, loose): the
full claim and its weaker part per seed; ``verdict_N`` words the outcome for both sizes with
:func:`verdicts.graded` and :func:`verdicts.combined`.
"""
import numpy as np

from verdicts import combined, from_rule, graded

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


def features_11_classes(run, ks, k_blog, target):
    """:func:`features_11` from a ``forget-classes`` run (the same MAAV-difference sweep of both
    middle layers, on its grid ``ks``, for every class): the class ``target``'s test accuracy at
    k = ``k_blog`` and the points the other digits lose there."""
    t, rest = run["target"][target], run["rest"][target]
    return {"t7000": at(t, ks, k_blog), "drop": 100 * (rest[0] - at(rest, ks, k_blog))}


def seeds_11(classes, k_blog, target, size="book"):
    """Target 11 over every seed of ``forget-classes`` at one ``size`` (ten book-sized seeds):
    (seeds, features, :func:`graded` verdict of :func:`checks_11`)."""
    runs = sorted((r for r in classes["runs"] if r["size"] == size), key=lambda r: r["seed"])
    features = [features_11_classes(r, classes["ks"], k_blog, target) for r in runs]
    return ([r["seed"] for r in runs], features,
            graded(*checks_11(features), blog_reports_figure=BLOG_FIGURE[11]))


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


# ---- target 15: all ten classes -------------------------------------------------------------
# Read from the results file ``forget-classes`` (book-sized seeds 0-9, blog-sized seeds 0-2): per
# class and seed, the forgetting cost (mean test accuracy of the class over k = 0-20,000, the
# area under its curve). The former rule (hardest k >= 2x easiest within one seed) could not
# fail: the extremes of ten noisy numbers always differ.

CLASS_ALPHA = 0.05          # the class effect's significance level
PERMUTATIONS = 20_000       # of the permutation test


def friedman_statistic(costs):
    """Friedman's chi-square of a (seeds, classes) table: ranks within each seed (average
    ranks for ties), ``12 / (b k (k + 1)) sum_j R_j^2 - 3 b (k + 1)``."""
    from scipy.stats import rankdata
    c = np.asarray(costs, np.float64)
    b, k = c.shape
    ranks = np.apply_along_axis(rankdata, 1, c)
    return float(12 / (b * k * (k + 1)) * np.sum(ranks.sum(axis=0) ** 2) - 3 * b * (k + 1))


def class_effect(costs, alpha=CLASS_ALPHA, permutations=PERMUTATIONS, seed=0):
    """Rule: the classes differ in how easily they are forgotten when a permutation test of
    Friedman's statistic gives p < ``alpha`` (0.05).

    Statistic: Friedman's chi-square of the per-class forgetting cost (the area under the
    target's test accuracy against k, ``repro.forgetting.forgetting_cost``) ranked within
    each seed. Seeds: the rows, independent trainings (book-sized seeds 0-9, blog-sized 0-2,
    tested separately). Null: on each seed, the cost's ranks are exchangeable between classes
    (no class effect); the p-value is the share of ``permutations`` within-seed shuffles whose
    statistic reaches the observed one (with the observed counted once). A class is named the
    easiest (hardest) only if it has the lowest (highest) cost on every seed.

    Parameters
    ----------
    costs : array (seeds, classes)

    Returns
    -------
    dict
        chi2, p (permutation), p_asymptotic (chi-square, classes - 1 dof), kendall_w,
        mean_rank (per class), differ (bool), easiest / hardest (int or None).
    """
    from scipy.stats import chi2 as chi2_dist
    c = np.asarray(costs, np.float64)
    if c.ndim != 2 or c.shape[0] < 2 or c.shape[1] < 3 or not np.isfinite(c).all():
        raise ValueError(f"costs must be a finite (seeds >= 2, classes >= 3) array; got shape "
                         f"{c.shape}")
    b, k = c.shape
    stat = friedman_statistic(c)
    from scipy.stats import rankdata
    rng = np.random.default_rng(seed)
    ranks = np.apply_along_axis(rankdata, 1, c)
    # shuffle each seed's ranks independently: ranks[s, perm[s]]
    perm = np.argsort(rng.random((permutations, b, k)), axis=2)
    shuffled = np.take_along_axis(np.broadcast_to(ranks, (permutations, b, k)), perm, axis=2)
    sums = shuffled.sum(axis=1)
    null = 12 / (b * k * (k + 1)) * np.sum(sums ** 2, axis=1) - 3 * b * (k + 1)
    p = float((1 + np.sum(null >= stat - 1e-9)) / (permutations + 1))
    lowest, highest = c.argmin(axis=1), c.argmax(axis=1)
    return {"chi2": round(stat, 4), "p": p,
            "p_asymptotic": float(chi2_dist.sf(stat, k - 1)),
            "kendall_w": round(stat / (b * (k - 1)), 4),
            "mean_rank": [round(float(r), 3) for r in ranks.mean(axis=0)],
            "differ": p < alpha,
            "easiest": int(lowest[0]) if (lowest == lowest[0]).all() else None,
            "hardest": int(highest[0]) if (highest == highest[0]).all() else None}


def class_costs(classes):
    """{"book": (seeds, classes) array, "blog": ...} of forgetting costs, and the seeds, from
    the ``forget-classes`` results."""
    out = {}
    for size in SIZES:
        runs = sorted((r for r in classes["runs"] if r["size"] == size), key=lambda r: r["seed"])
        out[size] = (np.array([r["cost"] for r in runs]), [r["seed"] for r in runs])
    return out


def size_verdicts_15(classes):
    """Target 15 per size: "held" where :func:`class_effect` finds the classes differ (the blog
    states it without a figure), "did not hold" where it does not."""
    return {size: from_rule(class_effect(costs)["differ"], BLOG_FIGURE[15])
            for size, (costs, _) in class_costs(classes).items()}


# ---- verdicts from the results file ----------------------------------------------------------

def size_verdicts(results, classes=None):
    """{target: {"book": verdict, "blog": verdict}} for targets 11-14 from ``forget-lq-mnist``,
    and 15 when ``classes`` (the ``forget-classes`` results) is given; then target 11's
    book-sized verdict comes from the ten book-sized seeds of ``classes`` (:func:`seeds_11`)."""
    g, k, t = results["grids"], results["k_blog"], results["target"]
    runs = runs_by_size(results)
    rules = {11: lambda r: checks_11([features_11(x, g, k) for x in r]),
             12: lambda r: checks_12([features_12(x, g, k) for x in r]),
             13: lambda r: checks_13([features_13(x, g, k) for x in r]),
             14: lambda r: checks_14([features_14(x, t) for x in r])}
    out = {n: {size: graded(*rule(runs[size]), blog_reports_figure=BLOG_FIGURE[n])
               for size in SIZES} for n, rule in rules.items()}
    if classes is not None:
        out[15] = size_verdicts_15(classes)
        # target 11 at book size over the ten trainings of forget-classes (the same sweep)
        out[11]["book"] = seeds_11(classes, k, t)[2]
    return out


def verdicts(results, classes=None):
    """{target: verdict} for targets 11-14 (and 15 given ``classes``), both sizes combined."""
    out = {n: combined(v) for n, v in size_verdicts(results, classes).items()}
    runs = runs_by_size(results)
    if where_seed_dependent({s: [features_14(r, results["target"]) for r in runs[s]] for s in SIZES}):
        out[14] += "; where the 7s go depends on the seed"
    return out


# ---- comparing forgetting methods over whole curves (forget-methods) -------------------------

# forget accuracies at which two methods' retain accuracies are compared
FORGET_LEVELS = tuple(np.round(np.arange(0.01, 0.501, 0.01), 2))


def frontier(forget, retain, levels=FORGET_LEVELS):
    """The best retain accuracy a curve reaches with its forget accuracy at or below each
    level: ``max {retain_i : forget_i <= level}``, NaN where no point is that low.

    Parameters
    ----------
    forget, retain : sequences of float (points of one method's curve on one seed)
    levels : sequence of float

    Returns
    -------
    float64 array (len(levels),)
    """
    f, r = np.asarray(forget, np.float64), np.asarray(retain, np.float64)
    out = np.full(len(levels), np.nan)
    for i, level in enumerate(levels):
        ok = f <= level
        if ok.any():
            out[i] = r[ok].max()
    return out


def ahead(a, b, levels=FORGET_LEVELS):
    """Where curve ``a`` (dict with "forget" and "retain") is ahead of curve ``b`` on one seed,
    and where it is behind: levels at which its frontier retain accuracy is higher (or it
    reaches a forget level that ``b`` never reaches), and the reverse. Equal: neither.

    Returns
    -------
    (list of float, list of float)
        The forget levels where ``a`` is ahead, and where ``b`` is.
    """
    fa, fb = frontier(a["forget"], a["retain"], levels), frontier(b["forget"], b["retain"], levels)
    a_ahead = [float(l) for l, x, y in zip(levels, fa, fb)
               if (np.isfinite(x) and not np.isfinite(y)) or (np.isfinite(x) and x > y)]
    b_ahead = [float(l) for l, x, y in zip(levels, fa, fb)
               if (np.isfinite(y) and not np.isfinite(x)) or (np.isfinite(y) and y > x)]
    return a_ahead, b_ahead


def beats(curves_a, curves_b, levels=FORGET_LEVELS):
    """Rule: method A *beats* method B when, on every seed, A's retain-vs-forget curve lies on
    or above B's at every forget level from 1% to 50% and strictly above somewhere.

    Statistic: the frontier (:func:`frontier`), the best test retain accuracy (other digits)
    at test forget accuracy (the target's) at or below each level. Seeds: one curve per
    independent seed, the same seeds for A and B (book-sized lq-mnist seeds 0-2). Threshold:
    none; a single level on a single seed where B is ahead (or reaches a forget level A never
    reaches) rejects the claim.

    Parameters
    ----------
    curves_a, curves_b : sequences of dicts with "forget" and "retain", one per seed, paired

    Returns
    -------
    bool
    """
    if len(curves_a) != len(curves_b) or not curves_a:
        raise ValueError(f"curves_a and curves_b must hold one curve per seed, paired; got "
                         f"{len(curves_a)} and {len(curves_b)}")
    verdicts = [ahead(a, b, levels) for a, b in zip(curves_a, curves_b)]
    return all(not b_ahead and a_ahead for a_ahead, b_ahead in verdicts)


def spans(levels):
    """Consecutive levels (1%-steps) as "a-b%" ranges, e.g. [0.01, 0.02, 0.05] -> "1-2%, 5%"."""
    if not levels:
        return "nowhere"
    pct = [round(l * 100) for l in levels]
    out, start = [], pct[0]
    for prev, cur in zip(pct, pct[1:] + [None]):
        if cur != prev + 1:
            out.append(f"{start}%" if start == prev else f"{start}-{prev}%")
            start = cur
    return ", ".join(out)
