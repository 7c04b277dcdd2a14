"""The classroom prune explorer: choose a criterion and a sparsity, see what the network keeps.

    w = prune_explorer(model, sl.load_mnist())
    w.controls["method"].value = "maav"      # what a reader does with the selector
    w.controls["ratio"].value = 0.9          # ... and with the slider
    w.result                                 # the result now shown (a dict, see below)
    w.cache                                  # {setting: result} of every setting visited

The explorer is a :class:`sparana_lite.explorers.Explorer`: its controls are a criterion selector,
a ``FloatSlider(continuous_update=False)`` for the target sparsity, and a scope selector (every
hidden layer with the output layer spared, every layer, or one layer only). Each criterion's
scores are computed once, the first time it is chosen; each setting is pruned once with
:func:`sparana_lite.prune.prune` and its result cached, so returning to a setting is instant.

A result holds the test accuracy, the per-class accuracy (``model.class_accuracy``), the
sparsity of every layer, and a picture of the surviving weights of one layer: the fraction of
nonzero weights in each block of the weight matrix, the matrix shrunk to at most
``max_pixels`` a side.

Online readers have no kernel: :func:`prune_sweep` computes the same results for a whole grid of
settings and :func:`prune_sweep_figure` draws them as one static figure.
"""
import time

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import _validate as V
from .. import prune as P
from .base import Explorer

__all__ = ["METHODS", "PruneExplorer", "Pruner", "prune_explorer", "prune_sweep",
           "prune_sweep_figure", "surviving_picture"]

METHODS = ("magnitude", "maav", "random", "activation_rank")
METHOD_LABELS = {"magnitude": "magnitude |W|", "maav": "MAAV", "random": "random",
                 "activation_rank": "activation rank"}
DEFAULT_RATIOS = tuple(round(0.01 * i, 2) for i in range(100))  # 0.00, 0.01, ..., 0.99
MAX_PIXELS = 200


# --------------------------------------------------------------------------- checks
def _check_data(data, model):
    for name in ("x_train", "x_test", "y_test"):
        if not hasattr(data, name):
            raise TypeError(f"data must be a sparana_lite.Dataset (with x_train, x_test, y_test); "
                            f"got {type(data).__name__}")
    x_train = V.as_float32_matrix(data.x_train, "data.x_train", n_features=model.widths[0])
    x_test = V.as_float32_matrix(data.x_test, "data.x_test", n_features=model.widths[0])
    y_test = V.as_labels(data.y_test, "data.y_test", model.n_classes, n_samples=x_test.shape[0])
    if x_test.shape[0] == 0:
        raise ValueError("data.x_test must hold at least one sample")
    return x_train, x_test, y_test


def _check_methods(methods):
    if isinstance(methods, str) or not hasattr(methods, "__iter__"):
        raise ValueError(f"methods must be a list of names from {METHODS}; got {methods!r}")
    methods = list(methods)
    if not methods:
        raise ValueError("methods must name at least one method; got an empty list")
    for m in methods:
        if m not in METHODS:
            raise ValueError(f"methods must hold names from {METHODS}; got {m!r}")
    if len(set(methods)) != len(methods):
        raise ValueError(f"methods must not repeat a name; got {methods}")
    return methods


def _check_ratios(ratios):
    if isinstance(ratios, (str, bytes)) or not hasattr(ratios, "__iter__"):
        raise ValueError(f"ratios must be a list of target sparsities in [0, 1]; got {ratios!r}")
    values = [V.finite_float(r, "ratios[%d]" % i, low=0, high=1) for i, r in enumerate(ratios)]
    if len(values) < 2:
        raise ValueError(f"ratios must hold at least two values for the slider; got {values}")
    if len(set(values)) != len(values):
        raise ValueError(f"ratios must not repeat a value; got {values}")
    return sorted(values)


def _check_layer(layer, n_layers):
    if isinstance(layer, bool) or not isinstance(layer, (int, np.integer)) \
            or not 0 <= layer < n_layers:
        raise ValueError(f"layer must be a layer index in [0, {n_layers - 1}]; got {layer!r}")
    return int(layer)


def _scope_options(n_layers):
    """(label, value) pairs of the scope selector: which layers a ratio applies to."""
    options = [("hidden layers (output spared)", "hidden"), ("all layers", "all")]
    options += [(f"layer {i + 1} only", i) for i in range(n_layers)]   # numbered from 1, as in the text
    return options


def _check_scope(scope, n_layers):
    values = [v for _, v in _scope_options(n_layers)]
    if isinstance(scope, bool) or scope not in values:
        raise ValueError(f"scope must be one of {values}; got {scope!r}")
    return scope


# -------------------------------------------------------------------------- pictures
def surviving_picture(W, max_pixels=MAX_PIXELS):
    """The fraction of nonzero weights in each block of ``W``, shrunk to <= max_pixels a side.

    Rows and columns are split into ``ceil(n / max_pixels)``-sized blocks (the last block may
    be smaller); a matrix that already fits is returned as ``W != 0`` (as float32).

    Returns
    -------
    picture : float32 array, values in [0, 1]
    block : (int, int)
        The block size (rows, columns) that one pixel stands for.
    """
    W = np.asarray(W)
    if W.ndim != 2:
        raise ValueError(f"W must be a 2-D weight matrix; got shape {W.shape}")
    max_pixels = V.positive_int(max_pixels, "max_pixels")
    alive = (W != 0).astype(np.float32)
    block = tuple(-(-n // max_pixels) for n in W.shape)  # ceil division
    rows = np.arange(0, W.shape[0], block[0])
    cols = np.arange(0, W.shape[1], block[1])
    counts = np.add.reduceat(np.add.reduceat(alive, rows, axis=0), cols, axis=1)
    sizes = np.outer(np.diff(np.append(rows, W.shape[0])), np.diff(np.append(cols, W.shape[1])))
    return (counts / sizes).astype(np.float32), block


# ---------------------------------------------------------------------------- pruner
class Pruner:
    """Scores once per criterion, prunes with :func:`sparana_lite.prune.prune`, measures.

    Parameters
    ----------
    model : MLP
        The trained model; never changed.
    data : sparana_lite.Dataset
        MAAV is computed on ``maav_samples`` training images (a seeded sample); accuracies on
        the whole test set.
    layer : int
        The layer whose surviving weights are pictured.
    maav_samples : int
        Number of training images MAAV is computed on, at most the number of training images.
        (The ``activation_rank`` method ranks by |W| within each row; it uses no data.)
    seed : int
        Seeds the MAAV sample and the random scores.
    max_pixels : int
        The picture's largest side.

    Attributes
    ----------
    scores : dict
        ``{method: scores}`` for every criterion computed so far.
    maav_indices : int array
        The training images MAAV is computed on (sorted).
    base : dict
        The unpruned model's result (ratio 0).
    """

    def __init__(self, model, data, layer=1, maav_samples=1000, seed=0, max_pixels=MAX_PIXELS):
        self.model = V.mlp(model)
        self.x_train, self.x_test, self.y_test = _check_data(data, model)
        self.layer = _check_layer(layer, len(model.layers))
        self.maav_samples = V.positive_int(maav_samples, "maav_samples")
        if self.maav_samples > self.x_train.shape[0]:
            raise ValueError(f"maav_samples ({self.maav_samples}) must not exceed the number of "
                             f"training images ({self.x_train.shape[0]})")
        self.seed = V.seed_int(seed)
        self.max_pixels = V.positive_int(max_pixels, "max_pixels")
        rng = np.random.default_rng(self.seed)
        self.maav_indices = np.sort(rng.choice(self.x_train.shape[0], self.maav_samples,
                                               replace=False))
        self.class_counts = np.bincount(self.y_test, minlength=model.n_classes)
        self.scores = {}
        self.base = self._measure(model, "none", 0.0, "hidden", 0.0)

    def score(self, method):
        """The scores of ``method``, computed on the first call and kept."""
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}; got {method!r}")
        if method not in self.scores:
            if method == "magnitude":
                s = P.magnitude(self.model)
            elif method == "maav":
                s = P.maav(self.model, self.x_train[self.maav_indices])
            elif method == "random":
                s = P.random(self.model, seed=self.seed)
            else:
                s = P.activation_rank(self.model)
            self.scores[method] = s
        return self.scores[method]

    def pruned(self, method, ratio, scope="hidden"):
        """The model pruned by ``method`` to target sparsity ``ratio`` in the ``scope`` layers.

        ``scope``: "hidden" (``ratio=``, the output layer spared), "all" (``prune_last=True``)
        or a layer index (``ratios=`` with that layer only).
        """
        ratio = V.finite_float(ratio, "ratio", low=0, high=1)
        scope = _check_scope(scope, len(self.model.layers))
        scores = self.score(method)
        if scope == "hidden":
            return P.prune(self.model, scores, ratio=ratio)
        if scope == "all":
            return P.prune(self.model, scores, ratio=ratio, prune_last=True)
        ratios = [ratio if i == scope else None for i in range(len(self.model.layers))]
        return P.prune(self.model, scores, ratios=ratios)

    def _measure(self, pruned, method, ratio, scope, prune_seconds):
        start = time.perf_counter()
        class_acc = pruned.class_accuracy(self.x_test, self.y_test)
        hits = np.rint(np.nan_to_num(class_acc) * self.class_counts).sum()
        picture, block = surviving_picture(pruned.weights[self.layer], self.max_pixels)
        return {"method": method, "ratio": float(ratio), "scope": scope,
                "accuracy": float(hits / self.y_test.shape[0]),
                "class_accuracy": class_acc,
                "sparsity": pruned.sparsity(),
                "nonzero": [layer.nnz() for layer in pruned.layers],
                "layer": self.layer, "layer_shape": pruned.layers[self.layer].shape,
                "picture": picture, "block": block,
                "seconds": prune_seconds + time.perf_counter() - start}

    def result(self, method, ratio, scope="hidden"):
        """Prune and measure: a dict with ``accuracy``, ``class_accuracy``, ``sparsity`` (per
        layer), ``nonzero`` (weights per layer), ``picture``/``block`` (see
        :func:`surviving_picture`), ``layer``, ``method``, ``ratio``, ``scope``, ``seconds``."""
        start = time.perf_counter()
        pruned = self.pruned(method, ratio, scope)
        return self._measure(pruned, method, ratio, scope, time.perf_counter() - start)


# --------------------------------------------------------------------------- drawing
def _draw(result, base, classes):
    fig, (bar_ax, pic_ax) = plt.subplots(1, 2, figsize=(9, 3.4),
                                         gridspec_kw={"width_ratios": [1.3, 1]})
    x = np.arange(len(result["class_accuracy"]))
    bar_ax.bar(x, base["class_accuracy"], color="none", edgecolor="tab:gray", label="unpruned")
    bar_ax.bar(x, result["class_accuracy"], width=0.6, color="tab:blue", label="pruned")
    bar_ax.axhline(0.1, color="gray", lw=0.8, ls=":")
    bar_ax.set_xticks(x)
    bar_ax.set_xticklabels(classes, fontsize=8)
    bar_ax.set_ylim(0, 1.05)
    bar_ax.set_xlabel("class")
    bar_ax.set_ylabel("test accuracy")
    bar_ax.legend(fontsize=8, loc="lower left")
    bar_ax.set_title(f"accuracy {result['accuracy']:.3f} (unpruned {base['accuracy']:.3f})",
                     fontsize=10)
    n_in, n_out = result["layer_shape"]
    pic_ax.imshow(result["picture"], cmap="gray_r", vmin=0, vmax=1, aspect="auto",
                  interpolation="nearest")
    pic_ax.set_xlabel(f"output neuron (pixel = {result['block'][1]} columns)", fontsize=8)
    pic_ax.set_ylabel(f"input (pixel = {result['block'][0]} rows)", fontsize=8)
    pic_ax.set_xticks([])
    pic_ax.set_yticks([])
    kept = 1 - result["sparsity"][result["layer"]]
    pic_ax.set_title(f"layer {result['layer'] + 1} ({n_in}x{n_out}): {kept:.1%} of weights kept",
                     fontsize=10)
    scope = result["scope"]
    where = ({"hidden": "every layer but the output", "all": "every layer"}[scope]
             if isinstance(scope, str) else f"layer {scope + 1} only")
    fig.suptitle(f"{METHOD_LABELS.get(result['method'], result['method'])} pruning to "
                 f"{result['ratio']:.0%} sparsity in {where}; layer sparsity "
                 + ", ".join(f"{s:.0%}" for s in result["sparsity"]), fontsize=10)
    fig.tight_layout()
    return fig


def _caption(result):
    """One line: criterion, sparsity, scope and accuracy."""
    scope = result["scope"]
    where = ({"hidden": "hidden layers", "all": "all layers"}[scope] if isinstance(scope, str)
             else f"layer {scope + 1} only")
    return (f"{METHOD_LABELS.get(result['method'], result['method'])}, {result['ratio']:.0%} "
            f"sparsity ({where}): test accuracy {result['accuracy']:.3f}")


# --------------------------------------------------------------------------- explorer
class PruneExplorer(Explorer):
    """The explorer widget; see :func:`prune_explorer`. The ratio slider snaps to the grid."""

    def __init__(self, pruner, methods, ratios, method, ratio, scope, classes):
        self.pruner = pruner
        self.ratios = np.asarray(ratios)
        step = float(np.min(np.diff(self.ratios)))
        controls = {
            "method": widgets.ToggleButtons(options=[(METHOD_LABELS[m], m) for m in methods],
                                            value=method, description="criterion"),
            "ratio": widgets.FloatSlider(value=ratio, min=float(self.ratios[0]),
                                         max=float(self.ratios[-1]), step=round(step, 6),
                                         continuous_update=False, readout_format=".2f",
                                         description="sparsity"),
            "scope": widgets.Dropdown(options=_scope_options(len(pruner.model.layers)),
                                      value=scope, description="prune"),
        }
        controls["method"].style.button_width = "110px"
        self.last_seconds = None
        super().__init__(controls, pruner.result,
                         lambda r: _draw(r, pruner.base, classes), caption=_caption,
                         header="<b>Prune a trained network</b>: pick a criterion and a target "
                                "sparsity; no retraining.")

    def snap(self, value):
        """The grid ratio nearest ``value``."""
        return float(self.ratios[np.argmin(np.abs(self.ratios - value))])

    def key_for(self, **values):
        """The cache key, with the ratio snapped to the grid."""
        key = dict(super().key_for(**values))
        key["ratio"] = self.snap(key["ratio"])
        return tuple(key.items())

    def _check_values(self, name, values, arg):
        """As the base class, and ratios must lie on the explorer's grid (no silent snapping)."""
        values = super()._check_values(name, values, arg)
        if name == "ratio":
            for i, v in enumerate(values):
                if self.snap(v) != v:
                    raise ValueError(f"{arg}[{i}] must be one of the explorer's ratios; got {v!r}")
        return values

    def refresh(self):
        start = time.perf_counter()
        super().refresh()
        self.last_seconds = time.perf_counter() - start

    def _on_change(self, change):
        slider = self.controls["ratio"]
        if change["owner"] is slider and self.snap(slider.value) != slider.value:
            slider.value = self.snap(slider.value)  # fires _on_change again, on the grid
            return
        self.refresh()


def prune_explorer(model, data, methods=("magnitude", "maav", "random"), ratios=DEFAULT_RATIOS,
                   layer=1, maav_samples=1000, seed=0, *, method=None, ratio=None,
                   scope="hidden", classes=None, max_pixels=MAX_PIXELS):
    """A widget: prune a trained model by a criterion to a target sparsity and see the result.

    Parameters
    ----------
    model : sparana_lite.MLP
        The trained model (left unchanged).
    data : sparana_lite.Dataset
        Accuracy is measured on its whole test set; MAAV on ``maav_samples`` training images.
    methods : list of str
        Criteria offered, from ``("magnitude", "maav", "random", "activation_rank")``; see
        :mod:`sparana_lite.prune`.
    ratios : list of float in [0, 1]
        Target sparsities the slider can reach (default 0.00, 0.01, ..., 0.99). The slider's
        step is the smallest gap; a value between grid points snaps to the nearest one.
    layer : int
        The layer whose surviving weights are pictured.
    maav_samples : int
        Training images (a sample seeded by ``seed``) that MAAV is computed on.
    seed : int
        Seeds the MAAV sample and the random scores.
    method, ratio, scope :
        The setting first shown (default: the first method, the smallest ratio, ``"hidden"``).
        ``scope`` is ``"hidden"`` (every layer but the output, as the blog prunes), ``"all"``,
        or a layer index (that layer only).
    classes : list of str, optional
        Class names for the bars (default ``data.classes`` or "0".."9").
    max_pixels : int
        The weight picture's largest side.

    Returns
    -------
    PruneExplorer
        ``.controls["method"|"ratio"|"scope"]``, ``.result`` (see :meth:`Pruner.result`),
        ``.figure``, ``.cache``, ``.pruner`` (with ``.scores`` and ``.base``), and
        ``.last_seconds`` (the time the last change took to show).
    """
    methods = _check_methods(methods)
    ratios = _check_ratios(ratios)
    pruner = Pruner(model, data, layer, maav_samples, seed, max_pixels)
    method = methods[0] if method is None else method
    if method not in methods:
        raise ValueError(f"method must be one of methods {methods}; got {method!r}")
    ratio = ratios[0] if ratio is None else V.finite_float(ratio, "ratio", low=0, high=1)
    if ratio not in ratios:
        raise ValueError(f"ratio must be one of ratios; got {ratio!r}")
    scope = _check_scope(scope, len(model.layers))
    if classes is None:
        classes = getattr(data, "classes", None) or range(model.n_classes)
    classes = [str(c) for c in classes]
    if len(classes) != model.n_classes:
        raise ValueError(f"classes must name {model.n_classes} classes; got {len(classes)}")
    return PruneExplorer(pruner, methods, ratios, method, ratio, scope, classes)


# ----------------------------------------------------------------------------- sweep
def prune_sweep(model, data, methods=("magnitude", "maav", "random"), ratios=DEFAULT_RATIOS,
                layer=1, maav_samples=1000, seed=0, scope="hidden", progress=False):
    """What :func:`prune_explorer` shows, for every (method, ratio) at once.

    Returns
    -------
    dict
        ``{(method, ratio): result}`` (see :meth:`Pruner.result`), plus the key
        ``("none", 0.0)`` for the unpruned model, and the :class:`Pruner` under ``"pruner"``.
    """
    from tqdm.auto import tqdm
    methods = _check_methods(methods)
    ratios = _check_ratios(ratios)
    pruner = Pruner(model, data, layer, maav_samples, seed)
    scope = _check_scope(scope, len(model.layers))
    results = {"pruner": pruner, ("none", 0.0): pruner.base}
    settings = [(m, r) for m in methods for r in ratios]
    for m, r in tqdm(settings, disable=not progress, desc="pruning", leave=False):
        results[m, r] = pruner.result(m, r, scope)
    return results


def prune_sweep_figure(results, show_ratios=(0.8, 0.9, 0.95), classes=None):
    """A static figure of a :func:`prune_sweep`: accuracy against sparsity for each method,
    then per method the per-class accuracy and the surviving weights at ``show_ratios``.

    Returns the (open) Figure.
    """
    methods = list(dict.fromkeys(k[0] for k in results if isinstance(k, tuple) and k[0] != "none"))
    if not methods:
        raise ValueError("results must come from prune_sweep (no (method, ratio) entries found)")
    ratios = sorted({k[1] for k in results if isinstance(k, tuple) and k[0] == methods[0]})
    show_ratios = [V.finite_float(r, "show_ratios[%d]" % i, low=0, high=1)
                   for i, r in enumerate(show_ratios)]
    for r in show_ratios:
        if (methods[0], r) not in results:
            raise ValueError(f"show_ratios: {r} is not a ratio of the sweep {ratios}")
    base = results["none", 0.0]
    n_classes = len(base["class_accuracy"])
    classes = [str(c) for c in (classes if classes is not None else range(n_classes))]
    colors = {"magnitude": "tab:blue", "maav": "tab:orange", "random": "tab:green",
              "activation_rank": "tab:purple"}
    n_cols = len(show_ratios)
    fig = plt.figure(figsize=(2.0 * n_cols + 3.2, 1.7 * len(methods) * 2 + 0.4))
    grid = fig.add_gridspec(2 * len(methods), n_cols + 1, width_ratios=[1.6] + [1] * n_cols)
    curve = fig.add_subplot(grid[:, 0])
    for m in methods:
        curve.plot(ratios, [results[m, r]["accuracy"] for r in ratios], "o-", ms=3,
                   color=colors.get(m), label=METHOD_LABELS.get(m, m))
    curve.axhline(base["accuracy"], color="gray", lw=0.8, label="unpruned")
    curve.axhline(0.1, color="gray", lw=0.8, ls=":", label="chance")
    curve.set_xlabel("target sparsity per layer")
    curve.set_ylabel("test accuracy (no retraining)")
    curve.set_ylim(0, 1.02)
    curve.legend(fontsize=9, loc="lower left")
    for row, m in enumerate(methods):
        for col, r in enumerate(show_ratios):
            res = results[m, r]
            ax = fig.add_subplot(grid[2 * row, col + 1])
            ax.bar(np.arange(n_classes), base["class_accuracy"], color="none",
                   edgecolor="tab:gray")
            ax.bar(np.arange(n_classes), res["class_accuracy"], width=0.6, color=colors.get(m))
            ax.set_ylim(0, 1.05)
            ax.set_xticks(np.arange(n_classes))
            ax.set_xticklabels(classes, fontsize=8)
            ax.tick_params(axis="y", labelsize=8)
            if col == 0:
                ax.set_ylabel("class accuracy", fontsize=8)
            ax.set_title(f"{METHOD_LABELS.get(m, m)}, {r:.0%}: acc {res['accuracy']:.3f}",
                         fontsize=9)
            pic = fig.add_subplot(grid[2 * row + 1, col + 1])
            pic.imshow(res["picture"], cmap="gray_r", vmin=0, vmax=1, aspect="auto",
                       interpolation="nearest")
            pic.set_xticks([])
            pic.set_yticks([])
            # layers are numbered from 1 in the text (layer 1 is 784 x 1000)
            pic.set_title(f"layer {res['layer'] + 1}: {1 - res['sparsity'][res['layer']]:.1%} kept",
                          fontsize=9)
    fig.tight_layout()
    return fig
