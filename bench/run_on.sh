#!/usr/bin/env bash
# run_on.sh 3.X|PYTHON [run.py ARGS...]: the benchmark on another interpreter.
#
# Finds the interpreter (tools/find_python.sh: on PATH, pyenv's, or the Debian
# sid root's python3.14 and python3.15, run through tools/sid_run.sh), makes
# or updates a virtual environment of the benchmark's own for it, installs
# bench/requirements.txt there (it leaves out what does not install on that
# version), builds heaplens from this clone into it, and runs bench/run.py
# with ARGS in it. When heaplens does not build (a CPython it has not been
# ported to yet), it says so, removes any older build from the environment,
# and runs the rest: the untraced runs, tracemalloc, memray and the anchors of
# the heap-graph rows, each heaplens row skipped with the reason.
#
#   bench/run_on.sh 3.14 --only deep_stack,alloc_heavy --repeat 5 --tracers none,tm1,hl1,memray
#   bench/run_on.sh 3.15 --only heapgraph --quick
#
#   HEAPLENS_BENCH_VENV  the environment; default /var/cache/heaplens/bench-venv-3.X
#                        (inside the sid root for its interpreters: the
#                        clone's .venv* belong to make)
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
clone=$(cd "$here/.." && pwd -P)

if [ $# -lt 1 ]; then
  echo "usage: bench/run_on.sh 3.X|PYTHON [run.py ARGS...]" >&2
  exit 2
fi
if ! found=$("$clone/tools/find_python.sh" "$1"); then
  echo "run_on.sh: $found" >&2
  exit 1
fi
shift
read -r version where python <<<"$found"
venv=${HEAPLENS_BENCH_VENV:-/var/cache/heaplens/bench-venv-$version}
case $where in
  host) run=() ;;
  sid) run=("$clone/tools/sid_run.sh") ;;
  *)
    echo "run_on.sh: tools/find_python.sh said '$found'" >&2
    exit 1
    ;;
esac
say() { echo "run_on.sh: $*" >&2; }
# Run a command of the environment's bin with that bin first on PATH, as
# activation does (meson-python looks for meson there), here or in the root.
in_venv() {
  # shellcheck disable=SC2016 # expanded by the inner shell, in the root's environment
  "${run[@]}" /bin/sh -c 'v=$1; shift; PATH="$v/bin:$PATH" exec "$@"' in_venv "$venv" "$@"
}

cd "$clone" || exit 1
if ! "${run[@]}" test -x "$venv/bin/python"; then
  say "making $venv for Python $version ($where)"
  "${run[@]}" "$python" -m venv "$venv" || exit 1
fi
pip=(in_venv python -m pip install -q --disable-pip-version-check)
"${pip[@]}" meson-python meson ninja || exit 1
"${pip[@]}" -r bench/requirements.txt || exit 1

log=$(mktemp "${TMPDIR:-/tmp}/run_on-build.XXXXXX")
if "${pip[@]}" --no-build-isolation --no-deps --force-reinstall "$clone" >"$log" 2>&1; then
  say "heaplens built for Python $version"
  rm -f "$log"
else
  grep -m 5 -E 'error:|Error:' "$log" >&2
  say "heaplens does not build for Python $version (log: $log); running without it"
  in_venv python -m pip uninstall -q -y heaplens >/dev/null 2>&1
fi

in_venv python bench/run.py "$@"
