"""The attack explorer: attack one digit at a chosen strength, see what the LQ and SCE models say.

    w = attack_explorer(lq, sce, x, y, strengths=[0, 0.1, 0.2])
    w.controls["strength"].value = 0.1   # what a reader does with the slider
    w.result                             # images, outputs and predictions per model

The explorer is a :class:`sparana_lite.explorers.Explorer`; the attacks are those of
:mod:`sparana_lite.attacks`. Online readers have no kernel: :func:`attack_sweep_figure` draws
every strength for one sample as one static figure.
"""
import numbers

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import _validate as V
from .. import attacks
from .base import Explorer

__all__ = ["attack_explorer", "attack_sweep_figure"]


def _check_strengths(strengths):
    if isinstance(strengths, (str, bytes)) or not hasattr(strengths, "__iter__"):
        raise ValueError(f"strengths must be a list of numbers >= 0; got {strengths!r}")
    values = [V.finite_float(s, "strengths[%d]" % i, low=0) for i, s in enumerate(strengths)]
    if not values:
        raise ValueError("strengths must hold at least one strength; got an empty list")
    if len(set(values)) != len(values):
        raise ValueError(f"strengths must not repeat a value; got {values}")
    return sorted(values)


def _check_pair(lq_model, sce_model, x, y):
    for name, model in (("lq_model", lq_model), ("sce_model", sce_model)):
        V.mlp(model, name)
    if lq_model.widths[0] != sce_model.widths[0] or lq_model.n_classes != sce_model.n_classes:
        raise ValueError(f"lq_model and sce_model must take the same inputs and classes; got "
                         f"widths {lq_model.widths} and {sce_model.widths}")
    x = V.as_float32_matrix(x, "x", n_features=lq_model.widths[0])
    y = V.as_labels(y, "y", lq_model.n_classes, n_samples=x.shape[0])
    if x.shape[0] == 0:
        raise ValueError("x must hold at least one sample")
    return x, y


def _attack_one(models, x, y, method, objective, strength, index, seed, noise_kind):
    """Attack sample ``index`` against each model; the model-free noise is the same for all."""
    xi, yi = x[index:index + 1], y[index:index + 1]
    result = {"method": method, "objective": objective, "strength": strength, "index": index,
              "label": int(y[index]), "images": {}, "outputs": {}, "predictions": {}}
    for name, model in models.items():
        x_adv = attacks.attack(method, model, xi, yi, strength, seed=seed + index, kind=noise_kind,
                               objective=objective)
        out = model.output(x_adv)[0]
        result["images"][name] = x_adv[0]
        result["outputs"][name] = out
        result["predictions"][name] = int(np.argmax(out))
    return result


_OUTPUT_LABEL = {"lq": "linear output", "sce": "softmax probability"}
_METHOD_LABEL = {"fgsm": "FGSM on each model's {objective}",
                 "pgd": "PGD (10 steps) on each model's {objective}",
                 "noise": "random noise, the same for both models"}
_OBJECTIVE_LABEL = {"loss": "own loss", "margin": "margin",
                    "target": "loss at the runner-up class (targeted)"}


def _draw_attack(result, models, classes):
    """Two rows (one per model): the attacked input and the model's outputs as bars."""
    fig, axes = plt.subplots(len(models), 2, figsize=(7.5, 2.4 * len(models)),
                             gridspec_kw={"width_ratios": [1, 2.2]}, squeeze=False)
    label = result["label"]
    what = _METHOD_LABEL[result["method"]].format(
        objective=_OBJECTIVE_LABEL[result["objective"]])
    for row, (name, model) in zip(axes, models.items()):
        img_ax, bar_ax = row
        img_ax.imshow(result["images"][name].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
        img_ax.set_xticks([])
        img_ax.set_yticks([])
        img_ax.set_title(f"{name} input", fontsize=9)
        out = result["outputs"][name]
        pred = result["predictions"][name]
        colors = ["tab:gray"] * len(out)
        colors[label] = "tab:green"
        if pred != label:
            colors[pred] = "tab:red"
        bar_ax.bar(np.arange(len(out)), out, color=colors)
        bar_ax.set_xticks(np.arange(len(out)))
        bar_ax.set_xticklabels(classes, fontsize=8)
        bar_ax.axhline(0, color="black", lw=0.5)
        bar_ax.set_ylim(min(-0.2, float(out.min()) - 0.05), max(1.2, float(out.max()) + 0.05))
        bar_ax.set_ylabel(_OUTPUT_LABEL.get(model.head, "output"), fontsize=8)
        verdict = "right" if pred == label else "FOOLED"
        bar_ax.set_title(f"{name}: predicts {classes[pred]} ({verdict}), max output {out[pred]:.2f}",
                         fontsize=9)
    fig.suptitle(f"strength {result['strength']:g}, {what}\nsample {result['index']}, "
                 f"true class {classes[label]} (green bar)", fontsize=10)
    fig.tight_layout()
    return fig


def _check_common(x, strengths, method, objective, index, seed, noise_kind, classes, n_classes):
    strengths = _check_strengths(strengths)
    if method not in attacks.METHODS:
        raise ValueError(f"method must be one of {attacks.METHODS}; got {method!r}")
    if objective not in attacks.OBJECTIVES:
        raise ValueError(f"objective must be one of {attacks.OBJECTIVES}; got {objective!r}")
    if (isinstance(index, bool) or not isinstance(index, numbers.Integral)
            or not 0 <= index < x.shape[0]):
        raise ValueError(f"index must be an integer in [0, {x.shape[0] - 1}]; got {index!r}")
    seed = V.seed_int(seed)
    if noise_kind not in attacks.NOISE_KINDS:
        raise ValueError(f"noise_kind must be one of {attacks.NOISE_KINDS}; got {noise_kind!r}")
    classes = [str(c) for c in (classes if classes is not None else range(n_classes))]
    if len(classes) != n_classes:
        raise ValueError(f"classes must name {n_classes} classes; got {len(classes)}")
    return strengths, int(index), seed, classes


def attack_explorer(lq_model, sce_model, x, y, strengths, method="fgsm", index=0,
                    objective="loss", seed=0, noise_kind="sign", classes=None):
    """A widget: attack one input at a chosen strength and see both models' outputs.

    Parameters
    ----------
    lq_model, sce_model : sparana_lite.MLP
        Shown as rows "LQ" and "SCE". FGSM and PGD attack each model with its own gradient,
        so the two rows show different inputs; random noise is the same for both.
    x, y : arrays (n, n_features) in [0, 1] and (n,)
        The samples one can pick with the index slider.
    strengths : list of float >= 0
        The L-inf strengths on the strength slider (a ``SelectionSlider``).
    method : {"fgsm", "pgd", "noise"}
        The attack first shown (a toggle switches between them); see
        :mod:`sparana_lite.attacks`.
    index : int
        The sample first shown.
    objective : {"loss", "margin", "target"}
        What FGSM and PGD climb first (a toggle switches): each model's own loss, the margin
        of its pre-head values, or (targeted) minus its loss at the runner-up class; see
        :mod:`sparana_lite.attacks`.
    seed, noise_kind :
        Passed to :func:`sparana_lite.attacks.noise` (the seed is ``seed + index``).
    classes : list of str, optional
        Class names for the bars (default "0".."9").

    Returns
    -------
    Explorer
        ``.controls["strength"|"index"|"method"|"objective"]``, ``.result`` (a dict with ``images``,
        ``outputs``, ``predictions`` per model name, and ``label``), ``.figure``, ``.cache``.
    """
    x, y = _check_pair(lq_model, sce_model, x, y)
    strengths, index, seed, classes = _check_common(x, strengths, method, objective, index, seed,
                                                    noise_kind, classes, lq_model.n_classes)
    models = {"LQ": lq_model, "SCE": sce_model}

    controls = {
        "strength": widgets.SelectionSlider(options=[(f"{s:g}", s) for s in strengths],
                                            value=strengths[0], description="strength",
                                            continuous_update=False),
        "index": widgets.IntSlider(value=int(index), min=0, max=x.shape[0] - 1,
                                   description="sample", continuous_update=False),
        "method": widgets.ToggleButtons(options=list(attacks.METHODS), value=method,
                                        description="attack"),
        "objective": widgets.ToggleButtons(options=list(attacks.OBJECTIVES), value=objective,
                                           description="climbs"),
    }
    for name in ("method", "objective"):
        controls[name].style.button_width = "70px"

    def compute(strength, index, method, objective):
        return _attack_one(models, x, y, method, objective, strength, index, seed, noise_kind)

    def caption(r):
        preds = ", ".join(f"{name} predicts {classes[p]}" for name, p in r["predictions"].items())
        return (f"strength {r['strength']:g}, {r['method']} on the {r['objective']}, sample "
                f"{r['index']} (class {classes[r['label']]}): {preds}")

    return Explorer(controls, compute, lambda r: _draw_attack(r, models, classes),
                    caption=caption)


def attack_sweep_figure(lq_model, sce_model, x, y, strengths, method="fgsm", index=0,
                        objective="loss", seed=0, noise_kind="sign", classes=None):
    """A static grid of what :func:`attack_explorer` shows at every strength, for one sample.

    Rows: the input attacked against the LQ model and against the SCE model; columns: the
    strengths. Each panel's title gives the model's prediction and its maximum output (LQ: the
    linear output; SCE: the softmax probability). Returns the (open) Figure.
    """
    x, y = _check_pair(lq_model, sce_model, x, y)
    strengths, index, seed, classes = _check_common(x, strengths, method, objective, index, seed,
                                                    noise_kind, classes, lq_model.n_classes)
    models = {"LQ": lq_model, "SCE": sce_model}
    fig, axes = plt.subplots(2, len(strengths), figsize=(1.35 * len(strengths) + 0.6, 3.9),
                             squeeze=False)
    for col, s in enumerate(strengths):
        r = _attack_one(models, x, y, method, objective, s, index, seed, noise_kind)
        for row, name in enumerate(models):
            ax = axes[row, col]
            ax.imshow(r["images"][name].reshape(28, 28), cmap="gray_r", vmin=0, vmax=1)
            ax.set_xticks([])
            ax.set_yticks([])
            pred = r["predictions"][name]
            ax.set_title(f"{classes[pred]} ({r['outputs'][name][pred]:.2f})", fontsize=9,
                         color="tab:green" if pred == r["label"] else "tab:red")
            if row == 1:
                ax.set_xlabel(f"strength {s:g}", fontsize=9)
            if col == 0:
                ax.set_ylabel(name, fontsize=10)
    what = _METHOD_LABEL[method].format(objective=_OBJECTIVE_LABEL[objective])
    fig.suptitle(f"{what}: prediction (max output) at each strength; true class "
                 f"{classes[int(y[index])]}", fontsize=10)
    fig.tight_layout()
    return fig
