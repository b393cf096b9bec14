#!/usr/bin/env bash
# Starts the development containers on this machine.
set -euo pipefail

NAME=${NAME:-dev}

# The audio container needs the host's sound card.
docker run -d --name "$NAME-audio" \
  --device /dev/snd \
  --net=host \
  registry.example.com/audio:1.2

# Build workers: capped CPU, extra capabilities for the sandbox.
docker run --rm -it \
  --cpus=1.5 \
  --cap-add SYS_ADMIN \
  --sysctl net.ipv4.ip_forward=1 \
  --link "$NAME-audio:audio" \
  -v "$PWD:/src" \
  registry.example.com/builder:3 make -C /src --net=host

# GPU passthrough the VM way is fine:
docker run --rm --device /dev/vfio/12 registry.example.com/cuda-test:1

echo "docker run --privileged is not run here, only printed"
sudo docker run --privileged --pid=host registry.example.com/debug:latest
