"""The version is written once, in project() at the top of meson.build: the
installed distribution, heaplens.__version__ and `heaplens --version` all
read it from there, and reading heaplens.__version__ loads one small module."""

import importlib.metadata
import os
import re
import subprocess
import sys

import heaplens

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _meson_version():
    with open(os.path.join(ROOT, "meson.build"), encoding="utf-8") as source:
        match = re.search(r"project\('heaplens'.*?version\s*:\s*'([^']+)'", source.read(), re.S)
    assert match is not None
    return match.group(1)


def test_one_version_everywhere():
    version = _meson_version()
    assert heaplens.__version__ == version
    assert importlib.metadata.version("heaplens") == version
    with open(os.path.join(ROOT, "pyproject.toml"), encoding="utf-8") as source:
        pyproject = source.read()
    assert 'dynamic = ["version"]' in pyproject
    assert not re.search(r"^version\s*=", pyproject, re.M)


def test_version_option_prints_it():
    result = subprocess.run(
        [sys.executable, "-m", "heaplens", "--version"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"heaplens {_meson_version()}\n"


def test_reading_the_version_loads_one_small_module():
    code = (
        "import heaplens, sys; before = set(sys.modules); heaplens.__version__;"
        " print(sorted(set(sys.modules) - before))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "['heaplens._version']"
