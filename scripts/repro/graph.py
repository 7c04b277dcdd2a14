"""``make reproduce`` as a task graph: the zoo models each experiment needs (one training task
per distinct model, shared by every experiment that needs it), then the experiment.

Each module of ``repro`` declares, beside ``EXPERIMENTS``, ``MODELS``: experiment name -> a
function of no arguments returning the :class:`repro.common.Need` list of the models that
experiment loads (``optional`` ones are not trained ahead: see :class:`~repro.common.Need`).
``READS`` (optional): experiment -> the experiments whose results files it reads; it runs
after them when they run too. ``EXCLUSIVE`` (optional): experiments that time code, run alone.
A declaration may look at the cache (a model already trained decides a choice), so the graph
is built from the cache as it is; ``tests/test_repro_results_schema.py`` checks that each
experiment's declaration covers every model it loads.

This module only builds the graph (no Dask): :mod:`repro.cluster` runs it and
:mod:`repro.plan` predicts its wall time.
"""
from dataclasses import dataclass, field


@dataclass
class Graph:
    """``experiments``: the experiments to run, in order; ``needs``: experiment -> its
    declared models (optional ones included), one per model; ``train``: model key -> the
    :class:`~repro.common.Need` of each required model that is not cached (one training task
    each); ``users``: model key -> the experiments that require it (cached models too);
    ``reads``: experiment -> the experiments whose results files it reads; ``after``: those
    of them that this run runs (it waits for them); ``exclusive``: the experiments of this
    run that run alone."""

    experiments: list
    needs: dict
    train: dict
    users: dict
    reads: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    exclusive: list = field(default_factory=list)

    def required(self, name):
        """The models experiment ``name`` cannot run without (cached or not)."""
        return [n for n in self.needs[name] if not n.optional]

    def shared(self):
        """The keys of the models more than one experiment of this run requires."""
        return [k for k, users in self.users.items() if len(users) > 1]

    def summary(self):
        """Counts for a reader: tasks, models to train, shared models, distinct models."""
        return {"experiments": len(self.experiments), "models_to_train": len(self.train),
                "tasks": len(self.experiments) + len(self.train),
                "distinct_models": len(self.users), "shared_models": len(self.shared()),
                "model_uses": sum(len(u) for u in self.users.values())}


def merged(needs):
    """One :class:`~repro.common.Need` per model (by ``key``), required if any declaration of
    it is, in the order first declared."""
    out = {}
    for n in needs:
        if n.key in out and out[n.key].optional and not n.optional:
            out[n.key] = n
        out.setdefault(n.key, n)
    return list(out.values())


def build(names, models, reads=None, exclusive=(), cached=None):
    """The graph of the experiments ``names`` (in that order).

    ``models``: experiment -> declaration function (the modules' ``MODELS``; an experiment
    with none declares nothing and trains what it loads itself); ``reads``: experiment -> the
    experiments whose results it reads; ``exclusive``: the experiments that run alone;
    ``cached``: Need -> bool (default: its file is in this process's cache). With
    ``cached=lambda n: False`` the graph is that of a run from an empty cache."""
    cached = cached or (lambda n: n.cached())
    reads = reads or {}
    needs, train, users = {}, {}, {}
    for name in names:
        declare = models.get(name)
        needs[name] = merged(declare() if declare else [])
        for n in needs[name]:
            if n.optional:
                continue
            users.setdefault(n.key, []).append(name)
            if n.key not in train and not cached(n):
                train[n.key] = n
    after = {name: [r for r in reads.get(name, ()) if r in needs] for name in names}
    return Graph(list(names), needs, train, users,
                 {name: list(reads[name]) for name in names if reads.get(name)},
                 {k: v for k, v in after.items() if v},
                 [name for name in names if name in exclusive])
