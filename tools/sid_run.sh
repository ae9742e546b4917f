#!/usr/bin/env bash
# sid_run.sh COMMAND [ARG...]: run COMMAND in the Debian sid root
# (tools/sid_root.sh makes it on first use), as root, with the clone as its
# working directory, and exit with COMMAND's status. This is how `make test`
# and `make demo PYTHON=python3.14` run Python 3.14 and 3.15 on a machine that
# lacks them.
#
# The clone is bind-mounted into the root at its own absolute path, so a venv
# made in there (.venv-3.14) lives in the clone and its paths hold inside the
# root. /proc and /dev are bind-mounted too, and this machine's CA bundle and
# resolv.conf are copied in, so pip reaches PyPI as it does here.
#
# The mounts are made in a mount namespace of this run's own: another run
# using the same root at the same time sees none of them and keeps its own,
# nothing leaks to the rest of the machine, and they are unmounted when
# COMMAND ends (trap), or by the kernel with the namespace if this is killed.
#
# COMMAND sees a short environment: PATH (the root's, after the entries of
# this PATH that lie in the clone), HOME, the CA bundle for pip and ssl, those
# of the variables listed below (keep) that are set here, and every HEAPLENS_*
# (the host's own paths, such as PIP_FIND_LINKS or pyenv's shims, would mean
# nothing in there).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
clone=$(cd "$here/.." && pwd -P)

if [ "${1:-}" != --in-namespace ]; then
  if [ $# = 0 ]; then
    echo "usage: tools/sid_run.sh COMMAND [ARG...]" >&2
    exit 2
  fi
  if [ "$(id -u)" != 0 ]; then
    echo "sid_run.sh: only root can run a command in the sid root (chroot, mounts)" >&2
    exit 1
  fi
  if ! root=$("$here/sid_root.sh"); then
    echo "sid_run.sh: $root" >&2
    exit 1
  fi

  # Copy a file of this machine's into the root, replacing the old one in one
  # rename: another run may be reading it, and a symlink there must not be
  # followed out of the root.
  copy_in() { # PATH
    local dest=$root$1
    [ -r "$1" ] || return 0
    if [ ! -L "$dest" ] && cmp -s "$1" "$dest"; then return 0; fi
    cp -L "$1" "$dest.sid_run.$$" && mv -fT "$dest.sid_run.$$" "$dest"
  }
  copy_in /etc/resolv.conf || exit 1
  copy_in /etc/ssl/certs/ca-certificates.crt || exit 1

  exec unshare --mount --propagation private "$here/sid_run.sh" --in-namespace "$root" "$@"
fi

# From here on, in this run's own mount namespace.
root=$2
shift 2

mounted=()
# shellcheck disable=SC2317 # run by the trap
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
    umount -R "${mounted[i]}" 2>/dev/null || umount -R -l "${mounted[i]}"
  done
}
trap unmount_all EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mount_in() { # SOURCE TARGET [OPTION]: bind SOURCE at TARGET, remembered for unmount_all
  mount "${3:---bind}" "$1" "$2" || exit 1
  mounted+=("$2")
}
mount_in /proc "$root/proc"
mount_in /dev "$root/dev" --rbind # with /dev/pts and /dev/shm (multiprocessing)
mkdir -p "$root$clone" || exit 1
mount_in "$clone" "$root$clone"

bundle=/etc/ssl/certs/ca-certificates.crt
# PATH: the root's own, after the entries of this PATH that lie in the clone
# (a venv's bin, as the Makefile puts first for a build), valid in there too.
path=
IFS=: read -ra entries <<<"$PATH"
for entry in "${entries[@]}"; do
  case $entry in
    "$clone"/*) path=$path$entry: ;;
  esac
done
env=(
  "PATH=${path}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  HOME=/root
  "PIP_CERT=$bundle" "SSL_CERT_FILE=$bundle" "REQUESTS_CA_BUNDLE=$bundle"
)
keep=(
  CI TERM LANG LC_ALL FORCE_COLOR NO_COLOR
  PYTHONUNBUFFERED PYTHONDONTWRITEBYTECODE PYTHONHASHSEED PYTHONFAULTHANDLER PYTEST_ADDOPTS
  PIP_DEFAULT_TIMEOUT PIP_DISABLE_PIP_VERSION_CHECK PIP_INDEX_URL PIP_RETRIES
  http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY
  ASAN_OPTIONS UBSAN_OPTIONS
)
for name in "${keep[@]}" $(compgen -e HEAPLENS_); do
  [ -n "${!name+set}" ] && env+=("$name=${!name}")
done

status=0
# shellcheck disable=SC2016 # $1 and $@ are the inner shell's
chroot "$root" /usr/bin/env -i "${env[@]}" \
  /bin/sh -c 'cd "$1" && shift && exec "$@"' sid_run "$clone" "$@" || status=$?
exit $status
