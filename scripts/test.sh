#!/usr/bin/env bash
# Sets up everything (scripts/setup.sh) and runs every test: unit, integration
# (real QEMU guests, a real dockerd started by the tests) and end-to-end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mapfile -t tests < <(find out/test -name '*.test.js' | sort)
if [ ${#tests[@]} -eq 0 ]; then
  echo "test: no test files found under out/test" >&2
  exit 1
fi
# One file at a time: integration tests boot VMs and start their own dockerd on 2 cores.
exec node --test --test-concurrency=1 --test-reporter=spec "$@" "${tests[@]}"
