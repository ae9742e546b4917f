"""The workloads the overhead benchmark times, by name.

A workload is prepared (files located, arguments built) before the tracer
starts; preparing returns a function that runs the workload once and returns
the wall time, in seconds, of the part it measures.
"""

from . import alloc_heavy, deep_stack, numpy_arrays, pyperformance_cases, raw_without_gil

# The pure-Python workloads, which need nothing but the standard library.
BUILTIN = {
    "alloc_heavy": alloc_heavy.run,
    "deep_stack": deep_stack.run,
    "raw_without_gil": raw_without_gil.run,
}
# Workloads that need a package: name -> (run, package).
WITH_PACKAGE = {
    "numpy_arrays": (numpy_arrays.run, "numpy"),
}
NAMES = (*BUILTIN, *WITH_PACKAGE, *pyperformance_cases.LOOPS)


def unavailable_reason(name):
    """Return why workload `name` cannot run in this interpreter, or None if it can."""
    if name in BUILTIN:
        return None
    if name in WITH_PACKAGE:
        package = WITH_PACKAGE[name][1]
        try:
            __import__(package)
        except ImportError as exc:
            return f"{package} not importable: {exc}"
        return None
    try:
        script = pyperformance_cases.script_path(name)
    except ImportError as exc:
        return f"pyperformance not importable: {exc}"
    if not script.is_file():
        return f"pyperformance has no {script}"
    return None


def prepare(name, scratch_dir):
    """Return a function that runs workload `name` once and returns its seconds.

    scratch_dir is a directory the workload may write to. Raises KeyError for an
    unknown name and ImportError when a case's packages are not installed.
    """
    if name in BUILTIN:
        return BUILTIN[name]
    if name in WITH_PACKAGE:
        return WITH_PACKAGE[name][0]
    if name not in pyperformance_cases.LOOPS:
        raise KeyError(name)
    return pyperformance_cases.prepare(name, scratch_dir)
