"""The classroom forgetting explorer: choose a digit, a number of weights, the layers; watch it go.

    w = forget_explorer(model, sl.load_mnist())
    w.controls["target"].value = 3        # what a reader does with the class selector
    w.controls["k"].value = 7000          # ... the slider (weights removed per chosen layer)
    w.controls["layers"].value = (1,)     # ... and the layer choice
    w.result                              # the result now shown (a dict, see below)
    w.cache                               # {setting: result} of every setting visited

The explorer is a :class:`sparana_lite.explorers.Explorer`. Weights are chosen by the blog's MAAV
difference (:class:`sparana_lite.forget.Forgetter`, one per class, made the first time the
class is chosen: the training images are passed over once, for all classes). A result holds
the per-class test accuracy before and after, the predictions and outputs of a few test images
of the target, and is drawn as accuracy bars, the digits with their predictions, and the
outputs of one digit.

Online readers have no kernel: :func:`forget_sweep_figure` draws whole sweeps as one static
figure.
"""
import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import _validate as V
from ..forget import maav_difference as F
from .base import Explorer

__all__ = ["ForgetExplorer", "forget_explorer", "forget_sweep_figure", "LAYER_CHOICES"]

LAYER_CHOICES = (("layers 2 and 3 (the blog's)", (1, 2)), ("layer 2 only", (1,)),
                 ("layer 3 only", (2,)))
DEFAULT_KS = tuple(range(0, 10_001, 500))


class ForgetExplorer(Explorer):
    """An :class:`~sparana_lite.explorers.Explorer` over (target, k, layers); see the module."""


def forget_explorer(model, data, ks=DEFAULT_KS, target=7, k=0, layers=(1, 2), n_digits=6,
                    method="maav_difference"):
    """Build the forgetting explorer.

    Parameters
    ----------
    model : MLP
        The trained model (left unchanged).
    data : Dataset
        Training images choose the weights; test images measure.
    ks : sequence of int
        The slider's values (weights removed per chosen layer): evenly spaced, at least two.
    target, k, layers : the starting setting
    n_digits : int
        Target test images shown with their predictions.
    method : str
        One of :data:`sparana_lite.forget.METHODS`.

    Returns
    -------
    ForgetExplorer
    """
    ks = [V.positive_int(v, f"ks[{i}]", minimum=0) for i, v in enumerate(ks)]
    steps = np.diff(ks)
    if len(ks) < 2 or np.any(steps <= 0) or np.any(steps != steps[0]):
        raise ValueError(f"ks must be at least two evenly spaced increasing values; got {ks}")
    if k not in ks:
        raise ValueError(f"k must be one of ks; got {k!r}")
    F._check_method(method)
    n_digits = V.positive_int(n_digits, "n_digits")
    choices = dict((v, name) for name, v in LAYER_CHOICES)
    if tuple(layers) not in choices:
        raise ValueError(f"layers must be one of {list(choices)}; got {layers!r}")
    C = model.n_classes
    if not (isinstance(target, (int, np.integer)) and 0 <= target < C):
        raise ValueError(f"target must be a class label in [0, {C - 1}]; got {target!r}")
    x_test, y_test = model._checked_xy(data.x_test, data.y_test)
    base_acc = model.class_accuracy(x_test, y_test)
    state = {"activity": None, "forgetters": {}}

    def forgetter(t):
        if t not in state["forgetters"]:
            if state["activity"] is None:
                state["activity"] = F.class_activity(model, data.x_train, data.y_train)
            state["forgetters"][t] = F.Forgetter(model, data.x_train, data.y_train, t,
                                                 activity=state["activity"])
        return state["forgetters"][t]

    def compute(target, k, layers):
        sweep = forgetter(target).sweep(method, [k], layers=layers, x=x_test, y=y_test)
        shown = np.flatnonzero(y_test == target)[:n_digits]
        return {"target": target, "k": k, "layers": layers,
                "class_accuracy": sweep.class_accuracy()[0],
                "base_accuracy": base_acc,
                "changed": sweep.changed[0].tolist(),
                "images": x_test[shown], "predictions": sweep.predictions()[0, shown],
                "outputs": sweep.outputs[0, shown]}

    controls = {
        "target": widgets.Dropdown(options=list(range(C)), value=int(target), description="forget"),
        "k": widgets.IntSlider(value=k, min=ks[0], max=ks[-1], step=int(steps[0]),
                               continuous_update=False, description="k per layer"),
        "layers": widgets.Dropdown(options=[(name, v) for name, v in LAYER_CHOICES],
                                   value=tuple(layers), description="layers"),
    }
    header = ("<b>Forgetting by MAAV difference</b>: remove the k weights per chosen layer that "
              "the target class uses most, no retraining.")
    return ForgetExplorer(controls, compute, _draw, header, caption=_caption)


def _caption(r):
    """One line: the setting, the target's accuracy and the other classes' mean accuracy."""
    acc = np.asarray(r["class_accuracy"])
    rest = np.delete(acc, r["target"]).mean()
    layers = " and ".join(str(i + 1) for i in r["layers"])
    return (f"forget {r['target']}: k = {r['k']:,} weights removed in layer(s) {layers}; "
            f"accuracy on {r['target']}: {acc[r['target']]:.3f}, other classes (mean): {rest:.3f}")


def _draw(r):
    """Accuracy bars, the target digits with their predictions, the outputs of the first."""
    n = len(r["images"])
    fig = plt.figure(figsize=(11, 5.2))
    grid = fig.add_gridspec(2, max(n, 2), height_ratios=[3, 1.3])
    half = max(n, 2) // 2
    ax = fig.add_subplot(grid[0, :half])
    classes = np.arange(len(r["class_accuracy"]))
    ax.bar(classes - 0.2, r["base_accuracy"], 0.4, color="lightgray", label="before")
    ax.bar(classes + 0.2, r["class_accuracy"], 0.4,
           color=["tab:red" if c == r["target"] else "tab:blue" for c in classes], label="after")
    ax.set_xticks(classes)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("class")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"forget {r['target']}: {', '.join(f'{c:,}' for c in r['changed'])} weights "
                 f"removed", fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax = fig.add_subplot(grid[0, half:])
    out = r["outputs"][0]
    ax.bar(classes, out, color=["tab:red" if c == r["target"] else "tab:gray" for c in classes])
    ax.axhline(0, color="black", lw=0.6)
    ax.set_xticks(classes)
    ax.set_xlabel("output unit")
    ax.set_title(f"outputs for the first digit (predicted {r['predictions'][0]})", fontsize=10)
    for i in range(n):
        ax = fig.add_subplot(grid[1, i])
        ax.imshow(r["images"][i].reshape(28, 28), cmap="gray_r")
        ok = r["predictions"][i] == r["target"]
        ax.set_title(f"-> {r['predictions'][i]}", color="tab:green" if ok else "tab:red",
                     fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    return fig


def forget_sweep_figure(sweeps, title=None):
    """Target and rest accuracy against k for several sweeps, one line pair each.

    Parameters
    ----------
    sweeps : dict of label -> sparana_lite.forget.Sweep

    Returns
    -------
    matplotlib Figure
    """
    if not isinstance(sweeps, dict) or not sweeps:
        raise ValueError("sweeps must be a non-empty dict of label -> Sweep")
    fig, ax = plt.subplots(figsize=(7.5, 4.3))
    for (label, s), colour in zip(sweeps.items(), plt.rcParams["axes.prop_cycle"].by_key()["color"]):
        ax.plot(s.ks, s.target_accuracy(), "o-", ms=3, color=colour,
                label=f"{label}: class {s.target}")
        ax.plot(s.ks, s.rest_accuracy(), "--", color=colour, label=f"{label}: other classes")
    ax.axhline(0.1, color="gray", lw=0.8, ls=":")
    ax.set_xlabel("weights removed per chosen layer (k)")
    ax.set_ylabel("test accuracy")
    ax.set_ylim(-0.02, 1.02)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
