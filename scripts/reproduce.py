"""Run the book's experiments at the blog's scale and write their results, with provenance, to
book/results/.

    make reproduce                                   # every experiment not yet done
    make reproduce JOBS=8                            # the same on 8 Dask worker processes
    .venv/bin/python scripts/reproduce.py lq-sce-mnist --force
    .venv/bin/python scripts/reproduce.py --list
    .venv/bin/python scripts/reproduce.py --scheduler tcp://HOST:8786   # an existing cluster
    .venv/bin/python scripts/reproduce.py --plan     # the task graph and its predicted time

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

``--jobs N`` (N > 1) or ``--scheduler ADDRESS`` run the same experiments as a task graph on
Dask distributed (:mod:`repro.graph`, :mod:`repro.cluster`): one training task per distinct
zoo model, shared by the experiments that need it, then each experiment once its models are
ready. The results files are written here, by this process, with the same numbers as the
sequential run's where the BLAS thread count is the same (each worker gets cores/N threads;
OpenBLAS splits a product by its thread count, which on some CPUs changes the last bits of a
trained model). ``--jobs 1`` (the default) runs them one after the other, as above.
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

from tqdm.auto import tqdm

from repro import common, forgetting, graph, lq, pruning, removal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "book" / "results"
SCHEMA = 2
MODULES = (lq, pruning, forgetting, removal)
EXPERIMENTS = {name: f for m in MODULES for name, f in m.EXPERIMENTS.items()}
# blog-notes.md's reproduction targets (1-19): which experiment measures each
TARGETS = {n: t for m in MODULES for n, t in m.TARGETS.items()}
# the task graph's declarations (repro.graph): the models each experiment loads, the results
# files it reads, and the experiments that time code (run alone)
MODELS = {name: f for m in MODULES for name, f in getattr(m, "MODELS", {}).items()}
READS = {name: r for m in MODULES for name, r in getattr(m, "READS", {}).items()}
EXCLUSIVE = tuple(name for m in MODULES for name in getattr(m, "EXCLUSIVE", ()))

cpu_name = common.cpu_name


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


def provenance(command, seconds, start, end, started, models=None, machine=None, date=None):
    """Where a result came from: the code (its state at the start and the end of the run), the
    machine and the libraries that computed it. ``models`` (default: what
    ``common.MODELS_USED`` recorded here), ``machine`` (default: this one, as
    ``common.machine()`` describes it) and ``date`` (default: now) are given when a Dask worker
    ran the experiment; the record then says which (``ran_on``)."""
    where = machine or {}
    record = {
        "commit": start["commit"],
        "uncommitted_changes": start["uncommitted_changes"],
        "changes_digest": start["changes_digest"],
        "code_changed_during_run": start != end,
        "code_at_end": end,
        "started": started,
        "date": date or now(),
        "cpu": where.get("cpu") or cpu_name(),
        "cores": where.get("cores") or os.cpu_count(),
        "python": where.get("python") or platform.python_version(),
        "versions": where.get("versions") or common.versions(),
        "command": command,
        "wall_seconds": round(seconds, 1),
        "models": list(common.MODELS_USED if models is None else models),
    }
    if machine is not None:
        record["ran_on"] = {k: v for k, v in machine.items()
                            if k not in ("cpu", "cores", "python", "versions")}
    return record


def shown(path):
    """``path`` relative to the repository where it is inside it."""
    try:
        return path.relative_to(ROOT)
    except ValueError:
        return path


def write_record(name, results, prov):
    """Write ``book/results/<name>.json`` (in :data:`RESULTS`) atomically; warn if the code
    changed while the experiment ran."""
    record = {"schema": SCHEMA, "experiment": name, "results": results, "provenance": prov}
    if prov["code_changed_during_run"]:
        state, end = prov, prov["code_at_end"]
        tqdm.write(f"WARNING {name}: the code changed while it ran (commit {state['commit'][:7]} "
                   f"-> {end['commit'][:7]}, uncommitted changes "
                   f"{state['changes_digest'] or 'none'} -> {end['changes_digest'] or 'none'}); "
                   f"the file records both states; run it again with the code unchanged")
    path = RESULTS / f"{name}.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n")
    tmp.replace(path)
    return path


def run(name, command):
    """Run one experiment and write its results file (see the module's docstring for what a
    change of the code during the run does)."""
    common.MODELS_USED.clear()
    state, started = code_state(), now()
    start = time.perf_counter()
    results = EXPERIMENTS[name]()
    seconds = time.perf_counter() - start
    write_record(name, results, provenance(command, seconds, state, code_state(), started))
    return seconds


def run_graph(names, command, jobs=1, scheduler=None, force=False):
    """Run ``names`` as a task graph on Dask (``jobs`` local worker processes, or the cluster
    at ``scheduler``); skips finished experiments unless ``force``. Returns the exit status."""
    from repro import cluster

    todo = [n for n in names if force or not (RESULTS / f"{n}.json").exists()]
    for name in names:
        if name not in todo:
            tqdm.write(f"{name}: done ({shown(RESULTS / f'{name}.json')}), skipped")
    if not todo:
        return 0
    g = graph.build(todo, MODELS, READS, EXCLUSIVE)
    states = {}

    def begin(name):
        states[name] = (code_state(), None)

    def finish(name, outcome):
        prov = provenance(command, outcome["seconds"], states[name][0], code_state(),
                          outcome["started"], models=outcome["models"],
                          machine=outcome["machine"], date=outcome["date"])
        path = write_record(name, outcome["results"], prov)
        trained = sum(m["train_seconds"] or 0 for m in outcome["models"]
                      if m["trained_by_this_run"])
        tqdm.write(f"{name}: {outcome['seconds']:.0f} s (of which training {trained:.0f} s) on "
                   f"{outcome['machine']['host']} -> {shown(path)}")

    try:
        with cluster.connect(jobs=jobs, scheduler=scheduler) as client:
            summary = cluster.run(client, g, EXPERIMENTS, MODELS, RESULTS, begin, finish,
                                  device=common.DEVICE)
    except cluster.VersionMismatch as e:
        print(f"reproduce.py: {e}", file=sys.stderr)
        return 2
    for what, error in summary["failed"].items():
        print(f"FAILED {what}: {error}", file=sys.stderr)
    return 1 if summary["failed"] else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", help="names (see --list); default: all")
    parser.add_argument("--force", action="store_true", help="re-run finished experiments")
    parser.add_argument("--list", action="store_true", help="list the experiments and stop")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"),
                        help="where to train the zoo models (the experiments run on the CPU)")
    parser.add_argument("--jobs", type=int, default=1, metavar="N",
                        help="Dask worker processes on this machine, each with cores/N BLAS and "
                             "numba threads (default 1: one experiment after the other, no Dask)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="run on the existing Dask cluster at ADDRESS (tcp://host:8786)")
    parser.add_argument("--results", metavar="DIR",
                        help="write (and read) the results files in DIR instead of book/results")
    parser.add_argument("--plan", action="store_true",
                        help="print the task graph of a run from an empty cache and its "
                             "predicted wall time, and stop")
    args = parser.parse_args(argv)
    common.DEVICE = args.device
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")
    if args.results:
        global RESULTS
        RESULTS = common.RESULTS = Path(args.results).expanduser().resolve()
    if args.plan:
        from repro import plan
        print(plan.report(RESULTS))
        return 0
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
    command = " ".join(["reproduce.py", *(sys.argv[1:] if argv is None else argv)])
    names = args.experiments or list(EXPERIMENTS)
    if args.jobs > 1 or args.scheduler:
        return run_graph(names, command, args.jobs, args.scheduler, args.force)
    for name in tqdm(names, desc="experiments", unit="experiment"):
        path = RESULTS / f"{name}.json"
        if path.exists() and not args.force:
            tqdm.write(f"{name}: done ({shown(path)}), skipped")
            continue
        seconds = run(name, command)
        trained = sum(m["train_seconds"] or 0 for m in common.MODELS_USED if m["trained_by_this_run"])
        tqdm.write(f"{name}: {seconds:.0f} s (of which training {trained:.0f} s) -> "
                   f"{shown(path)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
