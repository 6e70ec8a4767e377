#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what is missing, builds,
# and runs every test with ctest (which starts its own throwaway PostgreSQL).
#   ./tests/run.sh            everything
#   ./tests/run.sh -R Store   extra arguments go to ctest
set -euo pipefail
cd "$(dirname "$0")/.."
./deploy/install-deps.sh
jobs=$(nproc)
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$jobs"
cd build
ctest --output-on-failure -j"$jobs" --timeout 900 "$@"
