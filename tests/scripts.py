"""Importing the modules of scripts/ (the experiments of scripts/reproduce.py), which is not a
package on the import path, and checking that results survive a JSON round trip."""
import importlib
import importlib.util
import json
from pathlib import Path
import sys

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


def import_script(name):
    """``import name`` with scripts/ on the path, e.g. "reproduce" or "repro.lq"."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(SCRIPTS))


def import_file(path, name=None):
    """The module in the Python file ``path`` (outside any package, e.g. _ext/ or scripts/),
    imported under ``name`` (default: the file's stem)."""
    path = Path(path)
    spec = importlib.util.spec_from_file_location(name or path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def roundtrip(results):
    """The results, after checking that JSON writes and reads them back unchanged."""
    assert json.loads(json.dumps(results)) == results
    return results
