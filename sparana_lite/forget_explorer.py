"""The forgetting explorer at its old address; the code is in :mod:`sparana_lite.explorers.forget`."""
from .explorers.forget import (  # noqa: F401
    DEFAULT_KS, LAYER_CHOICES, ForgetExplorer, forget_explorer, forget_sweep_figure)

__all__ = ["ForgetExplorer", "forget_explorer", "forget_sweep_figure", "LAYER_CHOICES"]
