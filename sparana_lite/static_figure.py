"""The static figure at its old address; the code is in :mod:`sparana_lite.explorers.static_figure`."""
from .explorers.static_figure import MAX_FRAMES, StaticFigure, figure_png

__all__ = ["StaticFigure", "figure_png", "MAX_FRAMES"]
