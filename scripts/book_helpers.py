"""Small helpers the chapters share: library listings, results files and their provenance.

    sys.path.insert(0, "../scripts")
    from book_helpers import describe, esc, load_results, show
"""
import ast
import inspect
import json
from pathlib import Path
import textwrap

RESULTS = Path(__file__).resolve().parents[1] / "book" / "results"


def listing(obj):
    """The source of a function, method or class without its docstring, headed by the file it
    is in (the docstring is in the file; the chapter's prose says what it would)."""
    obj = getattr(obj, "py_func", obj)   # a numba kernel: its Python function
    source = textwrap.dedent(inspect.getsource(obj))
    lines = source.splitlines()
    node = ast.parse(source).body[0]
    body = getattr(node, "body", [])
    if (body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)):
        del lines[body[0].lineno - 1:body[0].end_lineno]
    path = Path(inspect.getsourcefile(obj)).resolve()
    where = "/".join(path.parts[path.parts.index("sparana_lite"):]) if "sparana_lite" in path.parts \
        else path.name
    return f"# {where}\n" + "\n".join(lines).rstrip()


def show(*objects):
    """Display the listings of library functions and classes, highlighted."""
    from IPython.display import Markdown, display
    display(Markdown("```python\n" + "\n\n".join(listing(obj) for obj in objects) + "\n```"))


def load_results(name, required=True):
    """A results file of ``scripts/reproduce.py`` (book/results/<name>.json): the whole record,
    or None if it is not there and not ``required``."""
    path = RESULTS / f"{name}.json"
    if not path.exists():
        if required:
            raise FileNotFoundError(f"{path} is missing: run `python scripts/reproduce.py {name}`")
        return None
    return json.loads(path.read_text())


def describe(record):
    """Where a results file's numbers come from, as a phrase a reader can take in: the file,
    the date, the machine and the wall time (the file itself also records the command, the
    code's version and the libraries')."""
    p = record["provenance"]
    return (f"results file `{record['experiment']}.json` of the blog-scale runs, measured on "
            f"{p['date'][:10]} on {p['cpu']} ({p['cores']} cores) in {p['wall_seconds']:,.0f} s")


def esc(text):
    """Text for a Markdown table cell (a bare | would end the cell)."""
    return text.replace("|", "\\|")
