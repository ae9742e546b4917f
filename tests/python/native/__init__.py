"""Small C libraries the tests build and call through ctypes, for what Python
code cannot do: run on a pthread that has no Python thread state, call the
allocator with the GIL released, re-enter the allocator from C.

build("raw_threads") compiles tests/python/native/raw_threads.c against the
running interpreter's headers into a shared library and returns its path. The
library is not an extension module: it is loaded with ctypes.CDLL, and its
calls to the C API (PyMem_RawMalloc, PyGILState_Ensure ...) resolve against
the interpreter already in the process. ctypes.CDLL releases the GIL around
each call; ctypes.PyDLL keeps it.

Libraries are cached under build/native/, one directory per interpreter and
source content, and written by one rename, so pytest runs on several
interpreters at once neither rebuild nor read a half-written file."""

import hashlib
import os
import pathlib
import shlex
import subprocess
import sys
import sysconfig
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
CACHE = HERE.parents[2] / "build" / "native"


def _compiler():
    """The C compiler the interpreter was built with (its first word), or cc."""
    configured = sysconfig.get_config_var("CC") or "cc"
    words = shlex.split(configured)
    return words[0] if words else "cc"


def build(name):
    """Compile native/NAME.c (once per interpreter and source) and return the
    path of the shared library. Raises RuntimeError with the compiler's output
    when it does not compile."""
    source = HERE / f"{name}.c"
    text = source.read_bytes()
    tag = f"{sys.implementation.cache_tag}-{hashlib.sha1(text).hexdigest()[:12]}"
    target = CACHE / tag / f"{name}.so"
    if target.exists():
        return str(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    include = sysconfig.get_paths()["include"]
    fd, partial = tempfile.mkstemp(suffix=".so", dir=target.parent)
    os.close(fd)
    command = [
        _compiler(),
        "-shared",
        "-fPIC",
        "-O1",
        "-g",
        "-pthread",
        f"-I{include}",
        str(source),
        "-o",
        partial,
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        os.unlink(partial)
        raise RuntimeError(f"{shlex.join(command)} failed:\n{result.stderr}")
    os.replace(partial, target)
    return str(target)
