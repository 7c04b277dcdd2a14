"""Pruning, Sparsity and Mean Activated Absolute Values at the blog's scale (targets 7-9)."""
import numpy as np
from tqdm.auto import tqdm

import sparana_lite as sl
from sparana_lite.prune_explorer import prune_sweep

from .common import BLOG_STEPS, SEEDS, dataset, floats, need, zoo_model

PRUNE_RATIOS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
METHODS = ("magnitude", "maav", "random")


def prune_curves(name, seed, steps, methods, maav_samples=2_000):
    """Test accuracy of a zoo model pruned to each of ``PRUNE_RATIOS`` in every hidden layer
    (output layer spared, no retraining), computed as the Pruning chapter does: ``prune_sweep``,
    MAAV on ``maav_samples`` training images and random scores drawn with ``seed``."""
    model = zoo_model(name, seed, steps)
    data = dataset(name)
    sweep = prune_sweep(model, data, methods, PRUNE_RATIOS, layer=1, maav_samples=maav_samples,
                        seed=seed)
    return {"zoo": name, "seed": seed, "steps": model.metadata["steps"],
            "ratios": PRUNE_RATIOS, "unpruned": sweep["none", 0.0]["accuracy"],
            "accuracy": {m: [sweep[m, r]["accuracy"] for r in PRUNE_RATIOS] for m in methods}}


def prune_lq_mnist_20000():
    """The Pruning chapter's long-model comparison: the blog-length Adam model against the
    book's, seed 0, by magnitude and MAAV."""
    return {"models": [prune_curves("lq-mnist", 0, steps, ("magnitude", "maav"))
                       for steps in (BLOG_STEPS, None)]}


def prune_sgd_vs_adam_seeds():
    """The Pruning chapter's SGD (2019 demo) against Adam comparison, magnitude, seeds 0-2."""
    return {"models": [prune_curves(name, seed, None, ("magnitude",))
                       for seed in tqdm(SEEDS, desc="seeds", leave=False)
                       for name in ("lq-sgd-2019", "lq-mnist")]}


def prune_lq_mnist_seeds(seeds=SEEDS, sizes=(None, BLOG_STEPS)):
    """Target 8: accuracy against per-layer sparsity by magnitude, MAAV and random scores, for
    the book-sized and blog-sized Adam models of every seed."""
    return {"models": [prune_curves("lq-mnist", seed, steps, METHODS)
                       for steps in sizes for seed in tqdm(seeds, desc="seeds", leave=False)]}


BOOK_2019, BLOG_2019 = (None, 1_500), (100_000, 5_000)   # (training, retraining) steps


def sgd_2019(seed=0, sizes=(BOOK_2019,), ratio=0.8, eval_every=250):
    """Target 7, the 2019 demo: train the SGD model, prune ``ratio`` of every layer by |w| (the
    output layer too, as the demo did), then retrain it in CSR storage with the demo's SGD.
    ``sizes``: (training steps, retraining steps) pairs: the book's (``sgd-2019``), or the
    demo's (``sgd-2019-100000``, its own experiment: 100,000 steps take about 35 minutes on 2
    cores)."""
    data = dataset("lq-sgd-2019")
    config = sl.zoo.CONFIGS["lq-sgd-2019"]
    out = []
    for steps, retrain_steps in sizes:
        model = zoo_model("lq-sgd-2019", seed, steps)
        pruned = sl.prune.prune(model, sl.prune.magnitude(model), ratio=ratio, prune_last=True)
        spared = sl.prune.prune(model, sl.prune.magnitude(model), ratio=ratio)
        sparse = pruned.to_sparse()
        history = sl.train(sparse, data.x_train, data.y_train, optimizer=config.make_optimizer(),
                           steps=retrain_steps, batch_size=config.batch_size, seed=seed + 1,
                           eval_every=eval_every, eval_data=(data.x_test, data.y_test),
                           progress=True)
        out.append({"seed": seed, "steps": model.metadata["steps"], "retrain_steps": retrain_steps,
                    "trained": model.accuracy(data.x_test, data.y_test),
                    "pruned": pruned.accuracy(data.x_test, data.y_test),
                    "pruned_output_spared": spared.accuracy(data.x_test, data.y_test),
                    "retrained": sparse.accuracy(data.x_test, data.y_test),
                    "retrain_curve": {"steps": list(history.steps),
                                      "accuracy": floats(history.accuracy)},
                    "sparsity_kept": sparse.sparsity() == pruned.sparsity()})
    return {"ratio": ratio, "runs": out}


def maav_identity(model, x):
    """Target 9: MAAV from its definition, one sample at a time (mean_n |a_i^(n) W_ij|, as the
    original code did), against ``sl.prune.maav`` (|W| times the mean input): the largest
    relative difference per layer, and whether the inputs that are always 0 score 0."""
    acts = model.forward(model._check_x(x))
    fast = sl.prune.maav(model, x)
    rel, zero_rows_ok = [], []
    for W, a, S in zip(model.weights, acts[:-1], fast):
        slow = np.zeros(W.shape, dtype=np.float64)
        for row in a:
            slow += np.abs(row[:, None].astype(np.float64) * W)
        slow /= len(a)
        rel.append(float(np.abs(S - slow).max() / slow.max()))
        dead = np.all(a == 0, axis=0)
        zero_rows_ok.append({"inputs_always_zero": int(dead.sum()),
                             "their_maav_is_zero": bool(np.all(S[dead] == 0))})
    return {"samples": len(x), "max_relative_difference": rel, "always_zero_inputs": zero_rows_ok}


def maav_check(n=200, sizes=(None, BLOG_STEPS)):
    data = dataset("lq-mnist")
    return {"models": [{"steps": steps or sl.zoo.CONFIGS["lq-mnist"].default_steps, "seed": 0,
                        **maav_identity(zoo_model("lq-mnist", 0, steps), data.x_train[:n])}
                       for steps in sizes]}


EXPERIMENTS = {
    "prune-lq-mnist-20000": prune_lq_mnist_20000,
    "prune-sgd-vs-adam-seeds": prune_sgd_vs_adam_seeds,
    "prune-lq-mnist-seeds": prune_lq_mnist_seeds,
    "sgd-2019": sgd_2019,
    "sgd-2019-100000": lambda: sgd_2019(sizes=(BLOG_2019,)),
    "maav-identity": maav_check,
}

# the models each experiment loads, declared before it runs (scripts/reproduce.py --jobs)
MODELS = {
    "prune-lq-mnist-20000": lambda: [need("lq-mnist", 0, s) for s in (BLOG_STEPS, None)],
    "prune-sgd-vs-adam-seeds": lambda: [need(name, seed) for seed in SEEDS
                                        for name in ("lq-sgd-2019", "lq-mnist")],
    "prune-lq-mnist-seeds": lambda: [need("lq-mnist", seed, steps) for steps in (None, BLOG_STEPS)
                                     for seed in SEEDS],
    "sgd-2019": lambda: [need("lq-sgd-2019", 0, BOOK_2019[0])],
    "sgd-2019-100000": lambda: [need("lq-sgd-2019", 0, BLOG_2019[0])],
    "maav-identity": lambda: [need("lq-mnist", 0, s) for s in (None, BLOG_STEPS)],
}

TARGETS = {
    7: {"experiment": "sgd-2019", "claim": "Pruning 80% of an SGD-trained LQ model by |w| "
        "collapses it; 5,000 steps of sparse retraining recover much of it",
        "blog": "0.9833 → 0.6696 → 0.9138"},
    8: {"experiment": "prune-lq-mnist-seeds", "claim": "Adam-trained models lose no performance "
        "with more than 90% of the weights pruned", "blog": "\"more than 90%\""},
    9: {"experiment": "maav-identity", "claim": "MAAV = |W| × mean input; inputs that are always "
        "0 score 0", "blog": "inferred (exact)"},
}

# a cheaper call of each experiment for the tests' tiny networks (where the real one is slow):
# the 2019 demo's retraining, 20 steps instead of thousands
TINY = {"sgd-2019": lambda: sgd_2019(sizes=((BOOK_2019[0], 20),), eval_every=10),
        "sgd-2019-100000": lambda: sgd_2019(sizes=((BLOG_2019[0], 20),), eval_every=10)}
