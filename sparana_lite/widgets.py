"""Classroom widgets, at the chapters' old address: the explorers live in :mod:`.explorers`.

``sl.widgets.attack_explorer``, ``sl.widgets.forget_explorer`` and the rest keep working; the
code of each is in its own module of :mod:`sparana_lite.explorers`.
"""
from .explorers import (Explorer, attack_explorer, attack_sweep_figure, forget_explorer,
                        forget_sweep_figure, prune_explorer, prune_sweep, prune_sweep_figure,
                        removal_explorer, removal_sweep, removal_sweep_figure, show_figure)

__all__ = ["Explorer", "attack_explorer", "attack_sweep_figure", "show_figure",
           "prune_explorer", "prune_sweep", "prune_sweep_figure", "forget_explorer",
           "forget_sweep_figure", "removal_explorer", "removal_sweep", "removal_sweep_figure"]
