"""Verdict rules of the Removing Activations chapters (targets 10 and 16-19).

Pure functions of numbers from the results files ``removal-lq-mnist`` (target 16),
``removal-1000x3`` and ``removal-1000x3-20000`` (17), ``removal-longboy`` and
``removal-longboy-20000`` (18), ``removal-control`` (19) and ``removal-speed`` (10; the grid
of ``removal-timing`` is described by :func:`timing_claims`), with the controls of
``removal-triangle-controls`` and the equal-nonzeros comparison of ``removal-liu``. Each rule
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


BANDS = (0.005, 0.01)     # "an accuracy a user would keep": within 0.5 and 1 point of the original
AHEAD_MARGIN = 0.005      # accuracy differences on 10,000 test images count beyond 0.5 point
NULL_MARGIN = 1.1         # the masked twin multiplies as many numbers as the original


def null_ok(masked_speedups, margin=NULL_MARGIN):
    """The null control of a timing. Statistic: the masked twin's speed-up over the dense
    original (the same products, zeros included), every sparsity, criterion and seed at one
    batch size. Holds when all lie within [1 / margin, margin] (1.1): otherwise the clock
    measured something other than the models, and the speed verdicts at that batch size are
    refused."""
    v = [float(x) for x in masked_speedups]
    if not v:
        raise ValueError("masked_speedups must not be empty")
    return bool(1 / margin <= min(v) and max(v) <= margin)


def speed(speedups, margin=MARGIN):
    """Speed verdict for one kind of model at one accuracy band and batch size.

    Statistic: the speed-up (median one-thread CPU time of the dense original over that of the
    model, timed in the same run) of the smallest model whose test accuracy stays within the
    band of the unpruned model's, one value per independent seed (the unpruned model itself,
    speed-up 1, when no pruned model stays in the band). Seeds: the three book-sized lq-mnist
    models of ``removal-speed``. Threshold: ``margin`` (the book's no-difference margin, 1.25),
    fixed before the run.

    Returns
    -------
    str
        "faster" when every seed's speed-up is >= margin; "slower" when every seed's is
        <= 1 / margin; "depends on the seed" when some seeds clear the margin and others do
        not; otherwise "no difference".
    """
    speedups = [float(v) for v in speedups]
    if not speedups:
        raise ValueError("speedups must hold one value per seed; got none")
    if all(v >= margin for v in speedups):
        return "faster"
    if all(v <= 1 / margin for v in speedups):
        return "slower"
    if any(v >= margin for v in speedups):
        return "depends on the seed"
    return "no difference"


def kept_speedups(results, criterion="maav", kind="shrunk", batch=1000, band=0.01, budget="none"):
    """Per seed (in seed order), from ``removal-speed``: the speed-up of the smallest model of
    ``criterion`` within ``band`` of the unpruned accuracy, after fine-tuning ``budget``
    ("none" or "fine-tuned"), as ``kind`` ("shrunk" or "csr") at batch size ``batch``."""
    runs = sorted((e for e in results["runs"] if e["criterion"] == criterion),
                  key=lambda e: e["seed"])
    return [e["kept"][budget][str(band)][kind][f"speedup_b{batch}"] for e in runs]


def speed_target(kept, margin=MARGIN):
    """Target 10's label for "removing activations makes the model faster" (stated in the blog's
    teaser, no figure), at an accuracy a user would keep.

    ``kept`` maps (budget, band) to the per-seed batch-1,000 speed-ups of the MAAV-shrunk dense
    model (``budget``: "none" or "fine-tuned"; ``band``: 0.005 or 0.01). Statistic and
    threshold as in :func:`speed`. "held" when it is faster on every seed within 1 point
    without fine-tuning (the blog's setting); "partly held" when it is faster on every seed only
    with fine-tuning or only within another band; "did not hold" otherwise.
    """
    verdicts = {k: speed(v, margin) for k, v in kept.items()}
    if verdicts.get(("none", 0.01)) == "faster":
        return "held"
    if any(v == "faster" for v in verdicts.values()):
        return "partly held"
    return "did not hold"


def verdict_10(results, cpu):
    """Target 10 from ``removal-speed`` (three book-sized seeds): :func:`speed_target` on the
    MAAV-shrunk dense model at batch 1,000, worded with what holds, provided the null control
    (:func:`null_ok`) holds at batch 1,000; ``cpu`` names the machine."""
    if not null_ok([v for e in results["runs"] for v in e["speedup"]["1000"]["masked"]]):
        return ("not tested here: the null control failed (the masked twin did not time like "
                f"the original at batch 1,000; {cpu})")
    kept = {(budget, band): kept_speedups(results, band=band, budget=budget)
            for budget in ("none", "fine-tuned") for band in results["bands"]}
    def spread(v):
        return f"{min(v):.2f}x" if f"{min(v):.2f}" == f"{max(v):.2f}" else f"{min(v):.2f}-{max(v):.2f}x"

    found = [f"{'no fine-tuning' if budget == 'none' else 'fine-tuned'}, within {band * 100:g} "
             f"point: {speed(v)} ({spread(v)})" for (budget, band), v in kept.items()]
    seeds = sorted({e["seed"] for e in results["runs"]})
    few = "" if len(seeds) >= 3 else f" on {len(seeds)} seed{'s' if len(seeds) > 1 else ''} only"
    return (f"{speed_target(kept)}{few}: the smallest MAAV-shrunk model that keeps its accuracy, "
            f"batch 1,000, one thread, seeds {', '.join(map(str, seeds))}; " + "; ".join(found)
            + f"; margin {MARGIN}; ratios from one machine ({cpu}{_others(results)})")


def _others(results):
    """How much of the CPU other processes used while the runs were timed, as recorded."""
    shares = [e["load"]["other_cpu_share"] for e in results["runs"]
              if e.get("load", {}).get("other_cpu_share") is not None]
    return f"; other processes used at most {max(shares):.0%} of it" if shares else ""


# ---- targets 17 and 18 against controls ------------------------------------------------------

def differs_from_controls(maav, controls):
    """Whether a statistic of MAAV's schedule differs from the same statistic under the control
    criteria (|w| and random pruning, and the group score, at the same ``prune_last``).

    Statistic: any per-seed number (e.g. the first hidden layer's kept fraction minus the
    second's at 15% of the parameters). ``maav``: one value per seed; ``controls``: a dict
    name -> one value per seed (the same seeds, from ``removal-triangle-controls``). Rule,
    fixed before the run: MAAV differs only where, on every seed, its value lies above the
    largest control value of that seed ("above") or below the smallest ("below"); otherwise
    "like the controls".
    """
    maav = [float(v) for v in maav]
    if not maav or not controls or any(len(v) != len(maav) for v in controls.values()):
        raise ValueError("maav and every control must hold one value per seed, the same seeds")
    if all(m > max(c[i] for c in controls.values()) for i, m in enumerate(maav)):
        return "above"
    if all(m < min(c[i] for c in controls.values()) for i, m in enumerate(maav)):
        return "below"
    return "like the controls"


# ---- Liu et al. at equal nonzeros --------------------------------------------------------------

def ahead(a, b, margin=AHEAD_MARGIN):
    """Paired comparison of two training recipes over the same seeds (``removal-liu``).
    Statistic: test accuracy (10,000 images) of ``a`` minus that of ``b``, per seed. Threshold:
    ``margin`` (0.5 point, about two standard errors of one accuracy near 90% on 10,000
    images). "ahead" when a - b > margin on every seed, "behind" when a - b < -margin on every
    seed, "no difference" otherwise."""
    if not len(a) or len(a) != len(b):
        raise ValueError("a and b must hold one accuracy per seed, the same seeds")
    d = [float(x) - float(y) for x, y in zip(a, b)]
    if all(x > margin for x in d):
        return "ahead"
    if all(x < -margin for x in d):
        return "behind"
    return "no difference"


def verdicts(ra, p2, lb, ct, speed_results, cpu):
    """{target: verdict} for targets 10 and 16-19 (``p2`` and ``lb`` already :func:`merged`;
    ``speed_results`` from ``removal-speed``)."""
    return {10: verdict_10(speed_results, cpu), 16: verdict_16(ra), 17: verdict_17(p2),
            18: verdict_18(lb), 19: verdict_19(ct)}
