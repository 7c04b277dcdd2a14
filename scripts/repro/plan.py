"""The plan at scale: how long ``make reproduce`` takes from an empty cache on more cores.

From the measured times, :func:`predict` computes the critical path of the whole task graph
(:mod:`repro.graph`) and simulates its run on W workers (the scheduling of
:mod:`repro.cluster`: a ready experiment first, then the longest training task waiting; the
``EXCLUSIVE`` timing experiments last, one at a time, alone). :func:`report` prints it;
``reproduce.py --plan`` calls it; the appendix can call :func:`predict`.

The measurements:

- a model's training time: ``train_seconds`` of the models in the results files' provenance
  and in the model cache's metadata: the measured time of that configuration and number of
  steps (several measurements, of other seeds or of retrainings: their minimum, the machine
  at its quietest, or ``statistic="median"``); else the configuration's seconds per step
  (same statistic) times its steps; a configuration never measured is estimated from its
  multiply-adds per step (batch x sum of n_in x n_out) at the measured configurations' rate
  (their median, seconds per multiply-add);
- an experiment's own time: its ``wall_seconds`` less the training time of the models it
  trained itself (``trained_by_this_run``); one never run counts :data:`UNMEASURED` seconds.

The model of scaling (an assumption, stated so it can be checked):

- every worker gets :data:`CORES_PER_WORKER` = 2 cores and runs every task as fast as the
  measurements, which were all taken on a 2-core machine (the dev machine's Xeon). A training
  step of these networks (batch 150-250, layers of at most 1,500 neurons) does not scale much
  past a few cores: its BLAS products are small and the numba kernels have little parallel
  slack, so more cores per worker would mostly idle; more workers is what scales;
- workers on one machine do not slow each other (memory bandwidth and turbo clocks ignored:
  optimistic), and moving models and data between machines costs nothing (each model is
  about 10 MB);
- an ``EXCLUSIVE`` experiment (it times code) runs alone on the whole cluster, for as long as
  it took on the 2-core machine.
"""
from pathlib import Path
import heapq
import json
import statistics

import numpy as np

import sparana_lite as sl

from . import common, graph

CORES_PER_WORKER = 2
UNMEASURED = 60.0       # seconds counted for an experiment that has no results file yet
RESULTS = common.RESULTS


def macs_per_step(config):
    """Multiply-adds of one forward pass of a batch (the backward pass is about twice that)."""
    w = config.widths
    return config.batch_size * sum(a * b for a, b in zip(w[:-1], w[1:]))


def measured_models(results_dir=RESULTS, cache=True):
    """Every distinct measured training: ``{(name, seed, steps): train_seconds}`` (a later
    retraining of the same model, with another time, counts too), from the results files'
    provenance and, with ``cache``, the model cache's metadata."""
    seen = {}
    for f in sorted(Path(results_dir).glob("*.json")):
        for m in json.loads(f.read_text()).get("provenance", {}).get("models", []):
            if m.get("train_seconds") and m.get("device", "cpu") == "cpu":
                seen.setdefault((m["zoo"], m["seed"], m["steps"], m["train_seconds"]), None)
    if cache:
        from sparana_lite.paths import cache_dir
        for f in sorted((cache_dir() / "models").glob("*.npz")):
            try:
                with np.load(f, allow_pickle=False) as z:
                    meta = json.loads(str(z["meta"]))["metadata"]
            except (OSError, ValueError, KeyError):
                continue
            name = meta.get("zoo")
            if name is None and "lr" in meta:     # lq.sweep_model's: SCE at its learning rate
                from . import lq
                name = lq.sce_config(meta["lr"])
            if name and meta.get("train_seconds") and meta.get("device", "cpu") == "cpu":
                seen.setdefault((name, meta["seed"], meta["steps"], meta["train_seconds"]), None)
    return [{"name": k[0], "seed": k[1], "steps": k[2], "train_seconds": k[3]} for k in seen]


def step_seconds(measurements, statistic="min"):
    """Seconds per training step of each measured zoo configuration."""
    pick = min if statistic == "min" else statistics.median
    per = {}
    for m in measurements:
        per.setdefault(m["name"], []).append(m["train_seconds"] / m["steps"])
    return {name: pick(v) for name, v in per.items()}


def model_seconds(measurements, statistic="min"):
    """Seconds to train each measured (configuration, steps)."""
    pick = min if statistic == "min" else statistics.median
    per = {}
    for m in measurements:
        per.setdefault((m["name"], m["steps"]), []).append(m["train_seconds"])
    return {k: pick(v) for k, v in per.items()}


def train_estimate(n, rates, measured=None):
    """Seconds to train Need ``n``: its own measured time where ``measured``
    (:func:`model_seconds`) has its configuration and steps, else at ``rates``
    (:func:`step_seconds`) by its configuration, else by multiply-adds at the median rate of
    the measured configurations."""
    config = sl.zoo.CONFIGS.get(n.name) or n.config
    if measured and (n.name, n.steps) in measured:
        return measured[n.name, n.steps]
    if n.name in rates:
        return rates[n.name] * n.steps
    per_mac = statistics.median(rates[name] / macs_per_step(sl.zoo.CONFIGS[name])
                                for name in rates if name in sl.zoo.CONFIGS)
    return per_mac * macs_per_step(config) * n.steps


def experiment_seconds(results_dir=RESULTS):
    """Each experiment's own time (its wall time less the training it did), by name."""
    out = {}
    for f in sorted(Path(results_dir).glob("*.json")):
        p = json.loads(f.read_text()).get("provenance", {})
        if "wall_seconds" in p:
            own = sum(m.get("train_seconds") or 0 for m in p.get("models", [])
                      if m.get("trained_by_this_run"))
            out[f.stem] = max(p["wall_seconds"] - own, 0.0)
    return out


def costs(g, results_dir=RESULTS, statistic="min", cache=True):
    """``(train, run)``: seconds of each training task (by model key) and of each experiment
    of graph ``g``."""
    found = measured_models(results_dir, cache)
    rates, measured = step_seconds(found, statistic), model_seconds(found, statistic)
    own = experiment_seconds(results_dir)
    train = {k: train_estimate(n, rates, measured) for k, n in g.train.items()}
    run = {name: own.get(name, UNMEASURED) for name in g.experiments}
    return train, run


def critical_path(g, train, run):
    """The longest chain of the graph, in seconds, and the chain (task names): training a
    model, then each experiment that needs it (after those whose results it reads), then the
    exclusive experiments one after another."""
    finish, chain = {}, {}

    def end(name):
        if name not in finish:
            ready, why = 0.0, []
            for n in g.required(name):
                if train.get(n.key, 0.0) > ready:
                    ready, why = train[n.key], [f"train {n.label()}"]
            for other in g.after.get(name, ()):
                if end(other) > ready:
                    ready, why = end(other), chain[other]
            finish[name], chain[name] = ready + run[name], why + [name]
        return finish[name]

    normal = [name for name in g.experiments if name not in g.exclusive]
    worst = max(normal, key=end) if normal else None
    t, path = (end(worst), list(chain[worst])) if worst else (0.0, [])
    for name in g.exclusive:   # they start when everything else is done
        models = max((train.get(n.key, 0.0) for n in g.required(name)), default=0.0)
        t = max(t, models) + run[name]
        path.append(name)
    return t, path


def simulate(g, train, run, workers):
    """The wall time of graph ``g`` on ``workers`` workers, scheduled as :func:`repro.cluster.run`
    does: whenever a worker is free, a ready experiment (in the graph's order), else the
    longest training task not started; the exclusive experiments last, alone."""
    waiting_models = sorted(train, key=lambda k: -train[k])
    pending = set(train)      # model keys not trained yet
    done = set()
    normal = [name for name in g.experiments if name not in g.exclusive]
    events = []               # (time, kind, what)
    free, clock = workers, 0.0

    def ready(name):
        return (all(n.key not in pending for n in g.required(name))
                and all(o in done for o in g.after.get(name, ())))

    while normal or waiting_models or events:
        while free:
            pick = next((name for name in normal if ready(name)), None)
            if pick is not None:
                normal.remove(pick)
                heapq.heappush(events, (clock + run[pick], "experiment", pick))
            elif waiting_models:
                key = waiting_models.pop(0)
                heapq.heappush(events, (clock + train[key], "model", key))
            else:
                break
            free -= 1
        if not events:
            break
        clock, kind, what = heapq.heappop(events)
        free += 1
        if kind == "model":
            pending.discard(what)
        else:
            done.add(what)
    return clock + sum(run[name] for name in g.exclusive)


def full_graph(names=None):
    """The graph of ``make reproduce`` from an empty cache: every experiment (or ``names``),
    every model it requires trained (choices that depend on trained models, such as the SCE
    learning rate, read from the cache as it is)."""
    import reproduce
    names = list(names or reproduce.EXPERIMENTS)
    return graph.build(names, reproduce.MODELS, reproduce.READS, reproduce.EXCLUSIVE,
                       cached=lambda n: False)


def predict(cores=(8, 16, 64), machines=(2, 4), machine_cores=64, results_dir=RESULTS,
            statistic="min", g=None, cache=True):
    """The predicted wall time of ``make reproduce`` (from an empty cache) on one machine of
    each of ``cores`` and on clusters of ``machines`` machines of ``machine_cores`` cores,
    :data:`CORES_PER_WORKER` cores per worker; with the graph's size, its critical path and
    the total work (the time on one worker)."""
    g = g or full_graph()
    train, run = costs(g, results_dir, statistic, cache)
    path_seconds, path = critical_path(g, train, run)
    total = sum(train.values()) + sum(run.values())
    rows = []
    settings = [(1, c) for c in cores] + [(m, machine_cores) for m in machines]
    for n_machines, c in settings:
        workers = max(1, n_machines * c // CORES_PER_WORKER)
        rows.append({"machines": n_machines, "cores": c, "workers": workers,
                     "wall_seconds": round(simulate(g, train, run, workers), 1),
                     "bound_seconds": round(max(path_seconds, total / workers), 1)})
    return {"graph": g.summary(), "statistic": statistic,
            "one_worker_seconds": round(total, 1),
            "training_seconds": round(sum(train.values()), 1),
            "experiment_seconds": round(sum(run.values()), 1),
            "critical_path_seconds": round(path_seconds, 1), "critical_path": path,
            "unmeasured": [name for name in g.experiments
                           if name not in experiment_seconds(results_dir)],
            "rows": rows}


def report(results_dir=RESULTS):
    """:func:`predict` with both statistics, as text."""
    lines = []
    g = full_graph()
    for statistic in ("min", "median"):
        p = predict(results_dir=results_dir, statistic=statistic, g=g)
        s = p["graph"]
        if statistic == "min":
            lines += [f"Task graph of `make reproduce` from an empty cache: {s['tasks']} tasks "
                      f"({s['models_to_train']} trainings, {s['experiments']} experiments); "
                      f"{s['shared_models']} models are shared by several experiments "
                      f"({s['model_uses']} uses of {s['distinct_models']} models).",
                      f"Experiments without a results file yet (counted {UNMEASURED:.0f} s): "
                      f"{', '.join(p['unmeasured']) or 'none'}."]
        lines += ["", f"Training times: the {statistic} of each model's measurements. "
                      f"One worker (2 cores): {p['one_worker_seconds'] / 3600:.1f} h (training "
                      f"{p['training_seconds'] / 3600:.1f} h). Critical path: "
                      f"{p['critical_path_seconds'] / 60:.0f} min ("
                      + " -> ".join(p["critical_path"]) + ")."]
        for r in p["rows"]:
            where = (f"{r['cores']} cores" if r["machines"] == 1
                     else f"{r['machines']} machines x {r['cores']} cores")
            lines.append(f"  {where:24} {r['workers']:4} workers  "
                         f"{r['wall_seconds'] / 60:7.0f} min  "
                         f"(bound {r['bound_seconds'] / 60:.0f} min)")
    return "\n".join(lines)
