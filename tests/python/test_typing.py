"""The typed API as it is installed: the py.typed marker and the stub of the
C binding ship with the package, and tests/typing/public_api.py (which
`make lint` checks with mypy --strict) runs as written."""

import os
import subprocess
import sys

import heaplens

PUBLIC_API = os.path.join(os.path.dirname(__file__), "..", "typing", "public_api.py")


def test_package_ships_its_type_information():
    package = os.path.dirname(heaplens.__file__)
    assert os.path.isfile(os.path.join(package, "py.typed"))
    assert os.path.isfile(os.path.join(package, "_core.pyi"))


def test_the_typed_example_runs():
    done = subprocess.run([sys.executable, PUBLIC_API], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "public_api: ok" in done.stderr
