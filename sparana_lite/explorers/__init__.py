"""Classroom explorers: move a slider, see what the model does; one module per explorer.

    base           the Explorer: controls -> cached result -> figure; show_figure
    static_figure  the same explorer as an HTML slider over precomputed frames (no kernel)
    attack         attack one digit, see the LQ and SCE models' outputs
    prune          prune by a criterion to a sparsity, see what the network keeps
    forget         make the network forget a digit (MAAV difference), see the classes
    removal        prune, remove activations, see the widths and the speed

Each explorer module imports the base (and the static figure) and the library modules it
shows; none imports this package or :mod:`sparana_lite.widgets`, the chapters' old address,
which re-exports the names below.
"""
from .attack import attack_explorer, attack_sweep_figure
from .base import Explorer, show_figure
from .forget import forget_explorer, forget_sweep_figure
from .prune import prune_explorer, prune_sweep, prune_sweep_figure
from .removal import removal_explorer, removal_sweep, removal_sweep_figure
from .static_figure import StaticFigure

__all__ = ["Explorer", "show_figure", "StaticFigure", "attack_explorer", "attack_sweep_figure",
           "prune_explorer", "prune_sweep", "prune_sweep_figure", "forget_explorer",
           "forget_sweep_figure", "removal_explorer", "removal_sweep", "removal_sweep_figure"]
