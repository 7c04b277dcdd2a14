"""Building Sparana and Linear Quadratic Models at the blog's scale (targets 1-6)."""
import dataclasses
import hashlib
import time

import numpy as np
from scipy.stats import binomtest, t as student_t
from tqdm.auto import tqdm

import sparana_lite as sl
from sparana_lite import attacks
from sparana_lite.paths import cache_dir

from . import common
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
    4: {"experiment": "lq-vs-sce-seeds", "claim": "LQ beats SCE in test accuracy, on MNIST and "
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


# --- Target 4 with its uncertainty: LQ against SCE on disjoint seeds, paired per seed ---------

COMPARE_SEEDS = (0, 1, 2, 3, 4)       # five disjoint seeds at the book's size
BLOG_COMPARE_SEEDS = (0, 1, 2)        # the blog-sized runs
SWEEP_LRS = (3e-5, 1e-4, 3e-4)        # SCE's own learning rates, around the LQ recipe's 1e-4
SWEEP_SEED = 100                      # a seed no comparison uses
VALIDATION = 5_000                    # the last 5,000 training images (TensorFlow's 55k/5k split)
N_BOOTSTRAP = 10_000


def correct_bits(model, data):
    """Which test images ``model`` classifies correctly, as a hex string of packed bits
    (``np.packbits``, 10,000 images -> 2,500 characters), so a results file holds them."""
    return np.packbits(model.predict(data.x_test) == data.y_test).tobytes().hex()


def unpack_bits(hex_bits, n):
    """The inverse of :func:`correct_bits`: a bool array of ``n`` images."""
    return np.unpackbits(np.frombuffer(bytes.fromhex(hex_bits), dtype=np.uint8))[:n].astype(bool)


def mcnemar_p(b, c):
    """McNemar's exact test: the two-sided binomial p-value of ``b`` against ``c`` discordant
    images under "either model is as likely to be the one that is right" (p = 0.5)."""
    return 1.0 if b + c == 0 else float(binomtest(int(b), int(b + c), 0.5).pvalue)


def paired_difference(lq_right, sce_right, n_bootstrap=N_BOOTSTRAP, seed=0):
    """The paired comparison of two models on the same test images.

    ``lq_right``, ``sce_right``: bool arrays (n_images,). Returns both accuracies, the
    difference in points (100 * (LQ - SCE)), the discordant counts ``lq_only`` (LQ right, SCE
    wrong) and ``sce_only``, McNemar's exact p-value, the standard error of the difference over
    test images (points) and a 95% bootstrap interval over test images (points; resampling
    images is a multinomial draw over the three kinds of image: LQ only, SCE only, the rest).
    """
    lq_right, sce_right = np.asarray(lq_right, bool), np.asarray(sce_right, bool)
    n = len(lq_right)
    b = int(np.sum(lq_right & ~sce_right))
    c = int(np.sum(~lq_right & sce_right))
    draws = np.random.default_rng(seed).multinomial(n, [b / n, c / n, 1 - (b + c) / n],
                                                    size=n_bootstrap)
    boot = 100 * (draws[:, 0] - draws[:, 1]) / n
    return {"lq_accuracy": float(lq_right.mean()), "sce_accuracy": float(sce_right.mean()),
            "difference": round(100 * (b - c) / n, 6), "lq_only": b, "sce_only": c, "n_images": n,
            "mcnemar_p": mcnemar_p(b, c),
            "image_se": round(float(100 * np.sqrt(b + c - (b - c) ** 2 / n) / n), 6),
            "image_interval": floats(np.percentile(boot, [2.5, 97.5]), 4)}


def across_seeds(lq_right, sce_right, n_bootstrap=N_BOOTSTRAP, seed=0):
    """The mean paired difference over seeds (points) and its 95% intervals.

    ``lq_right``, ``sce_right``: bool arrays (seeds, n_images). ``seed_interval`` is the t
    interval over seeds (how much the difference moves from one pair of trainings to the next,
    on this test set); ``image_interval`` a bootstrap over test images of the mean over seeds
    (how much it would move on another test set of the same size, these models fixed). Both
    compare the same 10,000 test images, so the two are different sources of error.
    """
    d = 100 * (np.asarray(lq_right, float) - np.asarray(sce_right, float))   # (seeds, images)
    per_seed = d.mean(axis=1)
    k, n = d.shape
    mean, sd = float(per_seed.mean()), float(per_seed.std(ddof=1))
    half = float(student_t.ppf(0.975, k - 1) * sd / np.sqrt(k))
    # the mean over seeds of one image takes one of 2k + 1 values: resample images by category
    values, counts = np.unique(d.mean(axis=0), return_counts=True)
    draws = np.random.default_rng(seed).multinomial(n, counts / n, size=n_bootstrap)
    boot = draws @ values / n
    return {"seeds": k, "mean": mean, "sd": sd, "min": float(per_seed.min()),
            "max": float(per_seed.max()), "lq_ahead": int(np.sum(per_seed > 0)),
            "seed_interval": floats([mean - half, mean + half], 4),
            "image_interval": floats(np.percentile(boot, [2.5, 97.5]), 4)}


def compare(pairs, data):
    """Per seed and across seeds, for ``pairs`` = [(seed, lq_model, sce_model), ...]."""
    rows, bits = [], {"lq": [], "sce": []}
    for seed, lq_model, sce_model in pairs:
        right = {"lq": lq_model.predict(data.x_test) == data.y_test,
                 "sce": sce_model.predict(data.x_test) == data.y_test}
        rows.append({"seed": seed, **paired_difference(right["lq"], right["sce"], seed=seed),
                     "lq_correct": correct_bits(lq_model, data),
                     "sce_correct": correct_bits(sce_model, data)})
        for head in bits:
            bits[head].append(right[head])
    return {"per_seed": rows, "across_seeds": across_seeds(bits["lq"], bits["sce"])}


def lr_name(lr):
    return f"sce-mnist-lr{lr:.0e}"


def sce_config(lr):
    """The zoo configuration of SCE trained with learning rate ``lr`` (the rest as the blog's)."""
    base = sl.zoo.CONFIGS["sce-mnist"]
    if lr == base.optimizer["lr"]:
        return "sce-mnist"
    config = dataclasses.replace(base, optimizer={**base.optimizer, "lr": lr},
                                 description=f"sce-mnist with Adam learning rate {lr:g}")
    sl.zoo.register(lr_name(lr), config)
    return lr_name(lr)


for _lr in SWEEP_LRS:   # registered on import, so their cached models are found by name
    sce_config(_lr)


MNIST_TRAIN = 60_000   # MNIST's training images: the sweep trains on the first 55,000


def _sweep_tag(lr, seed, steps, n_train=MNIST_TRAIN):
    return sl.zoo.key(sce_config(lr), seed, steps) + f"-first-{n_train - VALIDATION}"


def sweep_path(lr, seed=SWEEP_SEED, steps=None, n_train=MNIST_TRAIN):
    """Where :func:`sweep_model` caches SCE with learning rate ``lr`` (``n_train``: the
    training images of the data set it is trained on, all but the last 5,000)."""
    steps = sl.zoo.CONFIGS["sce-mnist"].default_steps if steps is None else steps
    digest = hashlib.sha256(_sweep_tag(lr, seed, steps, n_train).encode()).hexdigest()[:16]
    return cache_dir() / "models" / f"sce-sweep-lr{lr:.0e}-seed{seed}-{steps}steps-{digest}.npz"


def sweep_model(lr, seed=SWEEP_SEED, steps=None):
    """SCE with learning rate ``lr`` trained on the first 55,000 training images only, cached
    beside the zoo's models (keyed like them, with the split in the key)."""
    name = sce_config(lr)
    config = sl.zoo.CONFIGS[name]
    steps = config.default_steps if steps is None else steps
    data = dataset("sce-mnist")
    tag = _sweep_tag(lr, seed, steps, len(data.y_train))
    file = sweep_path(lr, seed, steps, len(data.y_train))
    if file.exists():
        model = sl.MLP.load(file)
        if model.metadata.get("key") == tag:
            return model, False
    x, y = data.x_train[:-VALIDATION], data.y_train[:-VALIDATION]
    model = sl.MLP(list(config.widths), head=config.head, activation=config.activation, seed=seed)
    start = time.perf_counter()
    sl.train(model, x, y, optimizer=config.make_optimizer(), steps=steps,
             batch_size=config.batch_size, seed=seed, progress=True)
    model.metadata = {"key": tag, "lr": lr, "seed": seed, "steps": steps,
                      "train_seconds": round(time.perf_counter() - start, 2)}
    file.parent.mkdir(parents=True, exist_ok=True)
    model.save(file)
    return model, True


def sce_lr_sweep(lrs=SWEEP_LRS, seed=SWEEP_SEED, steps=None):
    """The fairness control's sweep: SCE at each learning rate, trained on the first 55,000
    training images, scored on the last 5,000 (never on the test set). The rule, fixed before
    the run: the learning rate with the highest validation accuracy is SCE's."""
    data = dataset("sce-mnist")
    xv, yv = data.x_train[-VALIDATION:], data.y_train[-VALIDATION:]
    rows = []
    for lr in tqdm(lrs, desc="SCE learning-rate sweep", leave=False):
        model, trained = sweep_model(lr, seed, steps)
        rows.append({"lr": lr, "validation_accuracy": model.accuracy(xv, yv),
                     "train_seconds": model.metadata["train_seconds"], "trained_by_this_run": trained})
    best = max(rows, key=lambda r: r["validation_accuracy"])["lr"]
    return {"seed": seed, "steps": steps or sl.zoo.CONFIGS["sce-mnist"].default_steps,
            "train_images": len(data.y_train) - VALIDATION, "validation_images": VALIDATION,
            "runs": rows, "chosen_lr": best}


def lq_vs_sce_seeds(seeds=COMPARE_SEEDS, steps=None, sweep=True, sweep_steps=None):
    """Target 4 with its uncertainty: LQ (the blog's recipe) against SCE on disjoint seeds,
    paired per seed (same initial weights and batches); per seed both accuracies, the
    discordant test images, McNemar's exact test and a bootstrap over test images; across
    seeds the mean difference with a t interval over seeds and a bootstrap over images. Then
    the fairness control: SCE at the learning rate its own validation sweep chose, on the same
    seeds against the same LQ models."""
    data = dataset("lq-mnist")
    lq_models = {s: zoo_model("lq-mnist", s, steps) for s in tqdm(seeds, desc="LQ models", leave=False)}
    sce_models = {s: zoo_model("sce-mnist", s, steps) for s in tqdm(seeds, desc="SCE models", leave=False)}
    out = {"steps": lq_models[seeds[0]].metadata["steps"], "seeds": list(seeds),
           "recipe": dict(sl.zoo.CONFIGS["lq-mnist"].optimizer),
           "blog_recipe": compare([(s, lq_models[s], sce_models[s]) for s in seeds], data)}
    if sweep:
        out["sweep"] = sce_lr_sweep(steps=sweep_steps)
        lr = out["sweep"]["chosen_lr"]
        tuned = {s: zoo_model(sce_config(lr), s, steps)
                 for s in tqdm(seeds, desc=f"SCE models, lr {lr:g}", leave=False)}
        out["tuned"] = {"lr": lr, **compare([(s, lq_models[s], tuned[s]) for s in seeds], data)}
    return out


def lq_vs_sce_20000():
    """The same paired comparison for the blog-sized models (20,000 steps, seeds 0-2, the blog's
    recipe for both heads); trains the six models if they are not cached (about 8 minutes each
    on 2 quiet cores)."""
    return lq_vs_sce_seeds(BLOG_COMPARE_SEEDS, BLOG_STEPS, sweep=False)


EXPERIMENTS["lq-vs-sce-seeds"] = lq_vs_sce_seeds
EXPERIMENTS["lq-vs-sce-20000"] = lq_vs_sce_20000


# --- the models each experiment loads, declared before it runs (scripts/reproduce.py --jobs)

def _lr_of(n):
    return sl.zoo.CONFIGS[n.name].optimizer["lr"]


# the sweep's models are tasks of the graph too: kind "sce-sweep" (common.Need)
common.KINDS["sce-sweep"] = {
    "path": lambda n: sweep_path(_lr_of(n), n.seed, n.steps),
    "train": lambda n: sweep_model(_lr_of(n), n.seed, n.steps)}


def chosen_lr(lrs=SWEEP_LRS, seed=SWEEP_SEED, steps=None):
    """The learning rate :func:`sce_lr_sweep` would choose, from the cached sweep models, or
    None while any of them is not cached."""
    if not all(sweep_path(lr, seed, steps).exists() for lr in lrs):
        return None
    data = dataset("sce-mnist")
    xv, yv = data.x_train[-VALIDATION:], data.y_train[-VALIDATION:]
    scores = [(sl.MLP.load(sweep_path(lr, seed, steps)).accuracy(xv, yv), lr) for lr in lrs]
    return max(scores, key=lambda s: s[0])[1]    # the first of equals, as max() in the sweep


def heads_models(seeds, sizes):
    return [common.need(f"{head}-mnist", seed, steps)
            for steps in sizes for seed in seeds for head in HEADS]


def lq_vs_sce_models(seeds=COMPARE_SEEDS, steps=None, sweep=True, sweep_steps=None):
    """lq_vs_sce_seeds' models: LQ and SCE of every seed, the sweep's three, and SCE at the
    chosen learning rate (chosen from the sweep's models once they are cached: until then
    every candidate is optional, and the experiment trains the chosen ones itself)."""
    out = heads_models(seeds, (steps,))
    if sweep:
        out += [common.need(sce_config(lr), SWEEP_SEED, sweep_steps, kind="sce-sweep")
                for lr in SWEEP_LRS]
        chosen = chosen_lr(steps=sweep_steps)
        out += [common.need(sce_config(lr), s, steps, optional=lr != chosen)
                for lr in SWEEP_LRS for s in seeds]
    return out


MODELS = {
    "lq-sce-mnist": lambda: heads_models(SEEDS, (None, BLOG_STEPS)),
    "attacks-lq-sce": lambda: heads_models(SEEDS, (None, BLOG_STEPS)),
    "lq-mnist-20000": lambda: [common.need("lq-mnist", 0, BLOG_STEPS)],
    "lq-vs-sce-seeds": lq_vs_sce_models,
    "lq-vs-sce-20000": lambda: lq_vs_sce_models(BLOG_COMPARE_SEEDS, BLOG_STEPS, sweep=False),
}

# a cheaper call of each experiment for the tests' tiny networks (where the real one is slow)
TINY = {"lq-sce-mnist": lambda: lq_sce_mnist(seeds=(0, 1)),
        "attacks-lq-sce": lambda: attack_sweep(seeds=(0,), n=50),
        "lq-vs-sce-seeds": lambda: lq_vs_sce_seeds(seeds=(0, 1, 2), sweep_steps=20)}
