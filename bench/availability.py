"""Why a package the benchmark compares against cannot be used here, in one line.

The suite runs on every interpreter heaplens supports, and not every package
installs on every one of them (bench/requirements.txt says which is left out
where), nor does heaplens build on a new CPython before its port lands. What
is missing is skipped, with the line this module writes, never a failure.
"""

import sys

PYTHON = "Python {}.{}".format(*sys.version_info[:2])

# What to do about a package that is not installed at all.
INSTALL_HINTS = {"heaplens": "bench/run_on.sh builds it"}
DEFAULT_HINT = "see bench/requirements.txt"


def import_failure(package, module, exc):
    """Return the reason `package` (whose top-level module is `module`) is unusable.

    A package that is not installed says so with the interpreter's version and
    what to do; one that is installed but fails to import gives the error.
    """
    if isinstance(exc, ModuleNotFoundError) and exc.name == module:
        hint = INSTALL_HINTS.get(package, DEFAULT_HINT)
        return f"{package} is not installed for {PYTHON}; {hint}"
    return f"{package} not importable: {exc}"
