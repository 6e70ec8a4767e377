#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds,
# and runs every test with ctest (which starts its own throwaway PostgreSQL
# and makes test certificates as fixtures).
#   ./tests/run.sh            everything
#   ./tests/run.sh -R Store   extra arguments go to ctest
# A skipped test fails the run: skipped is not passed.
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
cd build
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
ctest --output-on-failure -j"$jobs" --timeout 900 "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -q "tests did not run" "$log"; then
  echo "tests/run.sh: some tests were skipped or not run; failing" >&2
  exit 1
fi
exit "$status"
