"""Where sparana_lite reads data and keeps its caches.

Data: ``$SPARANA_LITE_DATA`` (a folder holding ``mnist/`` and ``fashion_mnist/``), then the
per-user cache. Cache: ``$SPARANA_LITE_CACHE``, else ``$XDG_CACHE_HOME/sparana_lite``, else
``~/.cache/sparana_lite``. No path is ever relative to the working directory.
"""
import os
from pathlib import Path


def cache_dir():
    """The per-user cache folder (trained models, downloaded and parsed data)."""
    env = os.environ.get("SPARANA_LITE_CACHE")
    if env:
        return Path(env).expanduser().resolve()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return (base / "sparana_lite").resolve()


def data_dir():
    """The folder named by ``$SPARANA_LITE_DATA``, or None when it is unset."""
    env = os.environ.get("SPARANA_LITE_DATA")
    return Path(env).expanduser().resolve() if env else None
