"""The task graph of make reproduce (scripts/repro/graph.py) and its plan at scale
(scripts/repro/plan.py), on small synthetic graphs."""
import pytest

from .scripts import import_script


@pytest.fixture(scope="module")
def repro():
    return (import_script("repro.common"), import_script("repro.graph"),
            import_script("repro.plan"))


def synthetic(repro, cached=()):
    """Three experiments: x and y share model A; y also needs B; z needs C, reads x and has an
    optional model D; t (exclusive) needs A."""
    common, graph, _ = repro

    def N(name, optional=False):
        return common.Need(name, 0, 100, optional=optional)

    models = {"x": lambda: [N("A")], "y": lambda: [N("A"), N("B"), N("A", optional=True)],
              "z": lambda: [N("C"), N("D", optional=True)], "t": lambda: [N("A")]}
    return graph.build(["x", "y", "z", "t"], models, reads={"z": ("x", "w")},
                       exclusive=("t",), cached=lambda n: n.name in cached)


def test_shared_models_are_one_task_and_cached_or_optional_ones_none(repro):
    g = synthetic(repro)
    names = sorted(k[1] for k in g.train)
    assert names == ["A", "B", "C"]          # D is optional: not trained ahead
    assert g.users[("zoo", "A", 0, 100, "cpu")] == ["x", "y", "t"]
    assert g.summary() == {"experiments": 4, "models_to_train": 3, "tasks": 7,
                           "distinct_models": 3, "shared_models": 1, "model_uses": 5}
    assert g.after == {"z": ["x"]} and g.reads == {"z": ["x", "w"]} and g.exclusive == ["t"]
    assert [n.name for n in g.required("y")] == ["A", "B"]
    cached = synthetic(repro, cached=("A",))
    assert sorted(k[1] for k in cached.train) == ["B", "C"]
    assert cached.summary()["distinct_models"] == 3


def test_required_wins_over_optional(repro):
    common, graph, _ = repro
    a, b = common.Need("A", 0, 1, optional=True), common.Need("A", 0, 1)
    assert [n.optional for n in graph.merged([a, b])] == [False]
    assert [n.optional for n in graph.merged([b, a])] == [False]


def test_critical_path_and_schedule_by_hand(repro):
    _, _, plan = repro
    g = synthetic(repro)
    key = {k[1]: k for k in g.train}
    train = {key["A"]: 10.0, key["B"]: 30.0, key["C"]: 5.0}
    run = {"x": 2.0, "y": 4.0, "z": 1.0, "t": 7.0}
    seconds, path = plan.critical_path(g, train, run)
    # B (30) -> y (4) = 34, then t (exclusive, 7) after everything: 41
    assert seconds == 41.0 and path == ["train B seed 0, 100 steps", "y", "t"]
    # one worker: everything in a row
    assert plan.simulate(g, train, run, 1) == sum(train.values()) + sum(run.values())
    # two workers: B on one (0-30), then y (30-34); A (0-10), x (10-12: a ready experiment
    # before a training), C (12-17) and z (17-18) on the other; then t alone (34-41)
    assert plan.simulate(g, train, run, 2) == 41.0
    assert plan.simulate(g, train, run, 100) == 41.0


def test_estimates_from_measurements(repro):
    common, _, plan = repro
    import sparana_lite as sl
    rates = plan.step_seconds([{"name": "lq-mnist", "seed": 0, "steps": 100, "train_seconds": 4.0},
                               {"name": "lq-mnist", "seed": 1, "steps": 100, "train_seconds": 2.0},
                               {"name": "lq-mnist", "seed": 2, "steps": 200, "train_seconds": 9.0}])
    assert rates == {"lq-mnist": 0.02}
    assert plan.step_seconds([{"name": "a", "seed": 0, "steps": 1, "train_seconds": s}
                              for s in (1.0, 2.0, 6.0)], "median") == {"a": 2.0}
    assert plan.train_estimate(common.need("lq-mnist", 0, 1000), rates) == pytest.approx(20.0)
    # a model measured at its own number of steps: that time
    measured = plan.model_seconds([{"name": "lq-mnist", "seed": s, "steps": 200,
                                    "train_seconds": t} for s, t in ((0, 9.0), (1, 7.0))])
    assert measured == {("lq-mnist", 200): 7.0}
    assert plan.train_estimate(common.need("lq-mnist", 5, 200), rates, measured) == 7.0
    # another architecture: by multiply-adds per step at lq-mnist's rate
    ratio = (plan.macs_per_step(sl.zoo.CONFIGS["lq-mnist-longboy"])
             / plan.macs_per_step(sl.zoo.CONFIGS["lq-mnist"]))
    assert plan.train_estimate(common.need("lq-mnist-longboy", 0, 1000), rates) == \
        pytest.approx(20.0 * ratio)
