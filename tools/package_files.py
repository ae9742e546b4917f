"""Print the files of the heaplens Python package that meson installs, one a
line, relative to the package directory given as the only argument: every .py
module, the type stub of the C binding (.pyi) and the py.typed marker (PEP
561), and the report pages' .css and .js, in every subpackage. Bytecode
caches, editor files and build leftovers are not listed, so a new module
needs no edit to meson.build and nothing stray reaches the wheel."""

import os
import sys

SHIPPED = (".py", ".pyi", ".css", ".js", "py.typed")


def package_files(root):
    found = []
    for directory, subdirs, names in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith((".", "__pycache__")))
        for name in sorted(names):
            if name.endswith(SHIPPED) and not name.startswith("."):
                found.append(os.path.relpath(os.path.join(directory, name), root))
    return found


if __name__ == "__main__":
    print("\n".join(package_files(sys.argv[1])))
