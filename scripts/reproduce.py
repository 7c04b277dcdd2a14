"""Run experiments at the blog's scale and write their results, with provenance, to book/results/.

    .venv/bin/python scripts/reproduce.py                       # every experiment not yet done
    .venv/bin/python scripts/reproduce.py lq-mnist-20000 --force

The chapters run CI-sized versions of the blog's experiments; this script runs the full-size
ones, which take minutes to hours on a CPU. Each experiment writes one JSON file,
``book/results/<experiment>.json``: the numbers a chapter quotes, and where they came from
(commit, date, CPU, library versions, command, wall time). Finished experiments are skipped
unless ``--force`` is given, so an interrupted run resumes. Commit the JSON files; the
chapters read them and label them as measured by this script.
"""
import argparse
from datetime import datetime, timezone
import json
from pathlib import Path
import platform
import subprocess
import sys
import time

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "book" / "results"
SCHEMA = 1


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def provenance(command, seconds):
    """Where a result came from: the code, the machine and the libraries that computed it."""
    import numba
    import scipy

    import sparana_lite as sl

    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "uncommitted_changes": bool(git("status", "--porcelain", "--", "sparana_lite")),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "cpu": cpu_name(),
        "cores": __import__("os").cpu_count(),
        "python": platform.python_version(),
        "versions": {"sparana_lite": sl.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "numba": numba.__version__},
        "command": command,
        "wall_seconds": round(seconds, 1),
    }


def zoo_model_summary(name, seed, steps):
    """Train (or load) a zoo model and measure what the chapters quote about it."""
    import sparana_lite as sl

    model = sl.zoo.trained(name, seed=seed, steps=steps)
    data = sl.zoo.load_dataset(sl.zoo.CONFIGS[name].dataset)
    out_train10 = model.output(data.x_train[:10])
    out_test = model.output(data.x_test)
    is_true = np.zeros(out_test.shape, dtype=bool)
    is_true[np.arange(len(data.y_test)), data.y_test] = True
    return {
        "zoo": name, "seed": seed, "steps": steps,
        "train_seconds": model.metadata.get("train_seconds"),
        "test_accuracy": model.accuracy(data.x_test, data.y_test),
        "class_accuracy": [float(a) for a in model.class_accuracy(data.x_test, data.y_test)],
        "train10_labels": [int(v) for v in data.y_train[:10]],
        "train10_outputs": out_train10.round(5).tolist(),
        "test_median_true_class": float(np.median(out_test[is_true])),
        "test_median_abs_off_class": float(np.median(np.abs(out_test[~is_true]))),
    }


PRUNE_RATIOS = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99]


def prune_curves(name, seed, steps, methods, maav_samples=2_000):
    """Test accuracy of a zoo model pruned to each of ``PRUNE_RATIOS`` in every hidden layer
    (output layer spared, no retraining), computed as the Pruning chapter does: ``prune_sweep``,
    MAAV on ``maav_samples`` training images and random scores drawn with ``seed``."""
    import sparana_lite as sl
    from sparana_lite.prune_explorer import prune_sweep

    model = sl.zoo.trained(name, seed=seed, steps=steps, progress=False)
    data = sl.zoo.load_dataset(sl.zoo.CONFIGS[name].dataset)
    sweep = prune_sweep(model, data, methods, PRUNE_RATIOS, layer=1, maav_samples=maav_samples,
                        seed=seed)
    return {"zoo": name, "seed": seed, "steps": model.metadata["steps"],
            "ratios": PRUNE_RATIOS, "unpruned": sweep["none", 0.0]["accuracy"],
            "accuracy": {m: [sweep[m, r]["accuracy"] for r in PRUNE_RATIOS] for m in methods}}


EXPERIMENTS = {
    "lq-mnist-20000": lambda: zoo_model_summary("lq-mnist", seed=0, steps=20_000),
    # the Pruning chapter: the blog-length Adam model against the book's, seed 0
    "prune-lq-mnist-20000": lambda: {"models": [
        prune_curves("lq-mnist", 0, steps, ("magnitude", "maav")) for steps in (20_000, None)]},
    # the Pruning chapter: SGD (2019 demo) against Adam by magnitude pruning, seeds 0, 1, 2
    "prune-sgd-vs-adam-seeds": lambda: {"models": [
        prune_curves(name, seed, None, ("magnitude",))
        for seed in (0, 1, 2) for name in ("lq-sgd-2019", "lq-mnist")]},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", help=f"some of {sorted(EXPERIMENTS)}; default all")
    parser.add_argument("--force", action="store_true", help="re-run finished experiments")
    args = parser.parse_args()
    unknown = set(args.experiments) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiments {sorted(unknown)}; choose from {sorted(EXPERIMENTS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    for name in args.experiments or sorted(EXPERIMENTS):
        path = RESULTS / f"{name}.json"
        if path.exists() and not args.force:
            print(f"{name}: done ({path.relative_to(ROOT)}), skipped")
            continue
        start = time.perf_counter()
        results = EXPERIMENTS[name]()
        seconds = time.perf_counter() - start
        record = {"schema": SCHEMA, "experiment": name, "results": results,
                  "provenance": provenance(" ".join([Path(sys.argv[0]).name, *sys.argv[1:]]), seconds)}
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1) + "\n")
        tmp.replace(path)
        print(f"{name}: {seconds:.0f} s -> {path.relative_to(ROOT)}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
