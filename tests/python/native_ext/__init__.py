"""hl_native_ext, a CPython extension module the tests build with meson, for
what a library loaded with ctypes does not show: an extension module imported
by the import system, called with the GIL held, that allocates with libc
itself (hl_native_ext.c says what each function does).

build() compiles it against the running interpreter (meson setup and meson
compile, `-Dpython=sys.executable`) and returns the directory that holds the
module: put it on sys.path and `import hl_native_ext`. meson and ninja are
looked for next to sys.executable (the venv's bin, where `make install` puts
them: BUILD_DEPS), then on PATH; without them build() raises RuntimeError,
and so do the tests that need it: they fail, they are not skipped.

Modules are cached under build/native_ext/, one directory per interpreter
ABI and source content; each is built in a temporary directory beside the
cache and moved into place by one rename, so pytest-xdist workers and runs on
several interpreters at once neither rebuild a module that is there nor load
a half-written one. Nothing is written into the source tree."""

import hashlib
import os
import pathlib
import shutil
import subprocess
import sys
import sysconfig
import tempfile

HERE = pathlib.Path(__file__).resolve().parent
CACHE = HERE.parents[2] / "build" / "native_ext"
SOURCES = ("meson.build", "meson.options", "hl_native_ext.c")
NAME = "hl_native_ext"


def _tool(name):
    """The path of meson or ninja: the one beside this interpreter (a venv's
    bin; sys.executable is not resolved, a venv's python is a link), else the
    one on PATH. Raises RuntimeError when there is none."""
    beside = pathlib.Path(sys.executable).parent / name
    if os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"{name} is needed to build the test extension {NAME} and is neither beside "
            f"{sys.executable} nor on PATH: `make install` installs it into the venv "
            f"(BUILD_DEPS in the Makefile)"
        )
    return found


def _key():
    """The cache directory's name: the interpreter's cache tag, then a hash of
    the sources and of the ABI the module is built for."""
    digest = hashlib.sha1()
    for name in SOURCES:
        digest.update((HERE / name).read_bytes())
    digest.update(str(sysconfig.get_config_var("SOABI")).encode())
    digest.update(sys.version.encode())
    return f"{sys.implementation.cache_tag}-{digest.hexdigest()[:12]}"


def _run(command, env, what):
    result = subprocess.run(command, capture_output=True, text=True, env=env)
    if result.returncode != 0:
        raise RuntimeError(
            f"{what} of the test extension {NAME} failed ({' '.join(command)}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}"
        )


def build():
    """Build hl_native_ext for this interpreter (once per ABI and source) and
    return the directory that holds it. Raises RuntimeError, with meson's
    output, when meson or ninja is missing or the build fails."""
    target = CACHE / _key()
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    if (target / f"{NAME}{suffix}").exists():
        return str(target)
    meson = _tool("meson")
    ninja = _tool("ninja")
    CACHE.mkdir(parents=True, exist_ok=True)
    # The build's own environment: meson finds ninja on PATH, and runs the
    # compiler without the sanitizer runtime the ASan run preloads.
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env["PATH"] = os.pathsep.join([os.path.dirname(ninja), env.get("PATH", "")])
    env["NINJA"] = ninja
    work = pathlib.Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=CACHE))
    try:
        _run(
            [
                meson,
                "setup",
                str(work / "build"),
                str(HERE),
                f"-Dpython={sys.executable}",
                "--buildtype=debugoptimized",
            ],
            env,
            "meson setup",
        )
        _run([meson, "compile", "-C", str(work / "build")], env, "meson compile")
        built = work / "build" / f"{NAME}{suffix}"
        if not built.exists():
            raise RuntimeError(f"meson built no {built.name} in {work / 'build'}")
        out = work / "out"
        out.mkdir()
        shutil.copy2(built, out / built.name)
        try:
            os.rename(out, target)
        except OSError:
            # Another worker or interpreter got there first: use its module.
            if not (target / built.name).exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return str(target)
