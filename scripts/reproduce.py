"""Run the book's experiments at the blog's scale and write their results, with provenance, to
book/results/.

    make reproduce                                   # every experiment not yet done
    .venv/bin/python scripts/reproduce.py lq-sce-mnist --force
    .venv/bin/python scripts/reproduce.py --list

The chapters run CI-sized versions of the blog's experiments; this script runs them at the
blog's settings (20,000 Adam steps, three seeds, the 2019 demo's 100,000 SGD steps, ...), which
takes hours on a 2-core CPU (``--device cuda`` trains the models on an NVIDIA GPU). Each
experiment measures the book-sized and the blog-sized models
with the same code and writes one JSON file, ``book/results/<experiment>.json``: the numbers,
the zoo models it used (with their training time), and where they came from (commit, date, CPU,
library versions, command, wall time). The code's state (the commit, and a digest of any
uncommitted change to ``sparana_lite/`` and ``scripts/``) is read when an experiment starts and
again when it ends; if it changed in between, the file records both states and
``code_changed_during_run: true`` (the results came from no single version of the code; the
tests refuse such a file: run the experiment again). Finished experiments are skipped unless ``--force`` is
given, so an interrupted run resumes; trained models are cached by ``sparana_lite.zoo`` (in
``$SPARANA_LITE_CACHE``), so a re-run does not retrain them. The appendix "At the blog's scale"
reads the files; commit them.
"""
import argparse
from datetime import datetime, timezone
import hashlib
import json
import os
from pathlib import Path
import platform
import subprocess
import sys
import time

import numpy as np
from tqdm.auto import tqdm

from repro import common, forgetting, lq, pruning, removal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "book" / "results"
SCHEMA = 2
MODULES = (lq, pruning, forgetting, removal)
EXPERIMENTS = {name: f for m in MODULES for name, f in m.EXPERIMENTS.items()}
# blog-notes.md's reproduction targets (1-19): which experiment measures each
TARGETS = {n: t for m in MODULES for n, t in m.TARGETS.items()}


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


CODE = ("sparana_lite", "scripts")   # the folders whose state a results file records


def git(*args):
    return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True).stdout.strip()


def code_state():
    """The code an experiment runs: the commit checked out, whether :data:`CODE` has uncommitted
    changes (untracked files included, ignored ones not), and a digest of those changes (None
    when there are none), so that a change between two reads shows even in a tree that was
    already dirty."""
    status = git("status", "--porcelain", "--untracked-files=all", "--", *CODE)
    digest = None
    if status:
        h = hashlib.sha256(git("diff", "HEAD", "--binary", "--", *CODE).encode())
        for line in sorted(status.splitlines()):
            if line.startswith("??"):
                name = line[3:]
                h.update(name.encode())
                try:
                    h.update((ROOT / name).read_bytes())
                except OSError:
                    pass
        digest = h.hexdigest()
    return {"commit": git("rev-parse", "HEAD"), "uncommitted_changes": bool(status),
            "changes_digest": digest}


def now():
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def provenance(command, seconds, start, end, started):
    """Where a result came from: the code (its state at the start and the end of the run), the
    machine and the libraries that computed it."""
    import numba
    import scipy

    import sparana_lite as sl

    return {
        "commit": start["commit"],
        "uncommitted_changes": start["uncommitted_changes"],
        "changes_digest": start["changes_digest"],
        "code_changed_during_run": start != end,
        "code_at_end": end,
        "started": started,
        "date": now(),
        "cpu": cpu_name(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "versions": {"sparana_lite": sl.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "numba": numba.__version__},
        "command": command,
        "wall_seconds": round(seconds, 1),
        "models": list(common.MODELS_USED),
    }


def run(name, command):
    """Run one experiment and write its results file (see the module's docstring for what a
    change of the code during the run does)."""
    common.MODELS_USED.clear()
    state, started = code_state(), now()
    start = time.perf_counter()
    results = EXPERIMENTS[name]()
    seconds = time.perf_counter() - start
    record = {"schema": SCHEMA, "experiment": name, "results": results,
              "provenance": provenance(command, seconds, state, code_state(), started)}
    if record["provenance"]["code_changed_during_run"]:
        end = record["provenance"]["code_at_end"]
        tqdm.write(f"WARNING {name}: the code changed while it ran (commit {state['commit'][:7]} "
                   f"-> {end['commit'][:7]}, uncommitted changes "
                   f"{state['changes_digest'] or 'none'} -> {end['changes_digest'] or 'none'}); "
                   f"the file records both states; run it again with the code unchanged")
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", help="names (see --list); default: all")
    parser.add_argument("--force", action="store_true", help="re-run finished experiments")
    parser.add_argument("--list", action="store_true", help="list the experiments and stop")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where to train the zoo models (the experiments run on the CPU)")
    args = parser.parse_args()
    common.DEVICE = args.device
    if args.list:
        for name in EXPERIMENTS:
            targets = [str(n) for n, t in sorted(TARGETS.items()) if t["experiment"] == name]
            done = "done" if (RESULTS / f"{name}.json").exists() else "to run"
            print(f"{name:28} {done:7} targets {', '.join(targets) or '-'}")
        return 0
    unknown = set(args.experiments) - set(EXPERIMENTS)
    if unknown:
        parser.error(f"unknown experiments {sorted(unknown)}; choose from {sorted(EXPERIMENTS)}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    command = " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    names = args.experiments or list(EXPERIMENTS)
    for name in tqdm(names, desc="experiments", unit="experiment"):
        path = RESULTS / f"{name}.json"
        if path.exists() and not args.force:
            tqdm.write(f"{name}: done ({path.relative_to(ROOT)}), skipped")
            continue
        seconds = run(name, command)
        trained = sum(m["train_seconds"] or 0 for m in common.MODELS_USED if m["trained_by_this_run"])
        tqdm.write(f"{name}: {seconds:.0f} s (of which training {trained:.0f} s) -> "
                   f"{path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
