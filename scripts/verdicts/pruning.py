"""Verdict rules of Pruning, Sparsity and Mean Activated Absolute Values (targets 7-9).

Pure functions of numbers from the results files ``sgd-2019`` (and ``sgd-2019-100000``),
``prune-lq-mnist-seeds`` and ``maav-identity``; each ``verdict_N`` applies the rules of target N
and words the outcome with :func:`verdicts.from_rule`.
"""
from verdicts import from_rule

BLOG_FIGURE = {
    7: True,    # the 2019 demo prints 0.9833 -> 0.6696 -> 0.9138 [CODE]
    8: True,    # "more than 90% of parameters without losing performance" [CODE, demo text]
    9: False,   # inferred: an identity we check, the blog reports no figure
}

BLOG_2019 = {"trained": 0.9833, "pruned": 0.6696, "retrained": 0.9138}   # the 2019 demo
COLLAPSE = 0.2   # target 7: pruning costs at least 20 points
NUMBERS_NEAR = 0.02   # target 7: "the numbers within 2 points of the demo's"


def demo_shape(trained, pruned, retrained, sparsity_kept):
    """Target 7, one model (seed 0). Statistic: test accuracy trained, after pruning 80% of
    every layer by |w|, and after sparse retraining. Holds when pruning costs at least 20
    points, retraining wins back more than half of the loss, and the zeros stay zeros."""
    return bool(pruned < trained - COLLAPSE and retrained - pruned > (trained - pruned) / 2
                and sparsity_kept)


def demo_numbers_close(run, blog=BLOG_2019):
    """Target 7, the demo-length model: the largest distance of its three accuracies from the
    demo's, and whether it is below 2 points."""
    worst = max(abs(run[stage] - blog[stage]) for stage in blog)
    return worst, worst < NUMBERS_NEAR


TOLERANCE = 0.005   # target 8: "without losing performance" = within 0.5 points of unpruned
NINETY = 0.9        # target 8: "more than 90%"


def largest_harmless(curve, unpruned, tolerance=TOLERANCE):
    """Target 8, one model and criterion. ``curve``: {sparsity: test accuracy} without
    retraining. The largest sparsity up to which every sparsity of the grid stays within
    ``tolerance`` (0.5 points) of the unpruned accuracy (0.0 if the first one does not)."""
    best = 0.0
    for ratio in sorted(curve):
        if curve[ratio] < unpruned - tolerance:
            break
        best = ratio
    return best


def ninety_harmless(harmless):
    """Target 8. ``harmless[criterion]``: :func:`largest_harmless` per seed (0, 1, 2). Holds when
    some criterion stays harmless up to 90% on every seed."""
    return any(min(values) >= NINETY for values in harmless.values())


IDENTITY_TOL = 1e-6   # target 9: relative difference, float32 against float64 by definition


def identity_holds(max_relative_difference, zero_inputs_score_zero):
    """Target 9, one model (seed 0, the first 200 training images). Statistic: per layer, the
    largest difference between MAAV from its definition (one image at a time) and |W| times the
    mean input, relative to the largest MAAV; and whether the inputs that are 0 in all 200
    images score 0. Holds when every difference is below 1e-6 and every such input scores 0."""
    return bool(max(max_relative_difference) < IDENTITY_TOL and all(zero_inputs_score_zero))


# ---- verdicts from the results files ---------------------------------------------------------

def verdict_7(runs):
    """Target 7 from the runs of ``sgd-2019`` (book length) and ``sgd-2019-100000`` (the demo's
    length; absent if not run), sorted by steps."""
    runs = sorted(runs, key=lambda r: r["steps"])
    shape = [demo_shape(r["trained"], r["pruned"], r["retrained"], r["sparsity_kept"])
             for r in runs]
    yes = from_rule(True, BLOG_FIGURE[7])
    if len(runs) == 1:
        return (f"{yes} in shape at book size" if shape[0] else
                from_rule(False, BLOG_FIGURE[7]) + " at book size") + "; the demo-length run is still to do"
    _, close = demo_numbers_close(runs[-1])
    if not any(shape):
        return from_rule(False, BLOG_FIGURE[7])
    return (f"{yes} in shape" + ("" if all(shape) else " at one size only")
            + ("; the numbers within 2 points of the demo's" if close
               else "; the numbers differ from the demo's"))


def harmless_by_steps(models):
    """{(steps, criterion): [largest_harmless per seed]} from ``prune-lq-mnist-seeds``."""
    out = {}
    for e in models:
        for m, acc in e["accuracy"].items():
            out.setdefault((e["steps"], m), []).append(
                largest_harmless(dict(zip(e["ratios"], acc)), e["unpruned"]))
    return out


def verdict_8(models):
    """Target 8 at the blog's length (the longest models of ``prune-lq-mnist-seeds``)."""
    harmless = harmless_by_steps(models)
    longest = max(s for s, _ in harmless)
    holds = ninety_harmless({m: v for (s, m), v in harmless.items() if s == longest})
    return (from_rule(True, BLOG_FIGURE[8]) if holds else
            from_rule(False, BLOG_FIGURE[8]) + " without retraining (the chapter: with retraining, at a cost)")


def verdict_9(models):
    """Target 9 on every model of ``maav-identity``."""
    return from_rule(all(identity_holds(e["max_relative_difference"],
                                        [z["their_maav_is_zero"] for z in e["always_zero_inputs"]])
                         for e in models), BLOG_FIGURE[9])


def verdicts(sgd_runs, prune_models, maav_models):
    """{target: verdict} for targets 7-9."""
    return {7: verdict_7(sgd_runs), 8: verdict_8(prune_models), 9: verdict_9(maav_models)}
