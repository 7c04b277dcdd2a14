"""The results files of ``scripts/reproduce.py`` (book/results/): their schema, that every
reproduction target has one, that the current library wrote them, and that a cheap part of
them can be derived again from the code as it is now."""
import json
from pathlib import Path

import pytest

import sparana_lite as sl

from .scripts import import_script

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "book" / "results"
N_TARGETS = 19   # the numbered reproduction targets of shared/reference/blog-notes.md
PROVENANCE = {"commit", "uncommitted_changes", "date", "cpu", "cores", "python", "versions",
              "command", "wall_seconds", "models"}


@pytest.fixture(scope="module")
def reproduce():
    return import_script("reproduce")


def records():
    return {p.stem: json.loads(p.read_text()) for p in sorted(RESULTS.glob("*.json"))}


def test_every_target_has_an_experiment_and_its_results(reproduce):
    assert sorted(reproduce.TARGETS) == list(range(1, N_TARGETS + 1))
    found = records()
    for n, target in reproduce.TARGETS.items():
        assert target["experiment"] in reproduce.EXPERIMENTS, n
        assert target["experiment"] in found, f"target {n}: run scripts/reproduce.py {target['experiment']}"
        assert target["claim"] and target["blog"], n


def test_every_results_file_belongs_to_an_experiment(reproduce):
    assert set(records()) <= set(reproduce.EXPERIMENTS), set(records()) - set(reproduce.EXPERIMENTS)


def test_results_files_follow_the_schema(reproduce):
    major = sl.__version__.split(".")[0]
    for name, record in records().items():
        assert record["schema"] == reproduce.SCHEMA, name
        assert record["experiment"] == name
        assert isinstance(record["results"], dict) and record["results"], name
        p = record["provenance"]
        assert PROVENANCE <= set(p), (name, PROVENANCE - set(p))
        assert len(p["commit"]) == 40 and not p["uncommitted_changes"], name
        assert p["versions"]["sparana_lite"].split(".")[0] == major, \
            f"{name} was written by sparana_lite {p['versions']['sparana_lite']}; re-run it"
        assert p["wall_seconds"] > 0 and p["command"].startswith("reproduce.py"), name
        for m in p["models"]:
            assert m["zoo"] in sl.zoo.CONFIGS and m["steps"] > 0 and m["train_seconds"] > 0, (name, m)


def test_the_appendix_reads_every_results_file(reproduce):
    source = "".join("".join(c["source"]) for c in
                     json.loads((ROOT / "book" / "at-the-blogs-scale.ipynb").read_text())["cells"])
    for name in {t["experiment"] for t in reproduce.TARGETS.values()}:
        assert f'load("{name}")' in source, name


@pytest.fixture(scope="module")
def pruning():
    return import_script("repro.pruning")


def test_maav_identity_is_derived_again(pruning):
    """Re-derive a cheap part of maav-identity.json with today's code on the book-sized model:
    the pixels that are always 0 in those training images (a property of the data: exact) and
    the identity; the blog-sized entry too when its model is in the cache."""
    record = json.loads((RESULTS / "maav-identity.json").read_text())
    data = sl.load_mnist()
    for entry in record["results"]["models"]:
        if entry["steps"] != sl.zoo.CONFIGS["lq-mnist"].default_steps and \
                not sl.zoo.path("lq-mnist", entry["seed"], entry["steps"]).exists():
            continue
        model = sl.zoo.trained("lq-mnist", seed=entry["seed"], steps=entry["steps"], progress=False)
        again = pruning.maav_identity(model, data.x_train[:entry["samples"]])
        assert again["always_zero_inputs"][0] == entry["always_zero_inputs"][0]
        assert max(again["max_relative_difference"]) < 1e-6


def reproduce_cpu():
    return import_script("reproduce").cpu_name()


def test_pruning_accuracies_are_derived_again(pruning):
    """The book-sized seed-0 entry of prune-lq-mnist-seeds.json, pruned again with today's code:
    equal to 0.01 (the model is trained again here, and another CPU's BLAS rounds differently;
    the chapters measured accuracies of the same book-sized model that differ by up to 0.003
    across CPUs). Entries whose model is in the cache, on the CPU that wrote the file, must
    match exactly (the models are then, as a rule, the very ones the script used)."""
    record = json.loads((RESULTS / "prune-lq-mnist-seeds.json").read_text())
    book = sl.zoo.CONFIGS["lq-mnist"].default_steps
    same_cpu = record["provenance"]["cpu"] == reproduce_cpu()
    for entry in record["results"]["models"]:
        cached = sl.zoo.path("lq-mnist", entry["seed"], entry["steps"]).exists()
        if not ((entry["steps"] == book and entry["seed"] == 0) or cached):
            continue
        again = pruning.prune_curves("lq-mnist", entry["seed"], entry["steps"], ("magnitude",))
        tol = 1e-9 if cached and same_cpu else 0.01
        assert abs(again["unpruned"] - entry["unpruned"]) <= tol
        for r in (0.5, 0.8):
            i = entry["ratios"].index(r)
            assert abs(again["accuracy"]["magnitude"][i] - entry["accuracy"]["magnitude"][i]) <= tol, r
