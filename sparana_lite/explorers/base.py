"""The explorer base: controls -> a cached result -> a figure, and its static twin for the page.

Every classroom widget is an :class:`Explorer`: a row of controls, a function that computes a
result from the controls' values (cached, so returning to a setting is instant), and a function
that draws the result as a matplotlib figure shown in an ``ipywidgets.Output``. The parts a test
or a chapter needs are attributes:

    w = attack_explorer(lq, sce, x, y, strengths=[0, 0.1, 0.2])
    w.controls["strength"].value = 0.1   # what a reader does with the slider
    w.result                             # the cached result now shown
    w.figure                             # the figure now shown (closed: no pyplot leak)
    w.cache                              # {key: result} of every setting visited

Online readers have no kernel, so chapters pair a widget with a static figure of the whole
sweep: :meth:`Explorer.static_figure` (see :mod:`.static_figure`), or a sweep figure of the
explorer's own module, e.g. :func:`~sparana_lite.explorers.attack.attack_sweep_figure`.
"""
import numbers
import re

import ipywidgets as widgets
import matplotlib.pyplot as plt

from .. import _validate as V

__all__ = ["Explorer", "show_figure"]


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
        """What the explorer shows over a grid, as a
        :class:`~sparana_lite.explorers.static_figure.StaticFigure`: an HTML slider (and
        selector) that works in a static page, no kernel.

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
        :data:`~sparana_lite.explorers.static_figure.MAX_FRAMES` frames.
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
