"""Classroom widgets: move a slider, see what the model does.

Every widget here is an :class:`Explorer`: a row of controls, a function that computes a result
from the controls' values (cached, so returning to a setting is instant), and a function that
draws the result as a matplotlib figure shown in an ``ipywidgets.Output``. The parts a test or a
chapter needs are attributes:

    w = attack_explorer(lq, sce, x, y, strengths=[0, 0.1, 0.2])
    w.controls["strength"].value = 0.1   # what a reader does with the slider
    w.result                             # the cached result now shown
    w.figure                             # the figure now shown (closed: no pyplot leak)
    w.cache                              # {key: result} of every setting visited

Online readers have no kernel, so chapters pair a widget with a static figure of the whole
sweep, e.g. :func:`attack_sweep_figure`.
"""
import numbers
import re

import ipywidgets as widgets
import matplotlib.pyplot as plt
import numpy as np

from .. import _validate as V
from .. import attacks

__all__ = ["Explorer", "attack_explorer", "attack_sweep_figure", "show_figure"]


def show_figure(output, fig):
    """Replace what ``output`` (an ``ipywidgets.Output``) shows by ``fig``, then close ``fig``.

    Closing removes the figure from pyplot's list of open figures (no leak, and no second copy
    drawn at the end of the cell); the Figure object itself stays usable for inspection.
    """
    from IPython import get_ipython
    if get_ipython() is not None:  # headless (tests): nothing to display into
        from IPython.display import display
        output.clear_output(wait=True)
        with output:
            display(fig)
    plt.close(fig)


class Explorer(widgets.VBox):
    """Controls -> cached ``compute(**values)`` -> ``draw(result)`` -> a figure in an Output.

    Parameters
    ----------
    controls : dict of name -> ipywidgets value widget
        Their ``.value`` s are passed to ``compute`` as keyword arguments, in this order.
    compute : callable(**values) -> result
        Called once per distinct combination of values; results are kept in :attr:`cache`.
    draw : callable(result) -> matplotlib Figure
        Called on every change (drawing is cheap next to most computations); the figure is
        closed after it is shown, see :func:`show_figure`.
    header : str, optional
        HTML shown above the controls.
    caption : callable(result) -> str, optional
        One line describing a result, under each frame of :meth:`static_figure` (default:
        the setting, "name value, ...").

    Attributes
    ----------
    controls : dict
        The control widgets by name; set ``controls[name].value`` to move one.
    cache : dict
        ``{key: result}`` for every setting computed so far (see :attr:`key`); it is never
        trimmed, so keep results small.
    result, figure :
        What is shown now.
    output : ipywidgets.Output
        Where the figure is shown.
    """

    def __init__(self, controls, compute, draw, header=None, caption=None):
        super().__init__()
        self.controls = dict(controls)
        self.compute = compute
        self.draw = draw
        self.header = header
        self.caption = caption
        self.cache = {}
        self.result = None
        self.figure = None
        self.output = widgets.Output()
        rows = [widgets.HTML(header)] if header else []
        rows += [widgets.HBox(list(self.controls.values()),
                              layout=widgets.Layout(flex_flow="row wrap")), self.output]
        self.children = rows
        for control in self.controls.values():
            control.observe(self._on_change, names="value")
        self.refresh()

    @property
    def key(self):
        """The current setting: a tuple of (name, value) pairs."""
        return self.key_for()

    def key_for(self, **values):
        """The cache key of a setting: ``values`` by control name, the other controls as now."""
        return tuple((name, values.get(name, c.value)) for name, c in self.controls.items())

    def result_at(self, **values):
        """The (cached) result of the setting ``values``; the controls are not moved."""
        key = self.key_for(**values)
        if key not in self.cache:
            self.cache[key] = self.compute(**dict(key))
        return self.cache[key]

    def refresh(self):
        """Compute (or fetch from the cache) the result of the current setting and draw it."""
        self.result = self.result_at()
        self.figure = self.draw(self.result)
        show_figure(self.output, self.figure)

    def static_figure(self, slider, values=None, select=None, options=None, fixed=None,
                      dpi=75, title=None, progress=False):
        """What the explorer shows over a grid, as a :class:`~sparana_lite.static_figure.
        StaticFigure`: an HTML slider (and selector) that works in a static page, no kernel.

        Parameters
        ----------
        slider : str
            The control that the HTML slider moves, e.g. ``"ratio"``.
        values : list, optional
            Its values, in slider order (default: the control's options, for selectors and
            selection sliders; required for numeric sliders).
        select : str, optional
            A second control, offered as an HTML ``<select>``.
        options : list, optional
            Its values (default: all the control's options).
        fixed : dict, optional
            Values of other controls (default: their current values).
        dpi : float in [20, 200]
            Dots per inch of the PNG frames (75: a 9 x 3.4 inch figure is 675 x 255 pixels).
        title : str, optional
            A line above the controls (default: the explorer's header, without tags).
        progress : bool
            Show a progress bar while the frames are computed.

        Every setting is computed once and kept in :attr:`cache` (with what the widget
        visited); the widget's controls are not moved. At most
        :data:`~sparana_lite.static_figure.MAX_FRAMES` frames.
        """
        from tqdm.auto import tqdm

        from .static_figure import MAX_FRAMES, StaticFigure, figure_png
        slider = self._check_control_name(slider, "slider")
        values = self._check_values(slider, values, "values")
        if select is not None:
            select = self._check_control_name(select, "select")
            if select == slider:
                raise ValueError(f"select must name another control than slider ({slider!r})")
            options = self._check_values(select, options, "options")
        elif options is not None:
            raise ValueError("options must be None when no select control is named")
        fixed = {} if fixed is None else fixed
        if not isinstance(fixed, dict):
            raise ValueError(f"fixed must be a dict of control name -> value; got {fixed!r}")
        for name, value in fixed.items():
            self._check_control_name(name, "fixed")
            if name in (slider, select):
                raise ValueError(f"fixed must not set the slider or select control; got {name!r}")
            self._check_values(name, [value], f"fixed[{name!r}]")
        dpi = V.finite_float(dpi, "dpi", low=20, high=200)
        n = len(values) * len(options or [None])
        if n > MAX_FRAMES:
            raise ValueError(f"values and options make {n} frames; at most {MAX_FRAMES} "
                             f"(each adds tens of kB to the page)")
        settings = [{**fixed, **({select: o} if select else {}), slider: v}
                    for o in (options or [None]) for v in values]
        frames, captions = [], []
        for setting in tqdm(settings, disable=not progress, desc="frames", leave=False):
            result = self.result_at(**setting)
            fig = self.draw(result)
            frames.append(figure_png(fig, dpi=dpi))
            plt.close(fig)
            captions.append(self.caption(result) if self.caption
                            else _setting_caption(self.key_for(**setting)))
        start_key = dict(self.key_for())
        start = (_position(options, start_key.get(select)) if select else 0,
                 _position(values, start_key[slider]))
        if title is None and self.header:
            title = re.sub(r"<[^>]+>", "", self.header)
        return StaticFigure(frames, self._labels(slider, values), captions,
                            slider_name=self.controls[slider].description or slider,
                            select_labels=self._labels(select, options) if select else None,
                            select_name=(self.controls[select].description or select)
                            if select else "option", start=start, title=title)

    # -- static_figure's argument checks
    def _check_control_name(self, name, arg):
        if not isinstance(name, str) or name not in self.controls:
            raise ValueError(f"{arg} must name a control, one of {list(self.controls)}; "
                             f"got {name!r}")
        return name

    def _check_values(self, name, values, arg):
        """``values`` checked against control ``name``: options of a selector, numbers within
        a numeric slider's [min, max]. None: the selector's options."""
        control = self.controls[name]
        choices = getattr(control, "_options_values", None)
        if values is None:
            if choices is None:
                raise ValueError(f"{arg} must be given for control {name!r} (a "
                                 f"{type(control).__name__} has no list of options)")
            return list(choices)
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
            raise ValueError(f"{arg} must be a list of values of control {name!r}; "
                             f"got {values!r}")
        values = list(values)
        if not values:
            raise ValueError(f"{arg} must hold at least one value; got an empty list")
        for i, v in enumerate(values):
            if choices is not None:
                if v not in choices:
                    raise ValueError(f"{arg}[{i}] must be one of {list(choices)}; got {v!r}")
            elif hasattr(control, "min") and hasattr(control, "max"):
                V.finite_float(v, f"{arg}[{i}]", low=control.min, high=control.max)
        if len(set(map(repr, values))) != len(values):
            raise ValueError(f"{arg} must not repeat a value; got {values}")
        return values

    def _labels(self, name, values):
        control = self.controls[name]
        choices = getattr(control, "_options_values", None)
        if choices is not None:
            labels = dict(zip(choices, control._options_labels))
            return [labels[v] for v in values]
        return [f"{v:g}" if isinstance(v, numbers.Real) else str(v) for v in values]

    def _on_change(self, change):
        self.refresh()


def _setting_caption(key):
    """"name value, name value" of a cache key."""
    return ", ".join(f"{name} {value:g}" if isinstance(value, float) else f"{name} {value}"
                     for name, value in key)


def _position(values, value):
    """Index of ``value`` in ``values`` (0 when absent)."""
    for i, v in enumerate(values):
        if v == value:
            return i
    return 0


# ------------------------------------------------------------------------- attacks
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
    fig, axes = plt.subplots(2, len(strengths), figsize=(1.35 * len(strengths) + 0.6, 3.4),
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
