#!/usr/bin/env bash
# Sets everything up (idempotent), then runs the demo on the embedded simulator.
# Setup's output goes to build/setup.log; its steps show on one line, its log only when it fails.
# Extra arguments go to `embodied-memory demo` (see `embodied-memory demo --help`).
set -Eeuo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
LOG="$ROOT/build/setup.log"
mkdir -p "$ROOT/build"
status=0
"$ROOT/scripts/setup.sh" 2>&1 | tee "$LOG" | while IFS= read -r line; do
  case "$line" in "==> "*) printf '\r\033[Ksetup %s' "${line#==> }" ;; esac
done || status=$?
if [ "$status" -ne 0 ]; then
  printf '\n\nsetup failed; the end of its log (%s):\n' "$LOG" >&2
  tail -n 25 "$LOG" >&2
  exit "$status"
fi
printf '\r\033[Ksetup: everything in place (log: build/setup.log)\n'
source "$ROOT/scripts/env.sh"
cd "$ROOT"
exec embodied-memory demo "$@"
