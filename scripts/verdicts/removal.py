"""Verdict rules of the Removing Activations chapters (targets 10 and 16-19).

Pure functions of numbers from the results files ``removal-lq-mnist`` (target 16),
``removal-1000x3`` and ``removal-1000x3-20000`` (17), ``removal-longboy`` and
``removal-longboy-20000`` (18), ``removal-control`` (19) and ``removal-timing`` (10). Each rule
judges one model; ``verdict_N`` collects the outcomes per model size and words them with
:func:`verdicts.over_sizes`.
"""
from verdicts import over_sizes

BLOG_FIGURE = {
    10: False,   # stated: "the 0 values still need to be processed"; no timings
    16: False,   # stated in part 2 ("the layers lose activations at different rates"), no numbers
    17: True,    # two figures (lost), and "barely changed ... almost half" (FMNIST) [STATED]
    18: False,   # Longboy: index line only
    19: False,   # the control post is unfinished
}


def split_sizes(results):
    """The entries of a removal results file: {"book": [...], "blog": [...]}, by training steps."""
    return {label: [e for e in results["runs"] if e["steps"] == steps]
            for label, steps in results["sizes"].items()}


def merged(results, blog_results):
    """A removal results file with the runs of its blog-sized experiment added (that experiment
    runs on its own, for its long training); ``results`` unchanged if ``blog_results`` is None."""
    if blog_results is None:
        return results
    return {**results, "runs": results["runs"] + blog_results["runs"],
            "sizes": {**results["sizes"], **blog_results["sizes"]}}


# ---- target 16: 784-1000-800-400-10 ----------------------------------------------------------

SPREAD = 0.2        # the kept fractions of the hidden layers span more than 20 points
SECOND_GAP = 0.05   # target 16: the second layer keeps at least 5 points fewer than the first


def different_rates(kept):
    """Target 16, one run (one seed and schedule). Statistic: the fraction of each hidden
    layer's neurons kept at 30% of the parameters. Holds when they span more than 20 points and
    the second layer keeps at least 5 points fewer than the first."""
    return bool(max(kept) - min(kept) > SPREAD and kept[0] - kept[1] > SECOND_GAP)


def verdict_16(results):
    """Target 16 over seeds 0, 1, 2, both schedules, both sizes, from ``removal-lq-mnist``."""
    flags = {label: [different_rates(e[s]["kept_at"]) for e in es for s in ("one-shot", "iterative")]
             for label, es in split_sizes(results).items()}
    return over_sizes(flags, BLOG_FIGURE[16])


# ---- target 17: 784-1000-1000-1000-10 --------------------------------------------------------

TRIANGLE_GAP = 0.05              # each layer keeps at least 5 points fewer than the one before
FIRST_EARLY = (0.6, 0.97)        # the first layer's share when the third has lost half


def triangle(kept):
    """Target 17, one run. Statistic: the fraction of each hidden layer's neurons kept at 15% of
    the parameters. Holds when each layer keeps more than 5 points fewer than the one before."""
    return bool(kept[0] - kept[1] > TRIANGLE_GAP and kept[1] - kept[2] > TRIANGLE_GAP)


def first_going_early(first_when_third_half):
    """Target 17, one run. Statistic: the first layer's kept fraction when the third has lost
    half of its neurons. Holds between 60% and 97% (it has started to shrink, and it is still
    the widest); None (the third never lost half) does not hold."""
    h = first_when_third_half
    return h is not None and FIRST_EARLY[0] < h < FIRST_EARLY[1]


FMNIST = " for MNIST, with the output layer pruned too; not tested here for Fashion-MNIST: it is not available"


def verdict_17(results):
    """Target 17 over the runs with the output layer pruned (``removal-1000x3``, merged with its
    blog-sized experiment where that has run)."""
    at = str(results["at"])
    flags = {label: [triangle(e["kept_at"][at]) and first_going_early(e["first_when_third_half"])
                     for e in es if e["prune_last"]]
             for label, es in split_sizes(results).items()}
    if "blog" not in flags:
        return (over_sizes({"book": flags["book"], "blog": flags["book"]}, BLOG_FIGURE[17])
                + " at book size (the blog-scale run is still to do)" + FMNIST)
    return over_sizes(flags, BLOG_FIGURE[17]) + FMNIST


# ---- target 18: Longboy ----------------------------------------------------------------------

def rates_differ(kept):
    """Target 18, one run. Statistic: the fraction of each hidden layer's neurons kept at 15% of
    the parameters. Holds when the widest and the narrowest differ by more than 20 points."""
    return bool(max(kept) - min(kept) > SPREAD)


def verdict_18(results):
    """Target 18 from ``removal-longboy`` merged with its blog-sized experiment."""
    at = str(results["at_main"])
    flags = {label: [rates_differ(e["kept_at"][at]) for e in es]
             for label, es in split_sizes(results).items()}
    if "blog" not in flags:
        return (over_sizes({"book": flags["book"], "blog": flags["book"]}, BLOG_FIGURE[18])
                + " at book size; the blog-scale run is still to do; MNIST only (Fashion-MNIST not available)")
    return over_sizes(flags, BLOG_FIGURE[18]) + "; MNIST only (Fashion-MNIST not available)"


# ---- target 19: the control ------------------------------------------------------------------

UP_TO = 0.95        # sparsities up to which a control criterion removes no neuron
MAAV_SHRINKS = 0.8  # MAAV at 90% leaves hidden layers 1 and 2 below 80% of their width


def never_shrink(entry, weight_criteria, up_to=UP_TO):
    """The weight criteria of one model that removed no neuron at any sparsity up to 95%."""
    return sorted(c for c in weight_criteria if all(
        w == entry["widths"] for a, w in zip(entry["criteria"][c]["amount"], entry["criteria"][c]["widths"])
        if a <= up_to))


def maav_widths_at(entry, amount=0.9):
    """The widths MAAV pruning at ``amount`` and removal leave in one model."""
    run = entry["criteria"]["maav"]
    return run["widths"][run["amount"].index(amount)]


def only_maav_shrinks(unchanged, controls, widths, maav_widths):
    """Target 19, one model. ``unchanged``: the weight criteria that removed no neuron up to 95%
    sparsity; ``controls``: the criteria other than MAAV (|w|, random, activation rank);
    ``widths``/``maav_widths``: the layer widths before, and after MAAV at 90% and removal.
    Holds when exactly the controls removed nothing, and MAAV left hidden layers 1 and 2 below
    80% of their width."""
    return bool(sorted(unchanged) == sorted(controls)
                and maav_widths[1] < MAAV_SHRINKS * widths[1] and maav_widths[2] < MAAV_SHRINKS * widths[2])


def verdict_19(results):
    """Target 19 over seeds 0, 1, 2 at both sizes, from ``removal-control``."""
    crit = results["weight_criteria"]
    controls = [c for c in crit if c != "maav"]
    flags = {label: [only_maav_shrinks(never_shrink(e, crit), controls, e["widths"], maav_widths_at(e))
                     for e in es] for label, es in split_sizes(results).items()}
    return over_sizes(flags, BLOG_FIGURE[19]) + " (widths); accuracy at equal size: see the text"


# ---- target 10: is it faster? ----------------------------------------------------------------

MARGIN = 1.25   # a speed ratio counts as a difference only beyond 1.25 either way


def timing_claims(speedup, sparsities):
    """Target 10, one model (seed 0). ``speedup[kind]``: the median one-thread CPU-time speed-up
    over the dense model per sparsity, for the masked (dense with zeros), CSR and shrunk models.
    Each claim holds beyond the 1.25 margin: the masked model is no faster at any sparsity; the
    shrunk model is faster at 90%; CSR is slower at the lowest sparsity and faster at the
    highest."""
    r, k90 = speedup, sparsities.index(0.9)
    return {"the masked model is no faster": max(r["masked"]) < MARGIN,
            "the shrunk model is faster at 90%": r["shrunk"][k90] > MARGIN,
            f"CSR is slower at {sparsities[0]:.0%}": r["csr"][0] < 1 / MARGIN,
            f"CSR is faster at {sparsities[-1]:.0%}": r["csr"][-1] > MARGIN}


def timing_core(claims):
    """Target 10's verdict rests on the first two claims: zeros cost time, removal pays."""
    return claims["the masked model is no faster"] and claims["the shrunk model is faster at 90%"]


def verdict_10(results, cpu):
    """Target 10 from ``removal-timing`` (seed 0 at both sizes); ``cpu`` names the machine."""
    flags = {label: [timing_core(timing_claims(e["cpu"]["speedup_median"], results["sparsities"]))
                     for e in es] for label, es in split_sizes(results).items()}
    return over_sizes(flags, BLOG_FIGURE[10]) + f"; ratios from one machine ({cpu})"


def verdicts(ra, p2, lb, ct, tm, cpu):
    """{target: verdict} for targets 10 and 16-19 (``p2`` and ``lb`` already :func:`merged`)."""
    return {10: verdict_10(tm, cpu), 16: verdict_16(ra), 17: verdict_17(p2),
            18: verdict_18(lb), 19: verdict_19(ct)}
