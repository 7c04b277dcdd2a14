"""The package's layout: no import loop, every module imports alone and names its concern.

The import graph is read from the source with ``ast``: every ``import`` statement of a module,
at the top or inside a function, that names a module of the package. Importing ``a.b.c`` also
runs the ``__init__`` of packages ``a.b`` (and ``a``), so an import of a module in another
sub-package is an edge to that sub-package too; the root package, which imports everything for
``import sparana_lite as sl``, is left out of that rule (every module would "import" it).
"""
import ast
import json
import os
import re
from pathlib import Path
import subprocess
import sys
import textwrap

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sparana_lite"


def modules(package_dir):
    """{dotted name: path} of every module under ``package_dir``; a package is its ``__init__``."""
    out = {}
    for path in sorted(Path(package_dir).rglob("*.py")):
        parts = path.relative_to(Path(package_dir).parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imported(node, name, is_package, known):
    """The modules of ``known`` that one import statement of module ``name`` names."""
    if isinstance(node, ast.Import):
        targets = [alias.name for alias in node.names]
    else:
        if node.level:
            base = name.split(".") if is_package else name.split(".")[:-1]
            base = base[:len(base) - (node.level - 1)] + ([node.module] if node.module else [])
            base = ".".join(base)
        else:
            base = node.module
        # ``from p import x``: module p.x if there is one, else a name defined in p
        targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                   for alias in node.names]
    found = set()
    for target in targets:
        while target and target not in known:   # ``import a.b.c`` of a name inside a module
            target = target.rpartition(".")[0]
        if target:
            found.add(target)
    return found


def import_graph(package_dir):
    """{module: set of the package's modules it imports}, see the module docstring."""
    known = modules(package_dir)
    root = Path(package_dir).name
    graph = {}
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        edges = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                edges |= _imported(node, name, is_package, known)
        own = {name.rsplit(".", k)[0] for k in range(name.count(".") + 1)}  # itself, its parents
        for target in list(edges):
            parts = target.split(".")
            for k in range(2, len(parts)):       # sub-packages above the target, not the root
                parent = ".".join(parts[:k])
                if parent in known and parent not in own and parent != root:
                    edges.add(parent)
        edges.discard(name)
        graph[name] = edges
    return graph


def find_cycle(graph):
    """One import loop as a list [a, b, ..., a], or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state:
                cycle = visit(nxt)
                if cycle:
                    return cycle
        stack.pop()
        state[node] = "done"
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def test_the_import_graph_of_sparana_lite_has_no_cycle():
    graph = import_graph(PACKAGE)
    assert len(graph) > 30 and "sparana_lite.forget.ssd" in graph["sparana_lite.forget"]
    assert "sparana_lite.model" in graph["sparana_lite._validate"]   # an edge it must see
    cycle = find_cycle(graph)
    assert cycle is None, "import loop: " + " -> ".join(cycle)


def test_explorers_import_nothing_back_up():
    """No explorer module imports its package, the chapters' old addresses, or another
    explorer (only the base and the static figure)."""
    graph = import_graph(PACKAGE)
    up = {"sparana_lite.explorers", "sparana_lite.widgets", "sparana_lite.prune_explorer",
          "sparana_lite.forget_explorer", "sparana_lite.removal_explorer",
          "sparana_lite.static_figure"}
    shared = {"sparana_lite.explorers.base", "sparana_lite.explorers.static_figure"}
    explorers = [m for m in graph if m.startswith("sparana_lite.explorers.")]
    assert len(explorers) == 6
    for name in explorers:
        siblings = {m for m in graph[name] if m.startswith("sparana_lite.explorers.")} - shared
        assert not graph[name] & up and not siblings, (name, graph[name] & (up | siblings))
    # and nothing below the explorers imports them
    for name, edges in graph.items():
        if name not in up and not name.startswith("sparana_lite.explorers") \
                and name != "sparana_lite":
            assert not edges & (up | set(explorers)), (name, edges)


def _write(folder, files):
    for rel, text in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_a_loop_through_a_function_level_import_is_found(tmp_path):
    """The check can fail: a loop of two, one side importing inside a function (the shape
    _validate.py and model.py had)."""
    _write(tmp_path, {"pkg/__init__.py": "", "pkg/a.py": "from .b import g\n",
                      "pkg/b.py": "def g():\n    from .a import f\n    return f\n",
                      "pkg/c.py": "from . import a\n"})
    graph = import_graph(tmp_path / "pkg")
    assert graph["pkg.c"] == {"pkg.a"}
    assert find_cycle(graph) in (["pkg.a", "pkg.b", "pkg.a"], ["pkg.b", "pkg.a", "pkg.b"])


def test_a_loop_through_a_package_init_is_found(tmp_path):
    """The shape widgets.py had: a module importing, at its bottom, modules that import it;
    and the same loop when it only passes through a sub-package's ``__init__``."""
    _write(tmp_path, {"pkg/__init__.py": "from . import widgets\n",
                      "pkg/widgets.py": "class Explorer: pass\nfrom .prune_explorer import p\n",
                      "pkg/prune_explorer.py": "from .widgets import Explorer\np = 1\n"})
    assert find_cycle(import_graph(tmp_path / "pkg"))[0] in ("pkg.widgets", "pkg.prune_explorer")
    _write(tmp_path, {"q/__init__.py": "", "q/other.py": "from .sub.x import y\n",
                      "q/sub/__init__.py": "from ..other import *\n", "q/sub/x.py": "y = 1\n"})
    graph = import_graph(tmp_path / "q")
    assert graph["q.other"] == {"q.sub.x", "q.sub"}
    assert find_cycle(graph) is not None


def test_a_layout_without_loops_passes(tmp_path):
    _write(tmp_path, {"pkg/__init__.py": "from . import a, b\n", "pkg/a.py": "import os\n",
                      "pkg/b.py": "from . import a\nfrom .a import os\n",
                      "pkg/sub/__init__.py": "from .x import y\n",
                      "pkg/sub/x.py": "from .. import b\ny = 1\n"})
    graph = import_graph(tmp_path / "pkg")
    assert graph["pkg.sub.x"] == {"pkg.b"} and graph["pkg.b"] == {"pkg.a"}
    assert find_cycle(graph) is None


_IMPORT_ALONE = """
import importlib, importlib.machinery, json, sys, traceback, types
package, names = sys.argv[1], sys.argv[2:]
failures = {}
for name in names:
    for loaded in [m for m in sys.modules if m == "sparana_lite" or m.startswith("sparana_lite.")]:
        del sys.modules[loaded]
    if name != "sparana_lite":
        # an empty root package: only what `name` itself imports gets loaded
        root = types.ModuleType("sparana_lite")
        root.__path__ = [package]
        root.__spec__ = importlib.machinery.ModuleSpec("sparana_lite", None, is_package=True)
        root.__spec__.submodule_search_locations = [package]
        sys.modules["sparana_lite"] = root
    try:
        importlib.import_module(name)
    except BaseException:
        failures[name] = traceback.format_exc(limit=-3)
print(json.dumps(failures))
"""


def test_every_module_imports_alone():
    """Each module imported first, in a fresh interpreter's package, loads with only what it
    imports itself (a loop shows here as a partially initialised module)."""
    names = sorted(modules(PACKAGE))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
    result = subprocess.run([sys.executable, "-c", _IMPORT_ALONE, str(PACKAGE), *names],
                            capture_output=True, text=True, cwd=ROOT, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    failures = json.loads(result.stdout.strip().splitlines()[-1])
    assert not failures, "\n".join(f"{name}:\n{tb}" for name, tb in failures.items())


@pytest.mark.parametrize("name", sorted(modules(PACKAGE)))
def test_every_module_names_its_concern_in_its_first_docstring_line(name):
    path = modules(PACKAGE)[name]
    doc = ast.get_docstring(ast.parse(path.read_text()))
    assert doc and doc.splitlines()[0].strip(), f"{path} has no docstring naming its concern"


def _rooms(doc):
    """The rooms of the package docstring's map, in order: ``model.py`` -> "model",
    ``forget/`` -> "forget"."""
    rooms = []
    for line in doc.split("Where each concept lives")[1].split("\n\n")[1].splitlines():
        rooms += [m.group(1) for m in re.finditer(r"(?:^\s+|;\s+)(\w+)(?:\.py|/)", line)]
    return rooms


def test_the_package_docstring_maps_every_room_from_the_ground_up():
    """Every module (old addresses and ``__main__`` aside) is in a room of the map in
    ``sparana_lite/__init__.py``, and imports only from its own room or rooms above it."""
    import sparana_lite
    rooms = _rooms(sparana_lite.__doc__)
    assert len(rooms) == len(set(rooms)) and "model" in rooms and "forget" in rooms
    aside = {"__main__", "widgets", "prune_explorer", "forget_explorer", "removal_explorer",
             "static_figure"}

    def room(module):
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else None

    graph = import_graph(PACKAGE)
    for name, edges in graph.items():
        if room(name) is None or room(name) in aside:
            continue
        assert room(name) in rooms, f"{name} is in no room of the package docstring's map"
        for target in edges:
            if room(target) not in (None, room(name)):
                assert rooms.index(room(target)) < rooms.index(room(name)), \
                    f"{name} imports {target}, a room below it in the map"
