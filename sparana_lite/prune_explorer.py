"""The prune explorer at its old address; the code is in :mod:`sparana_lite.explorers.prune`."""
from .explorers.prune import (  # noqa: F401
    DEFAULT_RATIOS, MAX_PIXELS, METHOD_LABELS, METHODS, PruneExplorer, Pruner, prune_explorer,
    prune_sweep, prune_sweep_figure, surviving_picture)

__all__ = ["METHODS", "PruneExplorer", "Pruner", "prune_explorer", "prune_sweep",
           "prune_sweep_figure", "surviving_picture"]
