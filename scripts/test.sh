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
# Tests start what they need and stop it, leaving nothing behind: /tmp is compared at the end.
tmp_before=$(ls -A /tmp | sort)
# One file at a time: integration tests boot VMs and start their own dockerd on 2 cores.
status=0
node --test --test-concurrency=1 --test-reporter=spec "$@" "${tests[@]}" || status=$?
# The runtime's Docker tests again with every VM restored from a VM template: templating must
# change nothing a container sees (README: VM templates).
echo "test: the runtime's Docker tests with VMRT_VM_TEMPLATE=on"
templates=$(mktemp -d /run/vmrt-test-templates.XXXXXX)
VMRT_TEMPLATE_DIR=$templates VMRT_VM_TEMPLATE=on node --test --test-concurrency=1 --test-reporter=spec "$@" \
  out/test/integration/docker-runtime.test.js out/test/integration/docker-network.test.js \
  out/test/integration/docker-pods.test.js || status=$?
# The templates the tests made end with their keepers (the processes that hold their RAM).
VMRT_TEMPLATE_DIR=$templates runtime/bin/vmrt template rm >/dev/null || status=$?
rm -rf "$templates"
runtime/bin/vmrt template rm >/dev/null || status=$?
left=$(comm -13 <(echo "$tmp_before") <(ls -A /tmp | sort))
if [ -n "$left" ]; then
  echo "test: the tests left these in /tmp:" >&2
  sed 's|^|  /tmp/|' <<<"$left" >&2
  status=1
fi
exit "$status"
