"""Building Sparana and Linear Quadratic Models at the blog's scale (targets 1-6)."""
import numpy as np
from tqdm.auto import tqdm

import sparana_lite as sl
from sparana_lite import attacks

from .common import BLOG_STEPS, SEEDS, dataset, floats, zoo_model

HEADS = ("lq", "sce")


def near_0_or_1(values, tol=0.1):
    """Fraction of values within ``tol`` of 0 or 1."""
    return float(np.mean((np.abs(values) <= tol) | (np.abs(values - 1) <= tol)))


def head_summary(model, data):
    """What the chapters measure about one trained model: accuracy, training curve, outputs."""
    z = model.logits(data.x_test)
    is_true = np.zeros(z.shape, dtype=bool)
    is_true[np.arange(len(data.y_test)), data.y_test] = True
    out = {"test_accuracy": model.accuracy(data.x_test, data.y_test),
           "train_seconds": model.metadata.get("train_seconds"),
           "history": model.metadata.get("history")}
    if model.head == "lq":
        out.update(near_0_or_1=near_0_or_1(z), true_median=float(np.median(z[is_true])),
                   off_median_abs=float(np.median(np.abs(z[~is_true]))),
                   p1_p99=floats(np.percentile(z, [1, 99])))
    else:
        out.update(prob_near_0_or_1=near_0_or_1(sl.model.softmax(z)),
                   logit_min_max=floats([z.min(), z.max()]),
                   p1_p99=floats(np.percentile(z, [1, 99])))
    return out


def exact_shrinking(model, data, ratio=0.9):
    """Target 3: prune every hidden layer by MAAV to ``ratio``, then remove dead neurons and
    convert to CSR; how far the outputs move (they should not, beyond float32 rounding)."""
    pruned = sl.prune.prune(model, sl.prune.maav(model, data.x_train[:2000]), ratio=ratio)
    shrunk = sl.remove_activations(pruned)
    sparse = pruned.to_sparse()
    z = pruned.logits(data.x_test)
    scale = float(np.abs(z).max())
    return {"ratio": ratio, "widths_before": list(pruned.widths), "widths_after": list(shrunk.widths),
            "max_abs_diff_removed": float(np.abs(shrunk.logits(data.x_test) - z).max()),
            "max_abs_diff_csr": float(np.abs(sparse.logits(data.x_test) - z).max()),
            "output_scale": scale,
            "accuracy": [pruned.accuracy(data.x_test, data.y_test),
                         shrunk.accuracy(data.x_test, data.y_test),
                         sparse.accuracy(data.x_test, data.y_test)]}


def lq_sce_mnist(seeds=SEEDS, sizes=(None, BLOG_STEPS)):
    """LQ and SCE, book-sized and blog-sized, three seeds: accuracy (with the training curve),
    output values, and the exactness of removing neurons and converting to CSR."""
    data = dataset("lq-mnist")
    runs = []
    for steps in sizes:
        for seed in tqdm(seeds, desc=f"LQ and SCE, {steps or 'default'} steps", leave=False):
            entry = {"seed": seed}
            for head in HEADS:
                model = zoo_model(f"{head}-mnist", seed, steps)
                entry["steps"] = model.metadata["steps"]
                entry[head] = head_summary(model, data)
                if head == "lq" and seed == seeds[0]:
                    entry["lq"]["shrinking"] = exact_shrinking(model, data)
                    entry["lq"]["train10"] = {
                        "labels": [int(v) for v in data.y_train[:10]],
                        "outputs": [floats(row, 4) for row in model.logits(data.x_train[:10])]}
            runs.append(entry)
    return {"runs": runs}


STRENGTHS = (0.0, 0.05, 0.1, 0.2, 0.3)
N_ATTACK = 1000


def attack_sweep(seeds=SEEDS, sizes=(None, BLOG_STEPS), strengths=STRENGTHS, n=N_ATTACK):
    """Target 6: the LQ chapter's attacks on book- and blog-sized models. Random noise and FGSM
    (own loss, margin) on every seed, PGD (own loss, margin, targeted) on the first; success
    rate and the detection AUCs of :data:`sparana_lite.attacks.SCORES`, on ``n`` test images."""
    data = dataset("lq-mnist")
    pick = np.sort(np.random.default_rng(seeds[0]).choice(len(data.y_test), n, replace=False))
    x, y = data.x_test[pick], data.y_test[pick]
    runs = {
        "noise": (lambda m, seed, s: attacks.noise(x, s, seed=seed), seeds),
        "FGSM, loss": (lambda m, seed, s: attacks.fgsm(m, x, y, s), seeds),
        "FGSM, margin": (lambda m, seed, s: attacks.fgsm(m, x, y, s, objective="margin"), seeds),
        **{f"PGD, {o}": (lambda m, seed, s, o=o: attacks.pgd(m, x, y, s, objective=o), seeds[:1])
           for o in ("loss", "margin", "target")},
    }
    out = []
    for steps in sizes:
        for name, (run, run_seeds) in tqdm(runs.items(), desc=f"attacks, {steps or 'default'} steps",
                                           leave=False):
            for head in HEADS:
                for seed in run_seeds:
                    model = zoo_model(f"{head}-mnist", seed, steps)
                    rows = [attacks.evaluate(model, x, run(model, seed, s), y, min_fooled=20)
                            for s in strengths]
                    out.append({"attack": name, "head": head, "seed": seed,
                                "steps": model.metadata["steps"], "strengths": list(strengths),
                                "success": floats([r["success_rate"] for r in rows]),
                                "auc": {k: floats([r["auc"][k] for r in rows])
                                        for k in attacks.SCORES}})
    return {"n_images": n, "runs": out}


EXPERIMENTS = {
    "lq-sce-mnist": lq_sce_mnist,
    "attacks-lq-sce": attack_sweep,
}

TARGETS = {
    1: {"experiment": "lq-sce-mnist", "claim": "The LQ 784-1000-800-400-10 model reaches about "
        "98.5% MNIST test accuracy", "blog": "0.9848 (Demo-Model.ipynb)"},
    2: {"experiment": "lq-sce-mnist", "claim": "LQ outputs cluster near 1 for the true class and "
        "near 0 otherwise", "blog": "true class about 1, others about ±0.02"},
    3: {"experiment": "lq-sce-mnist", "claim": "Removing dead neurons and converting to CSR leave "
        "the outputs unchanged", "blog": "inferred (exact by construction)"},
    4: {"experiment": "lq-sce-mnist", "claim": "LQ beats SCE in test accuracy, on MNIST and "
        "Fashion-MNIST", "blog": "\"in the order of 0.5%\""},
    5: {"experiment": "lq-sce-mnist", "claim": "SCE pre-softmax values span a wide range, LQ "
        "outputs sit at 0 or 1", "blog": "\"-4 to 13 in one case\""},
    6: {"experiment": "attacks-lq-sce", "claim": "LQ models are harder to fool with noise, and "
        "fooled LQ outputs are detectable", "blog": "stated, no numbers (posts lost)"},
}


def lq_mnist_20000():
    """Building Sparana's blog-length run: the LQ model after 20,000 steps, seed 0."""
    data = dataset("lq-mnist")
    model = zoo_model("lq-mnist", 0, BLOG_STEPS)
    out_test = model.output(data.x_test)
    is_true = np.zeros(out_test.shape, dtype=bool)
    is_true[np.arange(len(data.y_test)), data.y_test] = True
    return {
        "zoo": "lq-mnist", "seed": 0, "steps": BLOG_STEPS,
        "train_seconds": model.metadata.get("train_seconds"),
        "test_accuracy": model.accuracy(data.x_test, data.y_test),
        "class_accuracy": floats(model.class_accuracy(data.x_test, data.y_test)),
        "train10_labels": [int(v) for v in data.y_train[:10]],
        "train10_outputs": [floats(row, 5) for row in model.output(data.x_train[:10])],
        "test_median_true_class": float(np.median(out_test[is_true])),
        "test_median_abs_off_class": float(np.median(np.abs(out_test[~is_true]))),
    }


EXPERIMENTS["lq-mnist-20000"] = lq_mnist_20000

# a cheaper call of each experiment for the tests' tiny networks (where the real one is slow)
TINY = {"lq-sce-mnist": lambda: lq_sce_mnist(seeds=(0, 1)),
        "attacks-lq-sce": lambda: attack_sweep(seeds=(0,), n=50)}
