"""What every experiment shares: the models it uses, recorded with their training time."""
import numpy as np

import sparana_lite as sl

SEEDS = (0, 1, 2)
BLOG_STEPS = 20_000   # the blog's Adam run (Demo-Model.ipynb)

# every zoo model an experiment used, with how long it trained and whether this run trained it;
# reproduce.py clears it before each experiment and stores it in the provenance
MODELS_USED = []
# where zoo models are trained: "cpu", or "cuda" (reproduce.py --device cuda) on an NVIDIA GPU
DEVICE = "cpu"


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
                        "device": model.metadata.get("device", "cpu")})
    return model


def book_and_blog_steps(name):
    """The book's CI-sized number of steps and the blog's, for a zoo configuration."""
    config = sl.zoo.CONFIGS[name]
    return {"book": config.default_steps, "blog": config.full_steps}


def dataset(name):
    return sl.zoo.load_dataset(sl.zoo.CONFIGS[name].dataset)


def floats(values, digits=6):
    """A JSON-able list of rounded floats; NaN (nothing to measure) becomes None."""
    return [round(float(v), digits) if np.isfinite(v) else None for v in np.ravel(values)]
