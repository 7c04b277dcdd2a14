"""``scripts/reproduce.py --jobs N``: make reproduce as a task graph on Dask (repro.graph,
repro.cluster) gives the results files of the sequential run, number for number; a model two
experiments share is trained once; a worker killed mid-task is survived; workers with other
library versions are refused before any work starts.

The experiments here are tiny ones put in the registries for the test (two share a model; a
third kills its worker the first time it runs there), on tiny zoo configurations (784-16-10,
30 steps), on a LocalCluster of 2 worker processes.
"""
import json
import os
import signal

import pytest

import sparana_lite as sl

from .scripts import import_script

TINY = {"tiny-a": sl.zoo.Config((784, 16, 10), "lq", {"name": "adam", "lr": 1e-3, "eps": 1e-3},
                                100, 30, 60, "mnist", description="test: tiny LQ"),
        "tiny-b": sl.zoo.Config((784, 12, 10), "sce", {"name": "adam", "lr": 1e-3, "eps": 1e-3},
                                100, 20, 40, "mnist", description="test: tiny SCE")}


def tiny_experiments(marker):
    """name -> (experiment, declaration). Closures, so that Dask sends them by value."""
    common = import_script("repro.common")

    def summary(model):
        data = common.dataset("tiny-a")
        x, y = data.x_test[:500], data.y_test[:500]
        import hashlib
        digest = hashlib.sha256(b"".join(w.tobytes() for w in model.weights)).hexdigest()
        return {"accuracy": model.accuracy(x, y), "weights": digest,
                "outputs": [round(float(v), 6) for v in model.output(x[:3]).ravel()],
                "steps": model.metadata["steps"]}

    def first():   # loads a second model, chosen once the first is trained (see below)
        return {"a": summary(common.zoo_model("tiny-a", 0)),
                "chosen": summary(common.zoo_model("tiny-a", 2))}

    def first_models():
        """tiny-a seed 2 is only known to be needed once tiny-a seed 0 is cached (as lq.py's
        tuned SCE models once the sweep's are): the graph asks again and trains it ahead."""
        return [common.need("tiny-a", 0),
                common.need("tiny-a", 2, optional=not common.need("tiny-a", 0).cached())]

    def second():
        return {"a": summary(common.zoo_model("tiny-a", 0)),
                "b": summary(common.zoo_model("tiny-b", 1, 40))}

    def killer():
        try:
            from distributed import get_worker
            get_worker()
            on_worker = True
        except ValueError:
            on_worker = False
        if on_worker and not os.path.exists(marker):
            with open(marker, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getpid(), signal.SIGKILL)   # the worker dies mid-task
        return {"b": summary(common.zoo_model("tiny-b", 1, 40))}

    return {
        "tiny-first": (first, first_models),
        "tiny-second": (second, lambda: [common.need("tiny-a", 0), common.need("tiny-b", 1, 40)]),
        "tiny-killer": (killer, lambda: [common.need("tiny-b", 1, 40)]),
    }


@pytest.fixture
def tiny_registry(tmp_path, monkeypatch):
    """reproduce with the tiny experiments registered (restored afterwards); their names."""
    reproduce = import_script("reproduce")
    common = import_script("repro.common")
    for name, config in TINY.items():
        monkeypatch.setitem(sl.zoo.CONFIGS, name, config)
    for name, (run, declare) in tiny_experiments(str(tmp_path / "killed")).items():
        monkeypatch.setitem(reproduce.EXPERIMENTS, name, run)
        monkeypatch.setitem(reproduce.MODELS, name, declare)
    monkeypatch.setattr(reproduce, "RESULTS", reproduce.RESULTS)   # main(--results) sets them
    monkeypatch.setattr(common, "RESULTS", common.RESULTS)
    return reproduce, ["tiny-first", "tiny-second", "tiny-killer"]


def run_main(reproduce, monkeypatch, tmp_path, label, *args):
    """reproduce.main with a cache and a results folder of its own; the results folder."""
    cache, results = tmp_path / f"{label}-cache", tmp_path / f"{label}-results"
    cache.mkdir()
    monkeypatch.setenv("SPARANA_LITE_CACHE", str(cache))
    status = reproduce.main(["--results", str(results), *args])
    return status, results, cache


def test_two_workers_give_the_sequential_results(tiny_registry, tmp_path, monkeypatch, capsys):
    """Number for number, the sequential run given the BLAS threads each worker gets (half
    the cores): OpenBLAS splits a product by its thread count, and on some CPUs (this 2-core
    Xeon's SkylakeX kernels) the split changes the last bits of a trained model's weights."""
    reproduce, names = tiny_registry
    cluster = import_script("repro.cluster")
    threads = max(1, len(os.sched_getaffinity(0)) // 2)
    with cluster.limited(threads):
        status, sequential, _ = run_main(reproduce, monkeypatch, tmp_path, "one", *names)
    assert status == 0
    status, parallel, cache = run_main(reproduce, monkeypatch, tmp_path, "two", "--jobs", "2",
                                       *names)
    out = capsys.readouterr().out
    assert status == 0, out
    assert (tmp_path / "killed").exists(), "the killer experiment never ran on a worker"
    for name in names:
        one = json.loads((sequential / f"{name}.json").read_text())
        two = json.loads((parallel / f"{name}.json").read_text())
        assert two["results"] == one["results"], name          # number for number
        used = [(m["zoo"], m["seed"], m["steps"]) for m in two["provenance"]["models"]]
        assert used == [(m["zoo"], m["seed"], m["steps"]) for m in one["provenance"]["models"]]
        for m in two["provenance"]["models"]:   # trained ahead, by a worker that says so
            assert not m["trained_by_this_run"] and m["trained_on"]["cpu"], m
        p = two["provenance"]   # each of the 2 workers gets half the cores
        assert p["command"].startswith("reproduce.py --results")
        assert p["ran_on"]["threads"] == threads
    # the model both tiny-first and tiny-second need was trained once, for both
    assert out.count("model tiny-a seed 0, 30 steps:") == 1, out
    assert out.count("model tiny-b seed 1, 40 steps:") == 1, out
    assert out.count("model tiny-a seed 2, 30 steps:") == 1, out   # declared once a was cached
    assert len(list((cache / "models").glob("*.npz"))) == 3
    # a second run finds everything done and does nothing
    assert reproduce.main(["--results", str(parallel), "--jobs", "2", *names]) == 0
    assert "tiny-first: done" in capsys.readouterr().out


def test_workers_with_other_versions_are_refused(tiny_registry, tmp_path, monkeypatch, capsys):
    reproduce, names = tiny_registry
    common = import_script("repro.common")
    real = common.versions
    monkeypatch.setattr(common, "versions", lambda: {**real(), "numpy": "0.0.1"})  # the client's
    status, results, cache = run_main(reproduce, monkeypatch, tmp_path, "mismatch",
                                      "--jobs", "2", *names)
    err = capsys.readouterr().err
    assert status == 2
    assert "2 of 2 workers have other library versions" in err and "numpy" in err, err
    assert "0.0.1" in err
    assert not list(results.glob("*.json")) and not (cache / "models").exists()


def test_an_existing_cluster_is_sent_the_code(tiny_registry, tmp_path, monkeypatch, capsys):
    """--scheduler ADDRESS: a cluster the script did not start gets scripts/ from it (its
    workers import repro from the uploaded copy) and runs the graph."""
    from distributed import Client, LocalCluster

    reproduce, _ = tiny_registry
    scripts = import_script("repro.cluster").SCRIPTS
    with import_script("repro.cluster").environment_kept(), \
            LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                         dashboard_address=None) as existing:
        status, results, _ = run_main(reproduce, monkeypatch, tmp_path, "remote", "--scheduler",
                                      existing.scheduler_address, "tiny-first", "tiny-second")
        with Client(existing) as client:
            where = list(client.run(lambda: __import__("repro").__file__).values())
    assert status == 0, capsys.readouterr().err
    assert sorted(p.name for p in results.glob("*.json")) == ["tiny-first.json",
                                                              "tiny-second.json"]
    assert where and all(os.path.dirname(os.path.dirname(f)) != str(scripts) for f in where), where
