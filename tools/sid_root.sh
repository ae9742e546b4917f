#!/usr/bin/env bash
# sid_root.sh: the Debian sid root that runs Python 3.14 and 3.15 for `make
# test` and `make demo` (tools/sid_run.sh runs a command in it). Prints the
# root's path, making it first when it does not exist yet.
#
# It is made once and kept outside the clone, so later runs and other clones
# reuse it: debootstrap writes ROOT.tmp, then one rename makes it ROOT. A root
# at ROOT is therefore always whole; a run cut short leaves only ROOT.tmp,
# which the next run removes. Runs that would make it at the same time wait
# for each other on ROOT.lock. A root that exists is never changed here (other
# runs may be using it): one that lacks a package is reported, not repaired.
#
# When the root is not there and cannot be made (not root, no debootstrap, no
# mirror), prints the reason instead of the path and exits 1.
#
#   HEAPLENS_SID_ROOT    where the root lives, outside the clone; default
#                        /var/cache/heaplens/sid-root (about 45 s and 750 MB)
#   HEAPLENS_SID_MIRROR  the Debian mirror; default http://deb.debian.org/debian
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd -P)
clone=$(cd "$here/.." && pwd -P)
root=${HEAPLENS_SID_ROOT:-/var/cache/heaplens/sid-root}
mirror=${HEAPLENS_SID_MIRROR:-http://deb.debian.org/debian}
packages="python3.14-dev python3.15-dev python3.14-venv python3.15-venv libpython3.14-testsuite libpython3.15-testsuite gcc make git ca-certificates"

fail() {
  echo "$*"
  exit 1
}

case $root in
  /*) ;;
  *) root=$PWD/$root ;;
esac
root=${root%/}
case $root/ in
  "$clone"/*) fail "HEAPLENS_SID_ROOT=$root is inside the clone; keep it outside ($clone is bind-mounted into it)" ;;
esac

# The packages of $packages that dpkg in root $1 does not list as installed.
missing_packages() {
  local installed
  installed=$(awk 'BEGIN { RS = "" }
    /(^|\n)Status: install ok installed(\n|$)/ && match($0, /(^|\n)Package: [^\n]+/) {
      name = substr($0, RSTART, RLENGTH); sub(/^\n?Package: /, "", name); print name
    }' "$1/var/lib/dpkg/status" 2>/dev/null)
  local p
  for p in $packages; do
    grep -qx -- "$p" <<<"$installed" || printf '%s ' "$p"
  done
}

# An existing root is used as it is, if it has what the tests need.
check_existing() {
  local missing
  missing=$(missing_packages "$root")
  [ -z "$missing" ] || fail "the sid root at $root lacks ${missing% }; remove it" \
    "(rm -rf --one-file-system $root, when no run uses it) and it is made again on next use"
  echo "$root"
  exit 0
}

# An empty directory counts as no root (the rename below replaces it).
has_root() { [ -d "$root" ] && [ -n "$(ls -A "$root" 2>/dev/null)" ]; }

has_root && check_existing

# Making it needs root (debootstrap, chroot, mounts) and debootstrap.
[ "$(id -u)" = 0 ] || fail "no sid root at $root, and only root can make one (debootstrap, chroot)"
"$here/apt_ensure.sh" debootstrap debootstrap ||
  fail "no sid root at $root, and debootstrap is missing and could not be installed"
mkdir -p "$(dirname "$root")" || fail "cannot create $(dirname "$root")"

exec 9>"$root.lock" || fail "cannot open $root.lock"
flock -n 9 || {
  echo "sid_root.sh: waiting for another run that is making $root" >&2
  flock 9
}
has_root && check_existing # another run made it while we waited

tmp=$root.tmp
log=$root.log

# Remove what an earlier run cut short left: first anything still mounted
# under it (deepest first), so that rm stays on this file system.
remove_tmp() {
  [ -e "$tmp" ] || return 0
  local mounts m
  mounts=$(awk -v p="$tmp/" 'substr($5, 1, length(p)) == p { print $5 }' /proc/self/mountinfo | sort -r)
  for m in $mounts; do
    umount -l "$m" || return 1
  done
  rm -rf --one-file-system "$tmp"
}
remove_tmp || fail "cannot remove the unfinished $tmp; remove it by hand"

echo "sid_root.sh: making the Debian sid root at $root (once; about a minute and 750 MB; log in $log)" >&2
start=$SECONDS
# In a mount namespace of its own, so that a debootstrap that is killed cannot
# leave its /proc and /sys mounts behind; in the background, so that a signal
# stops it at once (its children keep ROOT.lock, on fd 9, until they end).
unshare --mount --propagation private \
  debootstrap --variant=minbase --include="${packages// /,}" sid "$tmp" "$mirror" >"$log" 2>&1 &
debootstrap_pid=$!
trap 'kill "$debootstrap_pid" 2>/dev/null; wait "$debootstrap_pid"; remove_tmp' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
if ! wait "$debootstrap_pid"; then
  tail -n 15 "$log" >&2
  fail "no sid root at $root: debootstrap failed (log in $log)"
fi
rm -f "$tmp"/var/cache/apt/archives/*.deb # about 150 MB that no later step reads
missing=$(missing_packages "$tmp")
[ -z "$missing" ] || fail "no sid root at $root: debootstrap did not install ${missing% } (log in $log)"
mv -T "$tmp" "$root" || fail "cannot rename $tmp to $root"
trap - EXIT
echo "sid_root.sh: made $root in $((SECONDS - start)) s" >&2
echo "$root"
