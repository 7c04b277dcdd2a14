"""Rules for comparing forgetting methods over their trade-off curves, and for the class effect
(reproduction target 15: "there is a difference in how different classes can be forgotten").

Both read the results of ``make reproduce`` (``forget-methods`` and ``forget-classes``); the
chapters *First Experiment Summary* and *Targeted Outputs* and the appendix import them.
"""
import numpy as np

# forget accuracies at which two methods' retain accuracies are compared
FORGET_LEVELS = tuple(np.round(np.arange(0.01, 0.501, 0.01), 2))
CLASS_ALPHA = 0.05          # the class effect's significance level
PERMUTATIONS = 20_000       # of the permutation test


# ---------------------------------------------------------------- method comparison
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


# ---------------------------------------------------------------- class effect (target 15)
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
    each seed. Seeds: the rows, independent trainings (book-sized seeds 0-4, blog-sized 0-2,
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


def target_15(book, blog):
    """Target 15's verdict from :func:`class_effect` on the book-sized and the blog-sized
    seeds: the blog states the class effect without a figure, so "held" if it holds at both
    sizes, "did not hold" at neither, "differs between the sizes" otherwise."""
    if book["differ"] and blog["differ"]:
        return "held"
    if not book["differ"] and not blog["differ"]:
        return "did not hold"
    return "differs between the sizes"
