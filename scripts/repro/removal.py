"""The Removing Activations series at the blog's scale (targets 10 and 16-19).

Each experiment runs a chapter's schedule, with the chapter's grids and rules, on the
book-sized models (the zoo's CI-sized default steps) and on the blog-sized ones (20,000 Adam
steps), so that the appendix can put the two side by side:

- ``removal-lq-mnist`` (target 16, *Removing Activations*): MAAV pruning of 784-1000-800-400-10
  in one shot and step by step, then ``remove_activations``; widths and accuracy.
- ``removal-control`` (target 19, *Removing Activations, Control*): the same in one shot for the
  six criteria of :mod:`sparana_lite.schedule` (MAAV, |w|, random, activation rank, APoZ, group
  norm); widths and accuracy at equal size.
- ``removal-timing`` (target 10, *Removing Activations* section 3 and ``benchmarks/removal.py``):
  forward time at batch 1,000 of the pruned model (dense with zeros, and CSR) and of the shrunk
  one, at several sparsities, against the unpruned dense model timed in the same run; on one
  thread by CPU time (the *Sparsity* chapter's clock) and on every thread by wall time.
- ``removal-1000x3`` (target 17, *Part 2*): 784-1000-1000-1000-10, step by step, output layer
  spared (the original code) and pruned.
- ``removal-longboy`` (target 18, *Longboy*): 784-6x1000-10, step by step, every layer pruned.
- ``removal-speed`` (target 10's verdict): speed at an accuracy a user would keep. For MAAV, |w|
  and random scores, three book-sized seeds: the smallest one-shot-shrunk model within 0.5 and 1
  point of the unpruned accuracy, with and without fine-tuning, and its one-thread speed-ups
  (shrunk, CSR, masked twin as the null control) at batch 1 and 1,000, with the machine's load.
- ``removal-triangle-controls`` (targets 17 and 18 against controls): the Part 2 / Longboy
  schedule with |w|, random scores and the group score at MAAV's ``prune_last`` setting, and
  with the output layer spared; which layer shrinks first under each.
- ``removal-liu`` (*Removing Activations* section 2): Liu et al. at equal nonzeros.
"""
import os

import numpy as np
from tqdm.auto import tqdm

import sparana_lite as sl

from .common import BLOG_STEPS, SEEDS, dataset, floats, need, zoo_model

SIZES = (None, BLOG_STEPS)   # the book's CI-sized steps, the blog's
N_SCORE = 2000               # MAAV and APoZ on the first 2,000 training images (every chapter)
EXACT_TOL = 1e-5             # removal is exact: output change <= 1e-5 x max(1, output scale)

# Removing Activations (target 16)
AMOUNTS = [0.3, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97]
STEP, N_STEPS = 0.2, 14      # 20% of the remaining weights per step; 1 - 0.8**14: 96% gone
AT_16 = 0.2                  # widths compared at a fifth of the parameters left
# Removing Activations, Control (target 19)
WEIGHT_AMOUNTS = [0.5, 0.7, 0.8, 0.9, 0.95, 0.97, 0.99]
NEURON_AMOUNTS = [0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
CONTROL_SIZES = [0.6, 0.4, 0.3]    # accuracy compared at these fractions of the dense size
CONTROL_N_TEST = 5000
# Is it faster? (target 10)
TIMING_SPARSITIES = [0.5, 0.8, 0.9, 0.95, 0.97]
TIMING_BATCH, TIMING_REPEATS = 1000, 15
# Part 2 (target 17) and Longboy (target 18)
AT_17 = 0.15
AT_18 = [0.5, 0.3, 0.15, 0.08]
N_TEST_DEEP = 2000           # part 2 and longboy measure accuracy on 2,000 test images


def sizes_of(name, sizes):
    """``{"book": steps, "blog": steps}`` of the sizes asked for (None: the CI-sized default)."""
    config = sl.zoo.CONFIGS[name]
    labels = ["book" if s is None else "blog" for s in sizes]
    return {label: config.default_steps if s is None else s for label, s in zip(labels, sizes)}


def max_relative_change(run):
    """The largest output change removal caused over a run's steps, relative to the outputs."""
    return max(c / max(1.0, s) for c, s in zip(run.max_output_change, run.output_scale))


def curve(run):
    """A :class:`sparana_lite.schedule.RemovalRun` as JSON: one entry per record (record 0 is
    the unpruned model)."""
    return {"amount": floats(run.amount), "widths": [list(map(int, w)) for w in run.widths],
            "size_left": floats(run.size_left), "dense_size_left": floats(run.dense_size_left),
            "accuracy": floats(run.accuracy),
            "max_relative_change": float(f"{max_relative_change(run):.3g}")}


def rounded(value, digits=6):
    """``round(value, digits)``, None kept (an interpolation outside a run's range)."""
    return None if value is None else round(float(value), digits)


# ----------------------------------------------------------------------------- target 16

def removal_lq_mnist(seeds=SEEDS, sizes=SIZES, amounts=AMOUNTS, step=STEP, n_steps=N_STEPS):
    """Target 16: MAAV pruning of every layer but the output layer, one-shot to each of
    ``amounts`` and iterative (``step`` of the remaining weights, ``n_steps`` times), then
    ``remove_activations``; the widths of the three hidden layers and the test accuracy (10,000
    images) after every step, as the *Removing Activations* chapter does."""
    data = dataset("lq-mnist")
    x_score = data.x_train[:N_SCORE]
    runs = []
    for steps in sizes:
        for seed in tqdm(seeds, desc=f"removal, {steps or 'default'} steps", leave=False):
            model = zoo_model("lq-mnist", seed, steps)
            schedules = {
                "one-shot": sl.schedule.one_shot(model, "maav", amounts, x_score, data.x_test,
                                                 data.y_test),
                "iterative": sl.schedule.iterative(model, "maav", step, n_steps, x_score,
                                                   data.x_test, data.y_test)}
            entry = {"seed": seed, "steps": model.metadata["steps"],
                     "widths": list(model.widths),
                     "base_accuracy": rounded(schedules["one-shot"].accuracy[0])}
            for name, run in schedules.items():
                entry[name] = {**curve(run), "kept_at": floats(run.widths_at(AT_16)),
                               "accuracy_at": rounded(run.accuracy_at(AT_16))}
            runs.append(entry)
    return {"sizes": sizes_of("lq-mnist", sizes), "criterion": "maav", "amounts": list(amounts),
            "step": step, "n_steps": n_steps, "at": AT_16, "n_score": N_SCORE,
            "n_test": int(len(data.y_test)), "exact_tol": EXACT_TOL, "runs": runs}


# ----------------------------------------------------------------------------- target 19

def removal_control(seeds=SEEDS, sizes=SIZES, criteria=sl.schedule.CRITERIA,
                    weight_amounts=WEIGHT_AMOUNTS, neuron_amounts=NEURON_AMOUNTS,
                    n_test=CONTROL_N_TEST):
    """Target 19: the *Control* chapter's one-shot removal for each criterion (weight criteria:
    target sparsity of every layer but the output layer; neuron criteria: fraction of the hidden
    neurons), accuracy on the first ``n_test`` test images, and the accuracy at equal dense
    size (``CONTROL_SIZES``, interpolated; None where a run never got that small)."""
    data = dataset("lq-mnist")
    x_score = data.x_train[:N_SCORE]
    x_test, y_test = data.x_test[:n_test], data.y_test[:n_test]
    runs = []
    for steps in sizes:
        for seed in tqdm(seeds, desc=f"control, {steps or 'default'} steps", leave=False):
            model = zoo_model("lq-mnist", seed, steps)
            entry = {"seed": seed, "steps": model.metadata["steps"], "widths": list(model.widths),
                     "criteria": {}}
            for c in tqdm(criteria, desc="criteria", leave=False):
                amounts = weight_amounts if c in sl.schedule.WEIGHT_CRITERIA else neuron_amounts
                run = sl.schedule.one_shot(model, c, amounts, x_score, x_test, y_test, seed=seed)
                at = [run.accuracy_at(s, by="dense") for s in CONTROL_SIZES]
                entry["criteria"][c] = {**curve(run),
                                        "accuracy_at_dense": [rounded(a) for a in at]}
            runs.append(entry)
    return {"sizes": sizes_of("lq-mnist", sizes), "criteria": list(criteria),
            "weight_criteria": [c for c in criteria if c in sl.schedule.WEIGHT_CRITERIA],
            "weight_amounts": list(weight_amounts), "neuron_amounts": list(neuron_amounts),
            "compare_at_dense_size": CONTROL_SIZES, "n_score": N_SCORE, "n_test": int(n_test),
            "exact_tol": EXACT_TOL, "runs": runs}


# ----------------------------------------------------------------------------- target 10

def cpu_seconds(models, x, repeats, warmup=2):
    """CPU seconds of every call of ``model.logits(x)``, on one thread (BLAS and numba), the
    models taking turns in every round: the *Sparsity* chapter's measurement
    (``time_family``). The clock is the process's CPU time, so time spent waiting for a core
    on a busy machine is not counted."""
    import time

    import numba
    from threadpoolctl import threadpool_limits

    threads = numba.get_num_threads()
    times = {name: [] for name in models}
    try:
        numba.set_num_threads(1)
        with threadpool_limits(limits=1):
            for m in models.values():
                for _ in range(warmup):
                    m.logits(x)
            for _ in range(repeats):
                for name, m in models.items():
                    start = time.process_time()
                    m.logits(x)
                    times[name].append(time.process_time() - start)
    finally:
        numba.set_num_threads(threads)
    return times


def removal_timing(seed=0, sizes=SIZES, sparsities=TIMING_SPARSITIES, batch=TIMING_BATCH,
                   repeats=TIMING_REPEATS):
    """Target 10: forward time (``model.logits``, batch ``batch``) of the lq-mnist model pruned
    by MAAV to each sparsity (every layer but the output layer), as dense matrices full of zeros
    ("masked"), in CSR and shrunk by ``remove_activations`` (dense), against the unpruned dense
    model timed in the same run, the models taking turns. Two clocks:

    - ``cpu``: one thread, the process's CPU time (:func:`cpu_seconds`, the *Sparsity*
      chapter's measurement), which a busy machine disturbs least; the verdicts use it;
    - ``wall``: every thread, wall-clock (``sl.cost.forward_times``, the *Removing Activations*
      chapter's and ``benchmarks/removal.py``'s measurement).

    Speed-ups are t(dense) / t(model) from the medians (and from the fastest calls) of
    ``repeats`` calls. Times depend on the machine and its load, so only the ratios are kept,
    with the load average around the measurement and ``load`` (``sl.cost.MachineLoad``: other
    processes' CPU share, and ``busy``) around the CPU-clock timing. On a busy machine the
    wall clock measures the scheduler: a two-thread call ends when its second thread gets a
    core, on the scheduler's tick, so identical computations snap to the same multiple of it
    (the masked model's constant 0.6575 in the file measured in December 2026)."""
    import numba

    data = dataset("lq-mnist")
    x_score, x = data.x_train[:N_SCORE], data.x_test[:batch]
    kinds = ("masked", "csr", "shrunk")
    out = []
    for steps in sizes:
        model = zoo_model("lq-mnist", seed, steps)
        scores = sl.prune.maav(model, x_score)
        models, widths = {"dense": model}, {}
        for s in sparsities:
            pruned = sl.prune.prune(model, scores, ratio=s)
            shrunk = sl.remove_activations(pruned).to_dense()
            models[f"masked {s}"], models[f"csr {s}"] = pruned, pruned.to_sparse()
            models[f"shrunk {s}"] = shrunk
            widths[s] = list(shrunk.widths)
        ref = {s: models[f"masked {s}"].logits(x) for s in sparsities}
        agree = max(float(np.abs(models[f"{kind} {s}"].logits(x) - ref[s]).max()
                          / max(1.0, float(np.abs(ref[s]).max())))
                    for s in sparsities for kind in ("csr", "shrunk"))
        load = [os.getloadavg()[0]]
        with sl.cost.MachineLoad() as machine:
            cpu = cpu_seconds(models, x, repeats)
        load.append(os.getloadavg()[0])
        wall = sl.cost.forward_times(models, x, batch_sizes=(batch,), repeats=repeats)
        load.append(os.getloadavg()[0])
        flops = wall.flop_ratios()

        def ratios(seconds):
            """{kind: [t(dense) / t(kind at s) for s in sparsities]} from {name: seconds}."""
            return {k: floats([seconds["dense"] / seconds[f"{k} {s}"] for s in sparsities], 4)
                    for k in kinds}

        out.append({"seed": seed, "steps": model.metadata["steps"],
                    "dense_widths": list(model.widths),
                    "shrunk_widths": [widths[s] for s in sparsities],
                    "max_relative_difference": float(f"{agree:.3g}"),
                    "flop_ratio": {k: floats([flops[f"{k} {s}"] for s in sparsities], 4)
                                   for k in kinds},
                    "cpu": {"speedup_median": ratios({n: np.median(t) for n, t in cpu.items()}),
                            "speedup_fastest": ratios({n: np.min(t) for n, t in cpu.items()}),
                            "dense_spread": round(float(np.percentile(cpu["dense"], 90)
                                                        / np.median(cpu["dense"])), 3)},
                    "wall": {"speedup_median": ratios(wall.seconds[batch]),
                             "speedup_fastest": ratios(wall.fastest[batch]),
                             "threads": numba.get_num_threads()},
                    "load_average_1min": floats(load, 2),
                    # around the CPU-clock timing: other processes' share of the CPU, and
                    # whether the machine was busy (then re-measure on a quiet one)
                    "load": machine.as_dict()})
    return {"sizes": sizes_of("lq-mnist", sizes), "criterion": "maav",
            "sparsities": list(sparsities),
            "batch": batch, "repeats": repeats,
            "clocks": {"cpu": "one thread, process CPU time, models in turn (Sparsity chapter)",
                       "wall": "all threads, wall clock, sl.cost.forward_times (Removing "
                               "Activations chapter, benchmarks/removal.py)"},
            "runs": out}


# ------------------------------------------------------------------- targets 17 and 18

def deep_runs(name, seeds, sizes, prune_last_options, at, blog_seeds=(0,)):
    """``sl.schedule.zoo_runs``'s iterative MAAV removal (step 0.2, 14 steps, 2,000 scoring and
    2,000 test images) on zoo model ``name``: book-sized for ``seeds``, blog-sized for
    ``blog_seeds``, once per ``prune_last`` option; the widths kept at each size in ``at``."""
    data = dataset(name)
    x_score = data.x_train[:N_SCORE]
    x_test, y_test = data.x_test[:N_TEST_DEEP], data.y_test[:N_TEST_DEEP]
    runs = []
    for k, steps in enumerate(sizes):
        size_seeds = seeds if k == 0 else [s for s in seeds if s in blog_seeds]
        for seed in tqdm(size_seeds, desc=f"{name}, {steps or 'default'} steps", leave=False):
            model = zoo_model(name, seed, steps)
            for prune_last in prune_last_options:
                run = sl.schedule.iterative(model, "maav", STEP, N_STEPS, x_score, x_test, y_test,
                                            seed=seed, prune_last=prune_last)
                runs.append({"seed": seed, "steps": model.metadata["steps"],
                             "widths0": list(model.widths), "prune_last": prune_last,
                             "base_accuracy": rounded(run.accuracy[0]), **curve(run),
                             "kept_at": {str(a): floats(run.widths_at(a)) for a in at},
                             "accuracy_at": {str(a): rounded(run.accuracy_at(a)) for a in at},
                             "first_when_third_half": rounded(run.width_when(0, 2, 0.5))})
    return runs


def removal_1000x3(seeds=SEEDS, sizes=(None,), blog_seeds=(0,)):
    """Target 17 (*Removing Activations Part 2*): 784-1000-1000-1000-10, MAAV step by step,
    output layer spared (the original code) and pruned; book-sized seeds 0-2 (``removal-1000x3``),
    or with ``sizes=(BLOG_STEPS,)`` the blog-sized seed 0 (``removal-1000x3-20000``, its own
    experiment: the model trains for about 10 minutes on 2 cores)."""
    runs = deep_runs("lq-mnist-1000x3", seeds, sizes, (False, True), [AT_17], blog_seeds)
    return {"sizes": sizes_of("lq-mnist-1000x3", sizes), "step": STEP, "n_steps": N_STEPS,
            "at": AT_17, "n_score": N_SCORE, "n_test": N_TEST_DEEP, "exact_tol": EXACT_TOL,
            "fashion_mnist": "not available here", "runs": runs}


def removal_longboy(seeds=SEEDS, sizes=(None,), blog_seeds=(0,)):
    """Target 18 (*Removing Activations Longboy*): 784-6x1000-10, MAAV step by step, every layer
    pruned; book-sized seeds 0-2 (``removal-longboy``), or with ``sizes=(BLOG_STEPS,)`` the
    blog-sized seed 0 (``removal-longboy-20000``, its own experiment: the model trains for about
    20 minutes on 2 cores)."""
    runs = deep_runs("lq-mnist-longboy", seeds, sizes, (True,), AT_18, blog_seeds)
    return {"sizes": sizes_of("lq-mnist-longboy", sizes), "step": STEP, "n_steps": N_STEPS,
            "at": AT_18, "at_main": AT_17, "n_score": N_SCORE, "n_test": N_TEST_DEEP,
            "exact_tol": EXACT_TOL, "runs": runs}


# ------------------------------------------------------- targets 17 and 18: the controls

# (label, criterion, prune_last) of every schedule the triangle is compared across
TRIANGLE_SCHEDULES = (("maav", "maav", True), ("magnitude", "magnitude", True),
                      ("random", "random", True), ("group_norm", "group_norm", True),
                      ("maav, output spared", "maav", False),
                      ("magnitude, output spared", "magnitude", False),
                      ("random, output spared", "random", False))
SHRINK_LEVEL = 0.9           # a layer "has started to shrink" once it has lost 10% of its neurons


def size_when_shrinks(run, level=SHRINK_LEVEL):
    """For each hidden layer, the fraction of nonzero parameters left when the layer first falls
    to ``level`` of its width (interpolated between records; None if it never does)."""
    wf, size = run.width_fractions, run.size_left
    out = []
    for i in range(wf.shape[1]):
        below = np.flatnonzero(wf[:, i] <= level)
        if below.size == 0:
            out.append(None)
            continue
        k = int(below[0])
        if k == 0:
            out.append(1.0)
            continue
        w0, w1 = wf[k - 1, i], wf[k, i]
        t = (w0 - level) / (w0 - w1) if w0 != w1 else 1.0
        out.append(round(float(size[k - 1] + t * (size[k] - size[k - 1])), 6))
    return out


def first_to_shrink(sizes):
    """1-based index of the hidden layer that loses ``SHRINK_LEVEL`` first (at the largest size
    left), None if none does; ties go to the earlier layer."""
    known = [(s, -i) for i, s in enumerate(sizes) if s is not None]
    return None if not known else 1 - max(known)[1]


def triangle_controls(name, seeds=SEEDS, schedules=TRIANGLE_SCHEDULES, at=AT_17):
    """The Part 2 / Longboy schedule (iterative, 20% a step, 14 steps; 2,000 scoring and 2,000
    test images) on zoo model ``name`` for every (criterion, ``prune_last``) in ``schedules``
    and every seed: the hidden widths kept at ``at`` of the nonzero parameters, the size at
    which each layer has lost 10% of its neurons, and which layer does so first. Neuron
    criteria (``group_norm``) take 20% of the hidden neurons a step; ``prune_last`` does not
    apply to them."""
    data = dataset(name)
    x_score = data.x_train[:N_SCORE]
    x_test, y_test = data.x_test[:N_TEST_DEEP], data.y_test[:N_TEST_DEEP]
    runs = []
    for seed in tqdm(seeds, desc=f"{name} controls", leave=False):
        model = zoo_model(name, seed)
        for label, criterion, prune_last in schedules:
            run = sl.schedule.iterative(model, criterion, STEP, N_STEPS, x_score, x_test, y_test,
                                        seed=seed, prune_last=prune_last)
            sizes = size_when_shrinks(run)
            runs.append({"seed": seed, "schedule": label, "criterion": criterion,
                         "prune_last": prune_last, "steps": model.metadata["steps"],
                         "base_accuracy": rounded(run.accuracy[0]), **curve(run),
                         "kept_at": floats(run.widths_at(at)),
                         "accuracy_at": rounded(run.accuracy_at(at)),
                         "size_when_shrinks": sizes, "first_to_shrink": first_to_shrink(sizes)})
    return {"model": name, "widths": list(sl.zoo.CONFIGS[name].widths),
            "steps": sl.zoo.CONFIGS[name].default_steps, "step": STEP, "n_steps": N_STEPS,
            "at": at, "shrink_level": SHRINK_LEVEL, "n_score": N_SCORE, "n_test": N_TEST_DEEP,
            "schedules": [{"label": l, "criterion": c, "prune_last": p} for l, c, p in schedules],
            "exact_tol": EXACT_TOL, "runs": runs}


def removal_triangle_controls(seeds=SEEDS):
    """Targets 17 and 18 against controls: :func:`triangle_controls` on the book-sized
    1000-1000-1000 (*Part 2*) and six-layer (*Longboy*) models, seeds 0-2."""
    return {name: triangle_controls(name, seeds)
            for name in ("lq-mnist-1000x3", "lq-mnist-longboy")}


# ---------------------------------------------------- target 10: speed at kept accuracy

SPEED_CRITERIA = ("maav", "magnitude", "random")
SPEED_AMOUNTS = [0.2, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
SPEED_SEEDS = (3, 1, 2)      # three independent book-sized lq-mnist models (in the order the
                             # zoo cache got them on the machine that ran this)
SPEED_BATCHES = (1, 1000)
SPEED_REPEATS = 5
FINE_TUNE_STEPS = 100        # Adam (the blog's lr 1e-4, eps 1e-3), batch 250, zeros kept zero
BANDS = (0.005, 0.01)        # "within 0.5 and 1 point of the unpruned accuracy"
TWINS = ("shrunk", "csr", "masked")
NULL_MARGIN = 1.1            # the masked twin multiplies as many numbers as the original: its
                             # median speed-up must lie in [1/1.1, 1.1] or the timing is refused


def smallest_within(accuracy, base, band):
    """Index of the largest amount (the smallest model) whose accuracy is at least
    ``base - band``; None when no pruned model is that close (only the original qualifies)."""
    ok = [i for i, a in enumerate(accuracy) if a >= base - band - 1e-12]
    return max(ok) if ok else None


def speed_run(model, criterion, amounts, x_score, data, seed, fine_tune_steps, batches, repeats):
    """One model and criterion: prune one shot to every amount (every layer but the output
    layer), remove activations, measure accuracy (10,000 test images) before and after
    ``fine_tune_steps`` of training, and time the shrunk model, its CSR and masked twins and the
    dense original on one thread (:func:`sparana_lite.cost.cpu_call_seconds`)."""
    x_test, y_test = data.x_test, data.y_test
    base = float(model.accuracy(x_test, y_test))
    timed = {"dense": model}
    acc, widths, nonzero, shrunks = [], [], [], []
    for a in amounts:
        pruned = sl.schedule.prune_step(model, criterion, a, x_score, seed)
        shrunk = sl.remove_activations(pruned)
        acc.append(float(shrunk.accuracy(x_test, y_test)))
        widths.append(list(map(int, shrunk.widths)))
        nonzero.append(int(shrunk.n_parameters()))
        shrunks.append(shrunk)
        timed[f"shrunk {a}"] = shrunk.to_dense()
        timed[f"csr {a}"] = pruned.to_sparse()
        timed[f"masked {a}"] = pruned
    # fine-tuning where it can change the answer: from the first amount that leaves the
    # narrowest band without it, upward, until a model stays below the widest band even after it
    acc_ft = [None] * len(amounts)
    first = smallest_within(acc, base, min(BANDS))
    for i in range(0 if first is None else first + 1, len(amounts)):
        tuned = shrunks[i].copy()
        sl.train(tuned, data.x_train, data.y_train, optimizer=sl.Adam(lr=1e-4, eps=1e-3),
                 steps=fine_tune_steps, batch_size=250, seed=seed, progress=False)
        acc_ft[i] = float(tuned.accuracy(x_test, y_test))
        if acc_ft[i] < base - max(BANDS):
            break
    # a model not fine-tuned keeps its accuracy without fine-tuning (it was already in the
    # narrowest band, or a smaller amount had already failed the widest band after tuning)
    best = [a if f is None else max(a, f) for a, f in zip(acc, acc_ft)]
    x = data.x_test[:max(batches)]
    with sl.cost.MachineLoad() as load:
        times = sl.cost.cpu_call_seconds(timed, x, batch_sizes=batches, repeats=repeats,
                                         seed=seed)
    med = {b: {n: float(np.median(t)) for n, t in times[b].items()} for b in batches}
    flops = {n: sl.cost.flops_per_sample(m) for n, m in timed.items()}
    speedup = {str(b): {k: floats([med[b]["dense"] / med[b][f"{k} {a}"] for a in amounts], 4)
                        for k in TWINS} for b in batches}
    spread = {str(b): round(float(np.percentile(times[b]["dense"], 90)
                                  / np.median(times[b]["dense"])), 3) for b in batches}
    null = [s for b in batches for s in speedup[str(b)]["masked"]]
    kept = {}
    for budget, accuracy in (("none", acc), ("fine-tuned", best)):
        kept[budget] = {}
        for band in BANDS:
            i = smallest_within(accuracy, base, band)
            entry = {"index": i, "amount": None if i is None else amounts[i],
                     "accuracy": None if i is None else round(accuracy[i], 4)}
            for k in ("shrunk", "csr"):
                entry[k] = {"flop_ratio": 1.0 if i is None else
                            round(flops["dense"] / flops[f"{k} {amounts[i]}"], 4),
                            **{f"speedup_b{b}": 1.0 if i is None else speedup[str(b)][k][i]
                               for b in batches}}
            kept[budget][str(band)] = entry
    return {"seed": seed, "criterion": criterion, "base_accuracy": round(base, 4),
            "accuracy": floats(acc, 4),
            "accuracy_fine_tuned": [None if f is None else round(f, 4) for f in acc_ft],
            "widths": widths, "nonzero": nonzero,
            "flop_ratio": {k: floats([flops["dense"] / flops[f"{k} {a}"] for a in amounts], 4)
                           for k in TWINS},
            "speedup": speedup, "dense_seconds": {str(b): med[b]["dense"] for b in batches},
            "dense_spread": spread,
            "null_control": {"masked_speedup_range": floats([min(null), max(null)], 4),
                             "ok": bool(1 / NULL_MARGIN <= min(null) and max(null) <= NULL_MARGIN)},
            "load": load.as_dict(), "kept": kept}


def removal_speed(seeds=SPEED_SEEDS, criteria=SPEED_CRITERIA, amounts=SPEED_AMOUNTS,
                  fine_tune_steps=FINE_TUNE_STEPS, batches=SPEED_BATCHES, repeats=SPEED_REPEATS):
    """Target 10 at an accuracy a user would keep: for each criterion and seed (book-sized
    lq-mnist, 5,000 steps), one-shot pruning to ``amounts`` then removal; accuracy without and
    with ``fine_tune_steps`` of fine-tuning (only where it can change the answer: from the first
    amount outside the 0.5-point band upward, until a model stays outside the 1-point band after
    fine-tuning; ``accuracy_fine_tuned`` is None elsewhere) against the one-thread forward time (CPU clock,
    batch 1 and 1,000, median of ``repeats``) of the shrunk dense model, its CSR and masked
    twins, relative to the dense original timed in the same run. For each budget and band
    (0.5 and 1 point) the smallest model whose accuracy stays within the band, with its
    speed-ups and FLOP ratios. The machine's load is recorded around every timing
    (``load.busy`` flags a busy one), and the masked twin, which multiplies as many numbers
    as the original, is the null control (``null_control.ok``)."""
    data = dataset("lq-mnist")
    x_score = data.x_train[:N_SCORE]
    runs = []
    for seed in seeds:
        model = zoo_model("lq-mnist", seed)
        for c in tqdm(criteria, desc=f"speed, seed {seed}", leave=False):
            runs.append(speed_run(model, c, amounts, x_score, data, seed, fine_tune_steps,
                                  batches, repeats))
    return {"model": "lq-mnist", "steps": sl.zoo.CONFIGS["lq-mnist"].default_steps,
            "criteria": list(criteria), "amounts": list(amounts),
            "fine_tune": {"steps": fine_tune_steps, "optimizer": "Adam lr 1e-4 eps 1e-3",
                          "batch": 250, "note": "pruned weights stay zero"},
            "batches": list(batches), "repeats": repeats, "bands": list(BANDS),
            "clock": "one thread (BLAS and numba), process CPU time, models in a random order "
                     "in every repeat (sl.cost.cpu_call_seconds)",
            "null_margin": NULL_MARGIN, "n_test": int(len(data.y_test)), "runs": runs}


# ------------------------------------------------ Liu et al. at equal nonzeros (chapter 2)

LIU_SPARSITY = 0.9           # the chapter's one-shot MAAV model at 90% sparsity
LIU_BUDGETS = (300,)         # training steps after removal (the chapter's); Liu et al.'s full
                             # budget (the original's 5,000) did not fit the shared machine
LIU_SEEDS = (0, 3, 1)        # three independent book-sized lq-mnist models


def removal_liu(seeds=LIU_SEEDS, sparsity=LIU_SPARSITY, budgets=LIU_BUDGETS):
    """Liu et al. (ICLR 2019) at equal nonzeros, on the book-sized lq-mnist model: MAAV prunes
    every layer but the output layer to ``sparsity`` (one shot) and removal shrinks it; then,
    for each training budget, four networks are trained with the blog's Adam (batch 250):

    - ``inherited``: the shrunk model's own weights (pruned weights stay zero);
    - ``same zeros, fresh``: the same widths and zero pattern, a fresh initialisation (the same
      nonzero count);
    - ``dense, equal nonzeros``: a dense network whose hidden widths are the shrunk ones scaled
      by one factor so that its weights and biases match the shrunk model's nonzeros;
    - ``dense, shrunk widths``: a dense network of the shrunk widths (many more nonzeros).

    Accuracy on the 10,000 test images; the fresh networks are seeded by the model's seed."""
    data = dataset("lq-mnist")
    x_score = data.x_train[:N_SCORE]
    runs = []
    for seed in seeds:
        model = zoo_model("lq-mnist", seed)
        pruned = sl.prune.prune(model, sl.prune.maav(model, x_score), ratio=sparsity)
        shrunk = sl.remove_activations(pruned)
        n_nonzero = int(shrunk.n_parameters())
        equal = sl.schedule.scaled_widths(shrunk.widths, n_nonzero)
        entry = {"seed": seed, "base_accuracy": rounded(model.accuracy(data.x_test, data.y_test), 4),
                 "shrunk_widths": list(map(int, shrunk.widths)), "equal_widths": equal,
                 "accuracy_before": rounded(shrunk.accuracy(data.x_test, data.y_test), 4),
                 "budgets": {}}
        for steps in tqdm(budgets, desc=f"Liu, seed {seed}", leave=False):
            nets = {"inherited": shrunk.copy(),
                    "same zeros, fresh": sl.MLP(shrunk.widths, seed=seed).with_masks(
                        [W != 0 for W in shrunk.weights]),
                    "dense, equal nonzeros": sl.MLP(equal, seed=seed),
                    "dense, shrunk widths": sl.MLP(shrunk.widths, seed=seed)}
            out = {}
            for name, net in nets.items():
                sl.train(net, data.x_train, data.y_train, optimizer=sl.Adam(lr=1e-4, eps=1e-3),
                         steps=steps, batch_size=250, seed=seed, progress=False)
                out[name] = {"nonzero": int(net.n_parameters()),
                             "accuracy": rounded(net.accuracy(data.x_test, data.y_test), 4)}
            entry["budgets"][str(steps)] = out
        runs.append(entry)
    return {"model": "lq-mnist", "steps": sl.zoo.CONFIGS["lq-mnist"].default_steps,
            "criterion": "maav", "sparsity": sparsity, "budgets": list(budgets),
            "optimizer": "Adam lr 1e-4 eps 1e-3, batch 250", "n_test": int(len(data.y_test)),
            "runs": runs}


EXPERIMENTS = {
    "removal-lq-mnist": removal_lq_mnist,
    "removal-control": removal_control,
    "removal-timing": removal_timing,
    "removal-1000x3": removal_1000x3,
    "removal-1000x3-20000": lambda: removal_1000x3(seeds=(0,), sizes=(BLOG_STEPS,)),
    "removal-longboy": removal_longboy,
    "removal-longboy-20000": lambda: removal_longboy(seeds=(0,), sizes=(BLOG_STEPS,)),
    "removal-triangle-controls": removal_triangle_controls,
    "removal-speed": removal_speed,
    "removal-liu": removal_liu,
}

# the models each experiment loads, declared before it runs (scripts/reproduce.py --jobs)
MODELS = {
    "removal-lq-mnist": lambda: [need("lq-mnist", s, st) for st in SIZES for s in SEEDS],
    "removal-control": lambda: [need("lq-mnist", s, st) for st in SIZES for s in SEEDS],
    "removal-timing": lambda: [need("lq-mnist", 0, st) for st in SIZES],
    "removal-1000x3": lambda: [need("lq-mnist-1000x3", s) for s in SEEDS],
    "removal-1000x3-20000": lambda: [need("lq-mnist-1000x3", 0, BLOG_STEPS)],
    "removal-longboy": lambda: [need("lq-mnist-longboy", s) for s in SEEDS],
    "removal-longboy-20000": lambda: [need("lq-mnist-longboy", 0, BLOG_STEPS)],
    "removal-triangle-controls": lambda: [need(name, s) for name in ("lq-mnist-1000x3",
                                                                    "lq-mnist-longboy")
                                          for s in SEEDS],
    "removal-speed": lambda: [need("lq-mnist", s) for s in SPEED_SEEDS],
    "removal-liu": lambda: [need("lq-mnist", s) for s in LIU_SEEDS],
}
# experiments that time code: with --jobs they run alone, when nothing else is running, with
# every core of their machine (what the sequential run gives them)
EXCLUSIVE = ("removal-timing", "removal-speed")

TARGETS = {
    10: {"experiment": "removal-speed", "claim": "Zeros in a dense matrix still cost time; CSR "
         "pays only at high sparsity; removing activations makes the model faster (at an "
         "accuracy a user would keep)",
         "blog": "stated, no numbers (\"the 0 values still need to be processed\")"},
    16: {"experiment": "removal-lq-mnist", "claim": "Under MAAV pruning and removal the three "
         "hidden layers of 784-1000-800-400-10 lose activations at different rates",
         "blog": "stated, no numbers (figure lost)"},
    17: {"experiment": "removal-1000x3", "claim": "1000-1000-1000 shrinks into a triangle (first "
         "layer widest), on MNIST closer together; on FMNIST the first layer is nearly whole "
         "when the third has lost half", "blog": "two figures (lost); \"barely changed\" at "
         "\"almost half\" (FMNIST)"},
    18: {"experiment": "removal-longboy", "claim": "In a deeper equal-width model the layers "
         "shrink at different rates", "blog": "index line only (post lost)"},
    19: {"experiment": "removal-control", "claim": "Control: pruning by |w| or at random, then "
         "removing, against MAAV (widths and accuracy at equal size)",
         "blog": "unfinished post, no numbers"},
}

# a cheaper call of each experiment for the tests' tiny networks (where the real one is slow)
TINY = {
    "removal-triangle-controls": lambda: removal_triangle_controls(seeds=SEEDS[:1]),
    "removal-speed": lambda: removal_speed(seeds=SPEED_SEEDS[:1], repeats=1, fine_tune_steps=5),
    "removal-liu": lambda: removal_liu(seeds=LIU_SEEDS[:1]),   # the real budget: its key is in the file
}
