"""The repository's conftest.py gives nbval a longer wait for a cell's output: a kernel that
falls 8 s behind after a cell's reply (as a loaded machine makes it) passes, where nbval's own
5 s wait fails it."""
from pathlib import Path
import shutil
import subprocess
import sys

import nbformat

ROOT = Path(__file__).resolve().parents[1]

# Runs in the kernel: the next "idle" status (sent right after the cell's reply) is delayed
# by 8 s, as if the kernel were still busy sending the cell's output.
LATE_IDLE = """
import time
session = get_ipython().kernel.session
send = session.send

def late_idle(stream, msg_or_type, content=None, *args, **kwargs):
    if msg_or_type == "status" and (content or {}).get("execution_state") == "idle":
        session.send = send
        time.sleep(8)
    return send(stream, msg_or_type, content, *args, **kwargs)

session.send = late_idle
print("sent late")
"""


def run_nbval(folder, *options):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(LATE_IDLE),
                                         nbformat.v4.new_code_cell("print(1 + 1)")])
    nbformat.write(nb, folder / "late.ipynb")
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q",
                           "--nbval-lax", "--nbval-current-env", *options, "late.ipynb"],
                          cwd=folder, capture_output=True, text=True, timeout=300)


def test_a_late_kernel_passes_with_the_repositorys_wait(tmp_path):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    done = run_nbval(tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # not vacuous: with nbval's own 5 s the same kernel fails the cell
    done = run_nbval(tmp_path, "--nbval-output-timeout", "5")
    assert done.returncode != 0 and "waiting for output" in done.stdout, done.stdout[-3000:]
