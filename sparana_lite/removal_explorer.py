"""The removal explorer at its old address; the code is in :mod:`sparana_lite.explorers.removal`."""
from .explorers.removal import (  # noqa: F401
    DEFAULT_AMOUNTS, LABELS, Remover, removal_explorer, removal_sweep, removal_sweep_figure)

__all__ = ["Remover", "removal_explorer", "removal_sweep", "removal_sweep_figure",
           "DEFAULT_AMOUNTS"]
