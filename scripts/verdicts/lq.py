"""Verdict rules of Building Sparana and Linear Quadratic Models (reproduction targets 1-6).

Each rule is a pure function of numbers from the results files ``lq-sce-mnist``,
``attacks-lq-sce``, ``lq-vs-sce-seeds`` and ``lq-vs-sce-20000`` (written by
``scripts/reproduce.py``); each ``verdict_N`` applies the rules
of target N to those files' ``results`` and words the outcome with :func:`verdicts.from_rule`.
"""
import numpy as np

from verdicts import from_rule, label

# Does the blog report a result (a number or a figure) for the target? Else our test of what it
# only states gets the "held" labels (blog-notes.md, "Reproduction targets").
BLOG_FIGURE = {
    1: True,    # Demo-Model.ipynb prints 0.9848 [CODE]
    2: True,    # the demo prints outputs near 1 at the true class, others about ±0.02 [CODE]
    3: False,   # inferred: exact by construction
    4: True,    # "in the order of 0.5%" [STATED]
    5: True,    # "-4 to 13 in one case I looked at" [STATED]
    6: False,   # the adversarial posts are lost: stated, no numbers
}

BLOG_LQ = 0.9848   # Demo-Model.ipynb's printed test accuracy (20,000 steps)
NEAR = 0.002       # target 1: "within 0.2 points" of it, on the mean over seeds


def accuracy_near_blog(accuracies, blog=BLOG_LQ, near=NEAR):
    """Target 1. Statistic: the mean test accuracy over seeds (0, 1, 2 in the results file) of
    the LQ 784-1000-800-400-10 model. Holds when it is within ``near`` (0.2 points) of the
    blog's 0.9848."""
    return bool(abs(float(np.mean(accuracies)) - blog) <= near)


NEAR_0_OR_1 = 0.8     # target 2: share of outputs within 0.1 of 0 or 1, every seed
TRUE_MEDIAN = 0.05    # target 2: |median true-class output - 1|, every seed


def outputs_near_one_hot(models):
    """Target 2. Statistic per model (seeds 0, 1, 2): the share of test outputs within 0.1 of 0
    or 1 (``near_0_or_1``) and the median true-class output (``true_median``). Holds when every
    model has more than 80% near 0 or 1 and its true-class median within 0.05 of 1."""
    return all(m["near_0_or_1"] > NEAR_0_OR_1 and abs(m["true_median"] - 1) < TRUE_MEDIAN
               for m in models)


EXACT = 1e-5   # target 3: float32 rounding through four layers, relative to the largest output


def removal_exact(shrinking):
    """Target 3. Statistic (seed 0, MAAV-pruned model): the largest change of any output after
    removing dead neurons and after converting to CSR, relative to the output scale, and the
    three test accuracies (before, removed, CSR). Holds when the change is below 1e-5 and the
    accuracies are equal."""
    s = shrinking
    rel = max(s["max_abs_diff_removed"], s["max_abs_diff_csr"]) / s["output_scale"]
    return bool(rel < EXACT and len(set(s["accuracy"])) == 1)


BLOG_GAP = 0.5         # target 4, points: the blog's "in the order of 0.5%"
MIN_SEEDS = 3          # fewer seeds give no t interval worth the name


def lq_vs_sce(differences, seed_interval, image_interval, blog=BLOG_GAP):
    """Target 4 ("LQ models consistently reach a higher test accuracy than SCE, in the order of
    0.5%"), on MNIST.

    Statistic: the paired difference LQ − SCE in test accuracy, in percentage points on the
    10,000 test images, one per seed; a seed fixes both models' initial weights and batches,
    and the seeds are disjoint (at least :data:`MIN_SEEDS`; the book uses five). Uncertainty:
    two 95% intervals of the mean difference, the t interval over seeds (``seed_interval``)
    and a bootstrap over test images (``image_interval``); the rule uses the span of both.

    Rule, fixed before the run:

    - "reproduced" if LQ is ahead on every seed, the span lies above 0 and it reaches half the
      blog's figure (``blog / 2`` = 0.25 points), i.e. the data do not rule out a gap of the
      blog's order;
    - "partly reproduced" if the span lies above 0 but LQ is behind or level on some seed, or
      the whole span lies below half the blog's figure (LQ ahead, by less than the blog says);
    - "not reproduced" otherwise (the span includes 0, or lies below it).

    Returns the verdict, which says what holds: "LQ ahead in n of n runs, by a to b points
    (mean m, 95% interval lo to hi); the blog: about 0.5".
    """
    label_, what = _judge(differences, seed_interval, image_interval, blog)
    return f"{label_}: {what}; the blog: about {blog:g}"


def _judge(differences, seed_interval, image_interval, blog=BLOG_GAP):
    """:func:`lq_vs_sce` as (label, what holds), without the blog's figure."""
    d = np.asarray(differences, dtype=float)
    if d.ndim != 1 or len(d) < MIN_SEEDS or not np.all(np.isfinite(d)):
        raise ValueError(f"differences must hold at least {MIN_SEEDS} finite per-seed values; "
                         f"got {differences!r}")
    for name, interval in (("seed_interval", seed_interval), ("image_interval", image_interval)):
        if len(interval) != 2 or not interval[0] <= interval[1]:
            raise ValueError(f"{name} must be a (low, high) pair with low <= high; got {interval!r}")
    lo, hi = min(seed_interval[0], image_interval[0]), max(seed_interval[1], image_interval[1])
    ahead = int(np.sum(d > 0))
    what = (f"LQ ahead in {ahead} of {len(d)} runs, by {d.min():+.2f} to {d.max():+.2f} points "
            f"(mean {d.mean():+.2f}, 95% interval {lo:+.2f} to {hi:+.2f})")
    if lo > 0 and ahead == len(d) and hi >= blog / 2:
        return "reproduced", what
    if lo > 0 and ahead == len(d):
        return "partly reproduced", what + ", the whole interval below half the blog's figure"
    if lo > 0:
        return "partly reproduced", what + ", ahead on average but not on every seed"
    if hi < 0:
        return "not reproduced", what + ": SCE is ahead"
    return "not reproduced", what + ": the interval includes 0, so no difference is shown"


BLOG_LOGIT_RANGE = 17   # target 5: "-4 to 13", the blog's one case
LOGIT_RATIO = 5         # target 5: the SCE band at least 5 times the LQ band


def logits_wide(sce_p1_p99, lq_p1_p99):
    """Target 5, one model. Statistic: the width of the 1st-to-99th percentile band of the SCE
    logits and of the LQ outputs on the test set. Holds when the SCE band is wider than the
    blog's 17 units and more than 5 times the LQ band."""
    sce, lq = sce_p1_p99[1] - sce_p1_p99[0], lq_p1_p99[1] - lq_p1_p99[0]
    return bool(sce > BLOG_LOGIT_RANGE and sce > LOGIT_RATIO * lq)


OWN_LOSS_GAP = 0.3   # target 6: FGSM on each head's own loss (ε 0.1), SCE fooled more by this
NOISE_GAP = 0.15     # target 6: random noise (ε 0.3), SCE fooled more by this
DETECT_GAP = 0.4     # target 6: AUC after margin PGD (ε 0.2), LQ's one-hot distance ahead by this


def trick_parts(fooled, auc):
    """Target 6, one model size, means over seeds. ``fooled[(attack, head)]``: the share of
    correctly classified test images an attack turns wrong, for ("noise", ε 0.3) and ("FGSM,
    loss", ε 0.1); ``auc[head]``: how well a score flags the images fooled by margin PGD (ε 0.2):
    LQ's distance to one-hot, SCE's largest probability. Each part holds when SCE is fooled more
    by over 0.15 (noise) or 0.3 (own loss), and when LQ's AUC is higher by over 0.4."""
    return {"noise": fooled["noise", "sce"] - fooled["noise", "lq"] > NOISE_GAP,
            "own loss": fooled["FGSM, loss", "sce"] - fooled["FGSM, loss", "lq"] > OWN_LOSS_GAP,
            "detect": auc["lq"] - auc["sce"] > DETECT_GAP}


# ---- verdicts from the results files ---------------------------------------------------------

def runs_by_steps(lq_sce):
    """The runs of ``lq-sce-mnist`` as {steps: [run, ...]} (book-sized first)."""
    steps = sorted({r["steps"] for r in lq_sce["runs"]})
    return {s: [r for r in lq_sce["runs"] if r["steps"] == s] for s in steps}


def verdict_1(lq_sce):
    """Target 1 at the blog's length (the longest runs), from ``lq-sce-mnist``."""
    blog = list(runs_by_steps(lq_sce).values())[-1]
    holds = accuracy_near_blog([r["lq"]["test_accuracy"] for r in blog])
    return from_rule(holds, BLOG_FIGURE[1]) + (" at the blog's scale" if holds else "")


def verdict_2(lq_sce):
    """Target 2 at both lengths."""
    return from_rule(all(outputs_near_one_hot([r["lq"] for r in rs])
                         for rs in runs_by_steps(lq_sce).values()), BLOG_FIGURE[2])


def verdict_3(lq_sce):
    """Target 3 on the first seed at both lengths."""
    return from_rule(all(removal_exact(rs[0]["lq"]["shrinking"])
                         for rs in runs_by_steps(lq_sce).values()), BLOG_FIGURE[3])


def comparison_verdict(part):
    """:func:`lq_vs_sce` applied to one comparison of ``lq-vs-sce-seeds`` or ``lq-vs-sce-20000``
    (``part`` holds ``per_seed`` and ``across_seeds``)."""
    a = part["across_seeds"]
    return lq_vs_sce([r["difference"] for r in part["per_seed"]], a["seed_interval"],
                     a["image_interval"])


def verdict_4(seeds, blog=None, lq_sce=None):
    """Target 4, from ``lq-vs-sce-seeds`` (``seeds``: five seeds at the book's length, both
    heads with the blog's recipe, and SCE at the learning rate its own validation sweep chose)
    and, once run, ``lq-vs-sce-20000`` (``blog``: the blog's length, seeds 0-2). Each comparison
    is judged by :func:`lq_vs_sce`; the label is theirs where they all agree, else "partly
    reproduced". Without ``blog``, the blog-length differences of ``lq_sce`` (accuracies only,
    no interval over test images) are quoted but not judged. Fashion-MNIST is not tested."""
    def judged(part):
        a = part["across_seeds"]
        return _judge([r["difference"] for r in part["per_seed"]], a["seed_interval"],
                      a["image_interval"])

    parts = [(f"at {seeds['steps']:,} steps, both heads with the blog's recipe", judged(seeds["blog_recipe"])),
             (f"with SCE at its own learning rate ({seeds['tuned']['lr']:.0e})", judged(seeds["tuned"]))]
    if blog is not None:
        parts.append((f"at {blog['steps']:,} steps", judged(blog["blog_recipe"])))
    labels = {lab for _, (lab, _) in parts}
    text = "; ".join(f"{where}: {what} ({lab})" for where, (lab, what) in parts)
    if blog is None and lq_sce is not None:
        runs = runs_by_steps(lq_sce)
        longest = max(runs)
        gaps = np.array([100 * (r["lq"]["test_accuracy"] - r["sce"]["test_accuracy"])
                         for r in runs[longest]])
        text += (f"; at {longest:,} steps: LQ ahead in {int(np.sum(gaps > 0))} of {len(gaps)} runs, by "
                 f"{gaps.min():+.2f} to {gaps.max():+.2f} points (its interval over test images is "
                 "not measured yet)")
    head = labels.pop() if len(labels) == 1 else "partly reproduced"
    return (f"{head}: {text}; the blog: about {BLOG_GAP:g}; Fashion-MNIST not tested here: its "
            "data is not available")


def verdict_5(lq_sce):
    """Target 5: every model at both lengths; else partly."""
    holds = all(logits_wide(r["sce"]["p1_p99"], r["lq"]["p1_p99"]) for r in lq_sce["runs"])
    return (from_rule(True, BLOG_FIGURE[5]) + " (wider than the blog's one case)" if holds
            else from_rule(False, BLOG_FIGURE[5], part=True))


def attack_mean(attacks, name, head, steps, strength, score=None):
    """Mean over the seeds run of an attack's success rate, or of an AUC (``score``), from
    ``attacks-lq-sce``; NaN where too few images were fooled to score."""
    values = []
    for r in attacks["runs"]:
        if r["attack"] == name and r["head"] == head and r["steps"] == steps:
            i = r["strengths"].index(strength)
            v = r["success"][i] if score is None else r["auc"][score][i]
            values.append(np.nan if v is None else v)
    return float(np.mean(values))


def trick_parts_at(attacks, steps):
    """:func:`trick_parts` for the models of one length, from ``attacks-lq-sce``."""
    fooled = {(name, head): attack_mean(attacks, name, head, steps, strength)
              for name, strength in (("noise", 0.3), ("FGSM, loss", 0.1)) for head in ("lq", "sce")}
    auc = {"lq": attack_mean(attacks, "PGD, margin", "lq", steps, 0.2, "prediction_loss"),
           "sce": attack_mean(attacks, "PGD, margin", "sce", steps, 0.2, "max_output")}
    return trick_parts(fooled, auc)


TRICK_WORDS = (("noise", "harder to fool with noise:"),
               ("own loss", "harder to fool through its own loss:"),
               ("detect", "fooled outputs detectable:"))


def verdict_6(attacks):
    """Target 6: each part at both lengths; "differs between the sizes" where a part does."""
    steps = sorted({r["steps"] for r in attacks["runs"]})
    book, blog = trick_parts_at(attacks, steps[0]), trick_parts_at(attacks, steps[-1])
    head = (from_rule(all(blog.values()), BLOG_FIGURE[6], part=any(blog.values()))
            if book == blog else "differs between the sizes")
    return head + ": " + "; ".join(
        f"{what} {'yes' if blog[key] else 'no'}"
        + ("" if book[key] == blog[key] else f" (book size: {'yes' if book[key] else 'no'})")
        for key, what in TRICK_WORDS)


def verdicts(lq_sce, attacks, seeds, blog=None):
    """{target: verdict} for targets 1-6, from the ``results`` of ``lq-sce-mnist``,
    ``attacks-lq-sce``, ``lq-vs-sce-seeds`` and (None until run) ``lq-vs-sce-20000``."""
    return {1: verdict_1(lq_sce), 2: verdict_2(lq_sce), 3: verdict_3(lq_sce),
            4: verdict_4(seeds, blog, lq_sce), 5: verdict_5(lq_sce), 6: verdict_6(attacks)}
