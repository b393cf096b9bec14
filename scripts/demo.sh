#!/usr/bin/env bash
# The main job on the bundled examples: set up, lint every example for what a VM
# runtime treats differently, then run a container in a QEMU VM and show its output.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh >/dev/null

echo "== vmrt-lint examples/ (profile: vmrt)"
node out/server/src/cli/main.js --no-fail examples/

echo
echo "== vmrt run: examples/hello-vm in its own VM"
work=$(mktemp -d /tmp/vmrt-demo.XXXXXX)
trap 'runtime/bin/vmrt --root "$work/state" delete --force hello-vm >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
cp -r examples/hello-vm "$work/bundle"
bash scripts/make-busybox-rootfs.sh "$work/bundle/rootfs"
runtime/bin/vmrt --root "$work/state" run --bundle "$work/bundle" hello-vm
