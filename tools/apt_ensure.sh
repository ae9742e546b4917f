#!/usr/bin/env bash
# apt_ensure.sh COMMAND PACKAGE: make sure COMMAND exists, installing Debian's
# PACKAGE when it is missing and we may (root with apt-get). Exit 0 when the
# command is there afterwards, 1 when it is not (the caller says what it skips).
set -u
command -v "$1" >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing $2 (for $1) with apt-get" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2") >/dev/null 2>&1
fi
command -v "$1" >/dev/null 2>&1
