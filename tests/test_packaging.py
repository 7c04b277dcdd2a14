"""requirements.lock pins everything pyproject.toml asks for the book and the tests."""
from pathlib import Path
import re
import sys

from packaging.markers import Marker
from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def _name(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins():
    """{package: version} of the lock's lines that apply to this Python."""
    pins = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line or line[0] in "# -":
            continue
        spec, _, marker = line.partition(";")
        if marker and not Marker(marker.strip()).evaluate():
            continue
        name, _, version = spec.strip().partition("==")
        pins[_name(name)] = version
    return pins


def test_lock_pins_every_dependency_within_its_range():
    """Fails when pyproject.toml gains or narrows a dependency and `make lock` was not re-run."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in ("test", "book"):
        wanted += project["optional-dependencies"][extra]
    pins = lock_pins()
    for text in wanted:
        req = Requirement(text)
        if req.marker and not req.marker.evaluate():
            continue
        name = _name(req.name)
        assert name in pins, f"{req.name} is in pyproject.toml but not in requirements.lock"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"requirements.lock pins {req.name}=={pins[name]}, outside pyproject's {req.specifier}"


def test_makefile_installs_from_the_lock():
    """Fails if the Makefile goes back to installing loose ranges for the book and the tests."""
    makefile = (ROOT / "Makefile").read_text()
    assert "-r $(LOCK)" in makefile and "LOCK   := requirements.lock" in makefile
    assert "--no-deps -e ." in makefile
