"""What every experiment shares: the models it uses, recorded with their training time, and
the declarations that make ``make reproduce`` a task graph (:class:`Need`)."""
from dataclasses import dataclass, field
import hashlib
import os
from pathlib import Path
import platform

import numpy as np

import sparana_lite as sl

SEEDS = (0, 1, 2)
BLOG_STEPS = 20_000   # the blog's Adam run (Demo-Model.ipynb)

# every zoo model an experiment used, with how long it trained and whether this run trained it;
# reproduce.py clears it before each experiment and stores it in the provenance
MODELS_USED = []
# where zoo models are trained: "cpu", or "cuda" (reproduce.py --device cuda) on an NVIDIA GPU
DEVICE = "cpu"
# where an experiment reads another experiment's results file (forget-classes reads
# forget-lq-mnist.json); a Dask worker points it at a copy the client sent (repro.cluster)
RESULTS = Path(__file__).resolve().parents[2] / "book" / "results"


def zoo_model(name, seed=0, steps=None, eval_every=None):
    """``sl.zoo.trained(name, seed, steps)`` (``steps=None``: the book's CI-sized default),
    trained with a progress bar if it is not cached, and recorded in :data:`MODELS_USED`.

    ``eval_every`` (default: a twentieth of the run) makes a model trained here record its
    test accuracy along the way in ``metadata["history"]``."""
    steps = sl.zoo.CONFIGS[name].default_steps if steps is None else steps
    cached = sl.zoo.path(name, seed, steps, device=DEVICE).exists()
    model = sl.zoo.trained(name, seed=seed, steps=steps, progress=True,
                           eval_every=eval_every or max(steps // 20, 1), device=DEVICE)
    MODELS_USED.append({"zoo": name, "seed": seed, "steps": steps,
                        "train_seconds": model.metadata.get("train_seconds"),
                        "trained_by_this_run": not cached,
                        "device": model.metadata.get("device", "cpu"),
                        # the machine that trained it, where a Dask worker did (repro.cluster)
                        **({"trained_on": model.metadata["trained_on"]}
                           if "trained_on" in model.metadata else {})})
    return model


# ------------------------------------------------------------------ the task graph's models

@dataclass(frozen=True)
class Need:
    """A trained model an experiment needs: one training task of ``make reproduce``'s graph,
    shared by every experiment that declares it.

    ``kind``: "zoo" (``sl.zoo.trained(name, seed, steps, device=device)``, as
    :func:`zoo_model` trains it) or another kind registered in :data:`KINDS` (lq.py's
    "sce-sweep"). ``optional``: the experiment may load it, depending on what it finds when
    it runs (a model already cached, another experiment's results, a choice made from other
    models); the graph does not train it ahead, and the experiment trains it itself if it
    needs it. ``config``: the zoo configuration, sent along so that a worker that never
    registered it (a configuration made at run time) can."""

    name: str
    seed: int
    steps: int
    device: str = "cpu"
    kind: str = "zoo"
    optional: bool = field(default=False, compare=False)
    config: object = field(default=None, compare=False, repr=False)

    @property
    def key(self):
        """(kind, name, seed, steps, device): the same model, whoever declares it."""
        return (self.kind, self.name, self.seed, self.steps, self.device)

    def path(self):
        """The model's file in this process's cache (it may not exist yet)."""
        return KINDS[self.kind]["path"](self)

    def cached(self):
        return self.path().exists()

    def train(self):
        """Train it here (or load it from this process's cache) and return its file."""
        register(self)
        KINDS[self.kind]["train"](self)
        return self.path()

    def label(self):
        extra = "" if self.kind == "zoo" else f" ({self.kind})"
        return f"{self.name} seed {self.seed}, {self.steps} steps{extra}"


def need(name, seed=0, steps=None, optional=False, kind="zoo"):
    """The :class:`Need` of ``zoo_model(name, seed, steps)`` (``steps=None``: the book's
    default), on :data:`DEVICE`."""
    config = sl.zoo.CONFIGS[name]
    steps = config.default_steps if steps is None else int(steps)
    return Need(name, int(seed), steps, DEVICE if kind == "zoo" else "cpu", kind, optional,
                config)


def register(n):
    """Register ``n``'s zoo configuration in this process if it is not there yet."""
    if n.config is not None and n.name not in sl.zoo.CONFIGS:
        sl.zoo.register(n.name, n.config)


def _zoo_path(n):
    return sl.zoo.path(n.name, n.seed, n.steps, device=n.device)


def _zoo_train(n):
    sl.zoo.trained(n.name, seed=n.seed, steps=n.steps, progress=False,
                   eval_every=max(n.steps // 20, 1), device=n.device)


# kind -> {"path": Need -> Path, "train": Need -> None}; lq.py adds "sce-sweep"
KINDS = {"zoo": {"path": _zoo_path, "train": _zoo_train}}


# ------------------------------------------------------------------ where results come from

def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions():
    """The versions a results file records: sparana_lite, NumPy, SciPy, numba."""
    import numba
    import scipy

    return {"sparana_lite": sl.__version__, "numpy": np.__version__,
            "scipy": scipy.__version__, "numba": numba.__version__}


def library_digest():
    """A digest of sparana_lite's source files as this process finds them (two installs of
    the same version whose code differs have different digests)."""
    root = Path(sl.__file__).resolve().parent
    h = hashlib.sha256()
    for f in sorted(root.rglob("*.py")):
        h.update(f.relative_to(root).as_posix().encode())
        h.update(f.read_bytes())
    return h.hexdigest()[:16]


def machine():
    """The machine this process runs on, as provenance records it."""
    return {"host": platform.node(), "cpu": cpu_name(), "cores": os.cpu_count(),
            "python": platform.python_version(), "versions": versions()}


def book_and_blog_steps(name):
    """The book's CI-sized number of steps and the blog's, for a zoo configuration."""
    config = sl.zoo.CONFIGS[name]
    return {"book": config.default_steps, "blog": config.full_steps}


def dataset(name):
    return sl.zoo.load_dataset(sl.zoo.CONFIGS[name].dataset)


def floats(values, digits=6):
    """A JSON-able list of rounded floats; NaN (nothing to measure) becomes None."""
    return [round(float(v), digits) if np.isfinite(v) else None for v in np.ravel(values)]
