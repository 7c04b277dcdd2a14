"""Rules of the forgetting series' own measurements (not blog reproduction targets): the heavy
lifting of *Introduction to Forgetting* as behaviour, and relearning and membership inference
in *First Experiment Summary*, each against its controls.

Every rule takes per-seed numbers (one entry per independent network) and returns a verdict
string that starts with one of :data:`verdicts.LABELS`. The blog states these claims without a
figure (or they are ours), so the labels are "held", "partly held", "did not hold" and
"depends on the seed".
"""
import numpy as np

CHANCE = 0.1            # ten classes
NEAR_CHANCE = 0.1       # "within 10 points of chance"
HEAVY_GAP = 0.05        # "at least 5 points more than random"
RELEARN_FACTOR = 2      # "relearns in at most half the gold standard's steps"
MIA_Z = 2               # standard errors of a difference of two advantages


def heavy_lifting(acc_largest, acc_random, chance=CHANCE, near=NEAR_CHANCE, gap=HEAVY_GAP):
    """*A relatively small number of parameters do all the heavy lifting.*

    Statistic: test accuracy after removing the 20,000 largest-MAAV weights of each middle
    layer (``acc_largest``) and 20,000 random ones (``acc_random``), no retraining; one entry
    per seed. Rule: "held" if every seed ends within ``near`` of chance (below 0.2); "partly
    held" if not, but on every seed the largest cost at least ``gap`` (5 points) more than
    random; "did not hold" if on no seed either holds; "depends on the seed" otherwise.
    """
    a, r = np.asarray(acc_largest, float), np.asarray(acc_random, float)
    if a.shape != r.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"acc_largest and acc_random must be 1-D and of one length (one entry "
                         f"per seed); got shapes {a.shape} and {r.shape}")
    at_chance = a < chance + near
    matters = r - a >= gap
    n = a.size
    if at_chance.all():
        return f"held: within {100 * near:.0f} points of chance on all {n} seeds"
    if matters.all():
        return (f"partly held: on all {n} seeds they cost at least {100 * gap:.0f} points more than random "
                f"weights, but the network keeps {a.min():.0%} to {a.max():.0%}: not all the "
                f"heavy lifting")
    if not (at_chance | matters).any():
        return f"did not hold: on none of {n} seeds do they cost {100 * gap:.0f} points more than random"
    return (f"depends on the seed: they matter on {int((at_chance | matters).sum())} of "
            f"{n} seeds")


def not_just_large_weights(acc_maav, acc_magnitude):
    """*The heavy lifters are not just the large weights.*

    Statistic: test accuracy after removing the k largest weights of each middle layer by MAAV
    (``acc_maav``) and by |w| (``acc_magnitude``), arrays (seeds, ks) at matched k (the
    chapter's k from 1,000 to 100,000). MAAV "costs more" where its accuracy is lower. Rule:
    "held" if it costs more at every k on every seed; "partly held" if on every seed it costs
    more at some k but not at all; "did not hold" if at no k on any seed; "depends on the
    seed" otherwise (some seeds never).
    """
    m, w = np.asarray(acc_maav, float), np.asarray(acc_magnitude, float)
    if m.shape != w.shape or m.ndim != 2 or m.size == 0:
        raise ValueError(f"acc_maav and acc_magnitude must be 2-D (seeds, ks) of one shape; got "
                         f"{m.shape} and {w.shape}")
    ahead = m < w
    seeds, ks = m.shape
    if ahead.all():
        return f"held: MAAV's choice costs more at every k on all {seeds} seeds"
    if ahead.any(axis=1).all():
        return (f"partly held: MAAV's choice costs more at {int(ahead.sum())} of "
                f"{ahead.size} (seed, k) pairs, the largest magnitudes' at the others")
    if not ahead.any():
        return (f"did not hold: the largest magnitudes cost at least as much at every k on all "
                f"{seeds} seeds")
    return (f"depends on the seed: MAAV's choice costs more on {int(ahead.any(axis=1).sum())} "
            f"of {seeds} seeds")


def relearning_tells(steps_method, steps_gold, factor=RELEARN_FACTOR):
    """*Relearning tells forgetting from never learning.*

    Statistic: fine-tuning steps until the forgotten class is back (``forget.relearn``: more
    than 90% of its test images, the other classes within 1 point of their start), after the
    method (``steps_method``) and for the gold standard trained without the class
    (``steps_gold``), one entry per seed (None: not within the run's steps, counted as
    infinite). Rule: "held" if on every seed the method's network relearns in at most
    1/``factor`` of the gold standard's steps; "did not hold" if on no seed; "depends on the
    seed" otherwise.
    """
    inf = float("inf")
    s = np.array([inf if v is None else float(v) for v in steps_method])
    g = np.array([inf if v is None else float(v) for v in steps_gold])
    if s.shape != g.shape or s.size == 0:
        raise ValueError(f"steps_method and steps_gold must have one entry per seed; got "
                         f"{s.size} and {g.size}")
    faster = (s * factor <= g) & np.isfinite(s)
    if faster.all():
        return (f"held: the forgotten class comes back at least {factor} times faster than "
                f"the gold standard learns it, on all {s.size} seeds")
    if not faster.any():
        return (f"did not hold: on none of {s.size} seeds does it come back {factor} times "
                f"faster than the gold standard learns it")
    return f"depends on the seed: {factor} times faster on {int(faster.sum())} of {s.size} seeds"


def membership_like_gold(adv_method, adv_gold, se, z=MIA_Z):
    """*Membership inference sees the forgotten class as the gold standard does.*

    Statistic: the membership-inference advantage (``forget.membership_advantage``: training
    against test images of the forgotten class) after the method and for the gold standard,
    one entry per seed; ``se``: the standard error of one advantage. Their difference is
    compared with ``z`` standard errors of a difference (``z * sqrt(2) * se``). Rule: "held"
    (like the gold standard) if within on every seed; "did not hold" if above on every seed
    (the attacker still tells the forgotten training images apart); "depends on the seed"
    otherwise.
    """
    a, g = np.asarray(adv_method, float), np.asarray(adv_gold, float)
    if a.shape != g.shape or a.ndim != 1 or a.size == 0:
        raise ValueError(f"adv_method and adv_gold must be 1-D, one entry per seed; got shapes "
                         f"{a.shape} and {g.shape}")
    if not np.isfinite(se) or se <= 0:
        raise ValueError(f"se must be a positive number; got {se!r}")
    tol = z * np.sqrt(2) * se
    within = np.abs(a - g) <= tol
    if within.all():
        return f"held: within {tol:.3f} of the gold standard's advantage on all {a.size} seeds"
    if (a - g > tol).all():
        return (f"did not hold: above the gold standard's advantage by more than {tol:.3f} on "
                f"all {a.size} seeds")
    return f"depends on the seed: within {tol:.3f} of the gold standard on {int(within.sum())} of {a.size} seeds"
