#!/usr/bin/env bash
# find_python.sh 3.X | PYTHON: where an interpreter runs, for the Makefile.
# Prints one line, VERSION WHERE COMMAND, where WHERE is "host" (COMMAND runs
# on this machine) or "sid" (COMMAND runs in the Debian sid root, through
# tools/sid_run.sh); or, exit 1, the reason there is none.
#
#   3.14            python3.14 on PATH, else pyenv's 3.14, else the sid root's
#                   /usr/bin/python3.14 (tools/sid_root.sh makes the root on
#                   first use, and says so on stderr)
#   python3.14, /path/to/python
#                   that command when it runs here, else the sid root's
#                   python3.X of the same name
#
#   $ tools/find_python.sh 3.12        ->  3.12 host /root/.pyenv/versions/3.12.1/bin/python3
#   $ tools/find_python.sh python3.14  ->  3.14 sid python3.14
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)

if [ $# != 1 ]; then
  echo "usage: tools/find_python.sh 3.X | PYTHON" >&2
  exit 2
fi

# The X.Y version of interpreter $1 when it runs here (a pyenv shim for a
# version not selected does not), else nothing and status 1.
version_of() {
  "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null </dev/null
}

# "VERSION sid pythonVERSION" when the sid root (made now if need be) has it.
in_sid_root() {
  local root
  if ! root=$("$here/sid_root.sh"); then
    echo "$root"
    return 1
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "only root can run a command in the sid root at $root (chroot, mounts)"
    return 1
  fi
  if [ ! -x "$root/usr/bin/python$1" ]; then
    echo "the sid root at $root has no /usr/bin/python$1"
    return 1
  fi
  echo "$1 sid python$1"
}

case $1 in
  [0-9]*.[0-9]*)
    want=$1
    for exe in "python$want" "$(pyenv prefix "$want" 2>/dev/null)/bin/python3"; do
      [ "$exe" = /bin/python3 ] && continue # no pyenv, or no such version in it
      if [ "$(version_of "$exe")" = "$want" ]; then
        echo "$want host $("$exe" -c 'import sys; print(sys.executable)')"
        exit 0
      fi
    done
    if ! found=$(in_sid_root "$want"); then
      echo "no python$want here or in pyenv, and $found"
      exit 1
    fi
    echo "$found"
    ;;
  *)
    if version=$(version_of "$1") && [ -n "$version" ]; then
      echo "$version host $1"
      exit 0
    fi
    name=$(basename -- "$1")
    case $name in
      python[0-9]*.[0-9]*) ;;
      *)
        echo "$1 does not run here (and only a python3.X is looked for in the sid root)"
        exit 1
        ;;
    esac
    if ! found=$(in_sid_root "${name#python}"); then
      echo "$1 does not run here, and $found"
      exit 1
    fi
    echo "$found"
    ;;
esac
