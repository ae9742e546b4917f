#!/usr/bin/env bash
# Fuzz the capture reader with libFuzzer (+ASan+UBSan) for N seconds (default 30).
# Needs clang; installs Debian's clang when missing and running as root.
# meson builds the target (-Dlibfuzzer=true in build/fuzz), from the same
# list of core sources as everything else: MESON names the meson to run
# (the Makefile passes its venv's). New inputs go to a scratch corpus; the
# committed seeds are only read.
set -euo pipefail
seconds=${1:-30}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
if ! "$root/tools/apt_ensure.sh" clang clang; then
  echo "fuzz: clang not found and cannot install it; the standalone driver ran in the C tests"
  exit 0
fi
out=$root/build/fuzz
mkdir -p "$out/corpus"
cp -n "$here"/corpus/* "$out/corpus/" 2>/dev/null || true
meson=${MESON:-meson}
if [ -f "$out/build/build.ninja" ]; then
  "$meson" setup "$out/build" "$root" --reconfigure >/dev/null
else
  CC=clang "$meson" setup "$out/build" "$root" -Dlibfuzzer=true --buildtype=debugoptimized \
    -Doptimization=1 >/dev/null
fi
"$meson" compile -C "$out/build" fuzz_capture_libfuzzer >/dev/null
cp "$out/build/fuzz_capture_libfuzzer" "$out/fuzz_capture"
echo "fuzz: libFuzzer on the capture reader for ${seconds}s"
"$out/fuzz_capture" -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="$out/" \
  "$out/corpus" 2>"$out/fuzz.log" || { tail -40 "$out/fuzz.log"; exit 1; }
grep -E "stat::number_of_executed_units|Done" "$out/fuzz.log" | tail -2
echo "fuzz_capture: 1 passed, 0 failed"
